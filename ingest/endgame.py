"""The endgame of a band-level run: an idle connection takes over the rest of a slow file transfer.

At the end of a ``bands: patches`` run no file is left to start, and the last large files run on
whichever connections took them, some much slower than others, while the rest stand idle. Download
managers finish such a tail in "endgame" mode; here an idle connection (a helper holding its own slot
of its mirror, so the connection limits stay exact) takes the END of the transfer that would finish
last: that transfer's stop moves to byte ``k`` and the helper asks for ``Range: bytes=k-`` into a piece
file of its own, ``k`` chosen from the measured speeds so that both end together. A piece can be split
again by the next idle connection.

The connection that took the file (its taker) stays responsible for it: it waits for the pieces split
off its file, fetches again itself any piece whose helper failed (so retries, errors and benching stay
those of the taker's mirror), joins the pieces in order and checks the whole file once against
``manifest.safe``, as for a file fetched in one go.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Smallest piece worth a request of its own: below it, the request's latency eats the gain.
MIN_PIECE_BYTES = 32 * 1024
#: Request latency assumed when splitting (time to the first byte of the new piece).
SPLIT_LATENCY_SECONDS = 0.05
#: Weight of the newest transfer in a mirror's speed (exponential moving average).
SPEED_WEIGHT = 0.3


class Speeds:
    """Measured bytes/s of one connection per mirror, so a split gives the faster connection more bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rates: dict[str, float] = {}

    def record(self, mirror: str, size: int, seconds: float) -> None:
        if size < MIN_PIECE_BYTES or seconds <= 0:
            return  # a small file measures the request's latency, not the connection's speed
        with self._lock:
            old = self._rates.get(mirror)
            rate = size / seconds
            self._rates[mirror] = rate if old is None else old + SPEED_WEIGHT * (rate - old)

    def get(self, mirror: str) -> float | None:
        with self._lock:
            return self._rates.get(mirror)


@dataclass(eq=False)
class Piece:
    """Bytes ``[start, stop)`` of a file, fetched by one connection into ``path``. ``stop`` only moves
    closer, when a helper takes over the rest (:meth:`Transfers.split`); ``clip`` enforces it exactly."""

    start: int
    stop: int
    path: Path
    mirror: str
    position: int = -1  # offset of the next byte to arrive; -1 before the first one
    first: tuple[float, int] | None = None  # (time, offset) of the first byte: the rate is measured from there
    state: str = "running"  # running, done or failed
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clip(self, position: int, size: int) -> tuple[int, bool]:
        with self.lock:
            if self.first is None:
                self.first = (time.monotonic(), position)
            keep = max(0, min(size, self.stop - position))
            self.position = position + keep
            return keep, self.position < self.stop

    def seconds_left(self, now: float) -> tuple[float, float] | None:
        """(seconds to the stop at the measured rate, that rate), or None before anything is measured."""
        if self.first is None or self.state != "running":
            return None
        since, at = self.first
        if now <= since or self.position <= at:
            return None
        rate = (self.position - at) / (now - since)
        return (self.stop - self.position) / rate, rate


@dataclass(eq=False)
class Transfer:
    """One file on its way, in pieces; the first piece is its taker's ``.part`` file."""

    rel: str
    size: int
    pieces: list[Piece]
    closed: bool = False  # the taker failed or is joining: no more splits

    def split(self, helper: str, helper_rate: float | None, now: float) -> Piece | None:
        """A new piece for ``helper`` off the running piece that would end last, or None when no split pays."""
        if self.closed:
            return None
        timed = [(left, piece) for piece in self.pieces if (left := piece.seconds_left(now)) is not None]
        if not timed:
            return None
        (_, rate), piece = max(timed, key=lambda t: t[0][0])
        theirs = helper_rate or rate
        with piece.lock:
            remaining = piece.stop - piece.position
            # Both end together: x / rate = latency + (remaining - x) / theirs.
            keep = int((SPLIT_LATENCY_SECONDS + remaining / theirs) / (1 / rate + 1 / theirs))
            if remaining - keep < MIN_PIECE_BYTES:
                return None
            cut = piece.position + keep
            tail = Piece(cut, piece.stop, piece.path.with_name(f"{piece.path.name}.{cut}"), helper)
            piece.stop = cut
        self.pieces.append(tail)
        return tail

    def slowest(self, now: float) -> float:
        """Seconds until the last running piece ends (0 when none is measured)."""
        return max((left[0] for p in self.pieces if (left := p.seconds_left(now)) is not None), default=0.0)

    def running(self) -> bool:
        return any(p.state == "running" for p in self.pieces[1:])

    def join(self) -> None:
        """Append the pieces after the first to it, in order (each one complete), and remove them."""
        head, *rest = sorted(self.pieces, key=lambda p: p.start)
        with head.path.open("ab") as out:
            for piece in rest:
                with piece.path.open("rb") as data:
                    while block := data.read(1 << 20):
                        out.write(block)
                piece.path.unlink()

    def discard(self) -> None:
        """Remove the pieces after the first (the taker failed: only its own ``.part`` is resumable)."""
        for piece in self.pieces[1:]:
            piece.path.unlink(missing_ok=True)
