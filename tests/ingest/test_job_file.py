"""Job files as docs/ingest.md writes them: an aoi file or a list of tiles, and clear errors otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.job import load_job
from s2lake.cli.main import app
from s2lake.errors import ConfigError


def _job(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("tiles", ["[32UPU, T32UQU]", '"32UPU, T32UQU"'])
def test_tiles_are_an_aoi_of_tile_names(tmp_path: Path, tiles: str) -> None:
    job = load_job(_job(tmp_path, f"tiles: {tiles}\ndays_back: 30\n"))
    assert job.aoi == "32UPU,T32UQU"


def test_the_documented_job_file_loads(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "ingest.md").read_text()
    block = docs.split("# /etc/s2lake/bavaria.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "bavaria.geojson").write_text('{"type": "Point", "coordinates": [11.5, 48.1]}')
    assert load_job(_job(tmp_path, block)).aoi == str(tmp_path / "bavaria.geojson")
    tiles = block.replace("aoi: bavaria.geojson", "tiles: [32UPU, 32UQU]")
    assert load_job(_job(tmp_path, tiles)).aoi == "32UPU,32UQU"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aoi: a.geojson\ntiles: [32UPU]\ndays_back: 3\n", "not both"),
        ("days_back: 3\n", "not both and not neither"),
        ("tiles: []\ndays_back: 3\n", "tiles is empty"),
    ],
)
def test_an_area_given_twice_or_not_at_all_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_job(_job(tmp_path, text))


def test_mirrors_list_without_mirrors_says_how_to_declare_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("S2LAKE_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "w"), "ingest", "mirrors", "list"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "no mirrors configured" in result.stderr and "ingest.mirrors" in result.stderr
