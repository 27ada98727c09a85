"""The synthetic landscape behind a product: land cover, clouds, shadows, texture and NO_DATA.

Everything is decided once, at 20 m (the resolution of ESA's scene classification), so that every
band and the SCL layer agree: a pixel that SCL calls water has water reflectance in all 12 bands.
Smooth random fields are drawn on coarse grids covering the *full* tile and interpolated down (cheap,
spatially coherent, no per-pixel Python); a cropped product is therefore the corner of the full one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2lake.sentinel2 import BANDS, TILE_PIXELS

#: Surface classes use SCL codes: 4 vegetation, 5 not vegetated (bare soil), 6 water, and 5 again
#: for built-up land (SCL has no urban class) with a brighter, flatter spectrum stored under code 12.
URBAN = 12
#: Typical surface reflectance per band (B01..B12 without B10, in the order of ``BANDS``).
SPECTRA: dict[int, tuple[float, ...]] = {
    4: (0.030, 0.040, 0.070, 0.040, 0.105, 0.250, 0.300, 0.330, 0.350, 0.340, 0.180, 0.090),  # vegetation
    5: (0.090, 0.110, 0.150, 0.190, 0.220, 0.240, 0.260, 0.270, 0.285, 0.290, 0.330, 0.270),  # bare soil
    6: (0.060, 0.055, 0.045, 0.030, 0.022, 0.016, 0.013, 0.011, 0.010, 0.008, 0.005, 0.003),  # water
    URBAN: (0.120, 0.125, 0.135, 0.150, 0.165, 0.175, 0.185, 0.195, 0.200, 0.200, 0.230, 0.210),
    11: (0.700, 0.720, 0.710, 0.690, 0.680, 0.660, 0.640, 0.620, 0.600, 0.450, 0.080, 0.060),  # snow/ice
}
CLOUD_SPECTRUM = (0.460, 0.470, 0.480, 0.490, 0.500, 0.510, 0.515, 0.520, 0.520, 0.420, 0.360, 0.260)
#: Relative within-class variation driven by the texture field (fields and crops vary, water hardly).
TEXTURE_AMPLITUDE = {4: 0.30, 5: 0.20, 6: 0.10, URBAN: 0.25, 11: 0.05}
SHADOW_FACTOR = 0.35
#: Cloud opacity thresholds: SCL 10 (thin cirrus), 8 (medium probability), 9 (high probability).
CIRRUS, CLOUD_MEDIUM, CLOUD_HIGH = 0.15, 0.40, 0.70
#: Orbit-edge swaths cross the tile slanted by about 12° (the ground track's inclination).
SWATH_SLOPE = math.tan(math.radians(12))
BAND_INDEX = {band.name: i for i, band in enumerate(BANDS)}


@dataclass(frozen=True)
class Scene:
    """The 20 m landscape (arrays of ``rows20 x cols20``) plus the NO_DATA swath line."""

    pixels: int  # edge length at 10 m
    surface: np.ndarray  # uint8: 4, 5, 6, URBAN or 11
    texture: np.ndarray  # float16, zero mean, unit variance
    opacity: np.ndarray  # float16 cloud opacity in [0, 1]
    shadow: np.ndarray  # bool: in a cloud's shadow
    nodata_threshold: float  # metres: pixels with x + slope * y below it are outside the swath

    @property
    def size20(self) -> int:
        return self.pixels // 2

    def nodata_columns(self, resolution: int, row0: int, rows: int) -> np.ndarray:
        """Per row of ``row0 .. row0 + rows`` at a resolution, how many leading pixels are NO_DATA.

        The swath edge is a line in metres, tested at pixel centres, so it is where it should be at
        every resolution; one count per row is all a straight edge needs.
        """
        cols = self.pixels * 10 // resolution
        y = (np.arange(row0, row0 + rows, dtype=np.float64) + 0.5) * resolution
        # Centre x = (c + 0.5) * resolution is NO_DATA while x + slope * y < threshold.
        first_valid = np.ceil((self.nodata_threshold - SWATH_SLOPE * y) / resolution - 0.5)
        return np.clip(first_valid, 0, cols).astype(np.intp)

    def nodata(self, resolution: int, row0: int, rows: int) -> np.ndarray:
        """NO_DATA mask of rows ``row0 .. row0 + rows`` at a resolution."""
        cols = self.pixels * 10 // resolution
        return np.arange(cols)[None, :] < self.nodata_columns(resolution, row0, rows)[:, None]

    def scl(self, row0: int, rows: int) -> np.ndarray:
        """Scene classification (uint8 SCL codes) of 20 m rows ``row0 .. row0 + rows``."""
        window = slice(row0, row0 + rows)
        scl = self.surface[window].copy()
        scl[scl == URBAN] = 5
        opacity = self.opacity[window]
        scl[self.shadow[window]] = 3
        scl[opacity >= CIRRUS] = 10
        scl[opacity >= CLOUD_MEDIUM] = 8
        scl[opacity >= CLOUD_HIGH] = 9
        scl[self.nodata(20, row0, rows)] = 0
        return scl

    def reflectance(self, band_index: int, row0: int, rows: int) -> np.ndarray:
        """Surface reflectance (float32) of one band at 20 m, before sensor noise."""
        window = slice(row0, row0 + rows)
        surface = self.surface[window]
        lut = np.zeros(256, np.float32)
        amp = np.zeros(256, np.float32)
        for code, spectrum in SPECTRA.items():
            lut[code] = spectrum[band_index]
            amp[code] = TEXTURE_AMPLITUDE[code]
        # Multiplicative (log-normal) variation keeps reflectance positive however rough the texture.
        refl = lut[surface] * np.exp(amp[surface] * self.texture[window].astype(np.float32))
        refl[self.shadow[window]] *= SHADOW_FACTOR
        opacity = self.opacity[window].astype(np.float32)
        return refl + opacity * (CLOUD_SPECTRUM[band_index] - refl)

    def save(self, folder: Path) -> None:
        """Store the arrays for the band workers (memory-mapped there, shared through the page cache)."""
        for name in ("surface", "texture", "opacity", "shadow"):
            np.save(folder / f"{name}.npy", getattr(self, name))
        np.save(folder / "meta.npy", np.array([self.pixels, self.nodata_threshold]))

    @classmethod
    def load(cls, folder: Path) -> Scene:
        pixels, threshold = np.load(folder / "meta.npy")
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in ("surface", "texture", "opacity", "shadow")}
        return cls(pixels=int(pixels), nodata_threshold=float(threshold), **arrays)


def _bilinear(field: np.ndarray, factor: float, rows: int, cols: int) -> np.ndarray:
    """Bilinear upsampling by ``factor`` (pixel-centre aligned), separable so it costs O(output)."""

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) / factor - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    r_lo, r_hi, r_w = axis(rows, field.shape[0])
    c_lo, c_hi, c_w = axis(cols, field.shape[1])
    by_rows = field[r_lo] * (1 - r_w[:, None]) + field[r_hi] * r_w[:, None]
    return by_rows[:, c_lo] * (1 - c_w) + by_rows[:, c_hi] * c_w


def _fractal_field(
    rng: np.random.Generator, cells_m: tuple[int, ...], weights: tuple[float, ...], size60: int
) -> np.ndarray:
    """Sum of smooth random octaves on the 60 m grid, zero mean and about unit variance.

    Coarse values are drawn for the full tile, then only the crop is interpolated: a cropped product
    is the corner of the full one and costs in proportion to its size.
    """
    total = np.zeros((size60, size60), np.float32)
    for cell, weight in zip(cells_m, weights, strict=True):
        n = math.ceil(TILE_PIXELS[10] * 10 / cell) + 1
        coarse = rng.standard_normal((n, n), dtype=np.float32)
        total += weight * _bilinear(coarse, cell / 60, size60, size60)
    return total / math.sqrt(sum(w * w for w in weights))


def make_scene(pixels: int, seed: int, nodata_fraction: float, cloud_percent: float, latitude: float) -> Scene:
    """Draw the landscape of a ``pixels`` x ``pixels`` (10 m) crop from the tile origin."""
    rng = np.random.default_rng(seed)
    size60, size20 = pixels // 6, pixels // 2
    landform = _fractal_field(rng, (12000, 3000, 900, 240), (1.0, 0.6, 0.3, 0.12), size60)
    settlement = _fractal_field(rng, (4000, 1200, 300), (0.6, 1.0, 0.4), size60)
    clouds = _fractal_field(rng, (9000, 2400, 600, 180), (1.0, 0.7, 0.35, 0.15), size60)
    texture = _fractal_field(rng, (600, 180, 90), (1.0, 0.6, 0.4), size60)

    # Land cover on the 60 m grid by quantiles, so every crop has sensible proportions.
    q_water, q_bare, q_snow = np.quantile(landform, (0.08, 0.72, 0.995))
    q_urban = np.quantile(settlement, 0.93)
    surface60 = np.full(landform.shape, 4, np.uint8)
    surface60[landform > q_bare] = 5
    surface60[(settlement > q_urban) & (landform > q_water)] = URBAN
    surface60[landform < q_water] = 6
    if abs(latitude) > 60:  # high ground carries snow only where it plausibly can
        surface60[landform > q_snow] = 11

    # Clouds: the top `cloud_percent` of the cloud field is cloud (what ESA's cloud cover counts:
    # thin cirrus, medium and high probability); opacity rises from CIRRUS at the edge to 1 in the cores.
    share = min(max(cloud_percent, 0.0), 100.0) / 100
    if share > 0:
        edge = np.quantile(clouds, 1 - share)
        span = max(float(clouds.max() - edge), 1e-3)
        # Opaque (1) from 5/8 of the way up to the field's peak: clouds have solid cores.
        opacity60 = np.where(clouds >= edge, CIRRUS + (clouds - edge) / span * (1 - CIRRUS) * 1.6, 0)
        opacity60 = np.clip(opacity60, 0, 1)
    else:
        opacity60 = np.zeros_like(clouds)

    surface = np.repeat(np.repeat(surface60, 3, axis=0), 3, axis=1)[:size20, :size20]
    # Boundaries between classes follow the smooth field at 20 m instead of 60 m blocks.
    fine = _bilinear(landform, 3, size20, size20)
    surface[(surface == 4) & (fine > q_bare)] = 5
    surface[(surface == 5) & (fine <= q_bare)] = 4
    opacity = _bilinear(opacity60, 3, size20, size20).astype(np.float16)
    # At 10:30 the sun stands south-east (north-east for southern tiles): shadows fall about 1 km
    # to the north-west (south-west), in 20 m pixels.
    dy, dx = min(40, size20) * (-1 if latitude >= 0 else 1), -min(25, size20)
    thick = opacity >= CLOUD_MEDIUM
    shadow = np.zeros_like(thick)
    ys, xs = slice(max(dy, 0), size20 + min(dy, 0)), slice(max(dx, 0), size20 + min(dx, 0))
    yd, xd = slice(max(-dy, 0), size20 + min(-dy, 0)), slice(max(-dx, 0), size20 + min(-dx, 0))
    shadow[ys, xs] = thick[yd, xd]
    shadow &= opacity < CIRRUS

    # NO_DATA: everything west of a slanted swath edge, placed so it covers `nodata_fraction`.
    extent = pixels * 10.0
    grid = (np.arange(200) + 0.5) * extent / 200
    distance = grid[None, :] + SWATH_SLOPE * grid[:, None]
    fraction = min(max(nodata_fraction, 0.0), 1.0)
    if fraction == 0:
        threshold = -1.0  # every pixel centre has x + slope * y > 0
    elif fraction == 1:
        threshold = math.inf
    else:
        threshold = float(np.quantile(distance, fraction))
    return Scene(
        pixels=pixels,
        surface=surface,
        texture=_bilinear(texture, 3, size20, size20).astype(np.float16),
        opacity=opacity,
        shadow=shadow,
        nodata_threshold=threshold,
    )
