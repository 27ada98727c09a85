"""``export ben --zip-per N`` and ``export extract``: zips with a checksummed manifest that extract back to the
same tree, and an extraction that refuses escaping members and tampered zips without leaving anything."""

from __future__ import annotations

import filecmp
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.errors import ArchiveError, ExportError, UnsafePathError
from s2lake.warehouse import Warehouse
from sedona_jobs.export.ben_export import export_ben
from sedona_jobs.export.zip_parts import extract_zips, sha256_of


@pytest.fixture(scope="module")
def zipped(patched_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(loose export, zipped export) of the same 25 patches; read-only."""
    root = tmp_path_factory.mktemp("zipped")
    export_ben(patched_warehouse, root / "loose")
    report = export_ben(patched_warehouse, root / "zips", zip_per=10)
    assert report.zips == 3
    return root / "loose", root / "zips"


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(p) for p in files_a], shallow=False)
    assert (mismatch, errors) == ([], [])


def test_zips_and_manifest(zipped: tuple[Path, Path]) -> None:
    loose, zips = zipped
    assert sorted(p.name for p in zips.iterdir()) == [
        "manifest.json",
        "metadata.parquet",
        "patches-00000.zip",
        "patches-00001.zip",
        "patches-00002.zip",
    ]
    manifest = json.loads((zips / "manifest.json").read_text())
    ids = [pid for entry in manifest["zips"] for pid in entry["patch_ids"]]
    assert [len(e["patch_ids"]) for e in manifest["zips"]] == [10, 10, 5] and ids == sorted(ids)
    for entry in manifest["zips"]:
        assert sha256_of(zips / entry["name"]) == entry["sha256"]
        with zipfile.ZipFile(zips / entry["name"]) as archive:
            assert len(archive.namelist()) == 12 * len(entry["patch_ids"])
    assert manifest["metadata"]["sha256"] == sha256_of(loose / "metadata.parquet")


def test_extract_gives_the_loose_tree(zipped: tuple[Path, Path], tmp_path: Path) -> None:
    loose, zips = zipped
    progress: list[tuple[int, int]] = []
    assert extract_zips(zips, tmp_path / "out", on_progress=lambda d, t: progress.append((d, t))) == 25
    assert progress[-1] == (3, 3)
    _same_tree(loose, tmp_path / "out")


def _altered(zips: Path, tmp_path: Path, index: int, change: dict[str, bytes], *, update_manifest: bool) -> Path:
    """A copy of the zipped export whose zip ``index`` has members added or replaced by ``change``; with
    ``update_manifest`` its checksum in the manifest is updated too, so only the member checks can refuse it."""
    copy = Path(shutil.copytree(zips, tmp_path / "zips"))
    path = copy / f"patches-{index:05d}.zip"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update({name: data(members) if callable(data) else data for name, data in change.items()})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    if update_manifest:
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["zips"][index]["sha256"] = sha256_of(path)
        (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_extract_refuses_a_member_escaping_the_target(zipped: tuple[Path, Path], tmp_path: Path) -> None:
    zips = _altered(zipped[1], tmp_path, 1, {"../../escaped.tif": b"II*\x00"}, update_manifest=True)
    with pytest.raises(ExportError, match=r"escaped\.tif") as refused:
        extract_zips(zips, tmp_path / "target" / "out")
    assert isinstance(refused.value.__cause__, UnsafePathError)
    assert not list((tmp_path / "target").iterdir())
    assert not list(tmp_path.rglob("escaped.tif"))


def test_extract_refuses_a_tampered_member(zipped: tuple[Path, Path], tmp_path: Path) -> None:
    with zipfile.ZipFile(zipped[1] / "patches-00002.zip") as archive:
        victim = sorted(archive.namelist())[3]

    def altered(members: dict[str, bytes]) -> bytes:  # same size, altered pixels
        return members[victim][:-16] + bytes(16)

    zips = _altered(zipped[1], tmp_path, 2, {victim: altered}, update_manifest=False)
    with pytest.raises(ExportError, match=r"patches-00002\.zip has SHA-256") as refused:
        extract_zips(zips, tmp_path / "target" / "out")
    assert isinstance(refused.value.__cause__, ArchiveError)
    assert not list((tmp_path / "target").iterdir())


def test_extract_refuses_a_member_of_no_listed_patch(zipped: tuple[Path, Path], tmp_path: Path) -> None:
    zips = _altered(
        zipped[1], tmp_path, 0, {"BigEarthNet-S2/extra/extra_0_0/run.sh": b"#!/bin/sh\n"}, update_manifest=True
    )
    with pytest.raises(ExportError, match="not a file of the patches the manifest lists"):
        extract_zips(zips, tmp_path / "target" / "out")
    assert not list((tmp_path / "target").iterdir())


@pytest.mark.parametrize(
    ("change", "update_manifest", "reason"),
    [
        ({"../../escaped.tif": b"II*\x00"}, True, "escaped.tif"),  # a member leaving the target
        ({"BigEarthNet-S2/x/x_0_0/x_0_0_B01.tif": bytes(1000)}, False, "has SHA-256"),  # a tampered zip
        ({"BigEarthNet-S2/x/x_0_0/x_0_0_B01.tif": bytes(2 << 20)}, True, "inflates"),  # past the archive limits
    ],
)
def test_cli_refused_zip_is_bad_input(
    zipped: tuple[Path, Path], tmp_path: Path, change: dict[str, bytes], update_manifest: bool, reason: str
) -> None:
    """A refused zip is the user's input: exit 2 with what, where and fix, and nothing extracted."""
    zips = _altered(zipped[1], tmp_path, 0, change, update_manifest=update_manifest)
    if reason == "inflates":  # re-pack with DEFLATE so 2 MB of zeros are a ~2 KB member: a small zip bomb
        path = zips / "patches-00000.zip"
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        manifest = json.loads((zips / "manifest.json").read_text())
        manifest["zips"][0]["sha256"] = sha256_of(path)
        (zips / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(app, ["export", "extract", str(zips), str(tmp_path / "target" / "out")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "refused" in text and reason in text and "(at " in text and "copy it again" in text
    assert not (tmp_path / "target").exists() or not list((tmp_path / "target").iterdir())
