"""Archive checks: the CRC pass runs only where nothing else checks the members; extraction catches bad CRCs."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from ingest.extract import extract_archive
from ingest.verify import CorruptArchive, verify_archive
from s2lake.testing.standin_catalogues import product_zip

NAME = "S2A_MSIL2A_20210105T103000_N0500_R001_T32UNA_20210105T133000"
BAND = f"{NAME}.SAFE/GRANULE/L2A/IMG_DATA/R10m/B02_10m.bin"


@pytest.fixture
def testzip_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every ``ZipFile.testzip`` call (the full CRC read) while still doing it."""
    calls: list[str] = []
    original = zipfile.ZipFile.testzip

    def counting(self: zipfile.ZipFile) -> str | None:
        calls.append(str(self.filename))
        return original(self)

    monkeypatch.setattr(zipfile.ZipFile, "testzip", counting)
    return calls


def _write(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / "p.zip.part"
    path.write_bytes(data)
    return path, hashlib.md5(data).hexdigest()


def test_a_matching_checksum_skips_the_crc_read(tmp_path, testzip_calls) -> None:
    # The catalogue's checksum is of these (source-corrupt) bytes, so it matches.
    path, md5 = _write(tmp_path, product_zip(NAME, 8192, 1, bad_crc=True))
    verify_archive(path, path.stat().st_size, md5.upper(), "MD5", extracting=True)
    assert testzip_calls == []


def test_without_a_checksum_the_crc_read_catches_a_bad_member(tmp_path, testzip_calls) -> None:
    path, _ = _write(tmp_path, product_zip(NAME, 8192, 1, bad_crc=True))
    with pytest.raises(CorruptArchive, match=r"CRC error in member .*B02_10m\.bin"):
        verify_archive(path, path.stat().st_size, None, None, extracting=True)
    assert testzip_calls == [str(path)]
    good, _ = _write(tmp_path, product_zip(NAME, 8192, 1))
    verify_archive(good, None, None, None, extracting=True)  # CDSE's zero ContentLength: no size either


def test_a_kept_zip_gets_the_crc_read_even_after_a_matching_checksum(tmp_path, testzip_calls) -> None:
    """With ``extract: false`` nothing else reads the members before the zip lands."""
    path, md5 = _write(tmp_path, product_zip(NAME, 8192, 1, bad_crc=True))
    with pytest.raises(CorruptArchive, match="CRC error"):
        verify_archive(path, None, md5, "MD5", extracting=False)
    assert len(testzip_calls) == 1


def test_size_and_checksum_mismatches_are_still_caught(tmp_path, testzip_calls) -> None:
    path, md5 = _write(tmp_path, product_zip(NAME, 8192, 1))
    with pytest.raises(CorruptArchive, match="size"):
        verify_archive(path, path.stat().st_size + 1, md5, "MD5", extracting=True)
    with pytest.raises(CorruptArchive, match="MD5 mismatch"):
        verify_archive(path, None, "0" * 32, "MD5", extracting=True)
    assert testzip_calls == []


def test_extraction_raises_a_bad_crc_as_a_corrupt_archive(tmp_path) -> None:
    path, _ = _write(tmp_path, product_zip(NAME, 8192, 1, bad_crc=True))
    with pytest.raises(CorruptArchive, match=r"Bad CRC-32 for file .*B02_10m\.bin"):
        extract_archive(str(path), str(tmp_path / "out"))
    not_a_zip, _ = _write(tmp_path, b"<html>503 Service Unavailable</html>")
    with pytest.raises(CorruptArchive, match="corrupt archive"):
        extract_archive(str(not_a_zip), str(tmp_path / "out2"))
    good, _ = _write(tmp_path, product_zip(NAME, 8192, 1))
    assert extract_archive(str(good), str(tmp_path / "ok")) == [f"{NAME}.SAFE"]
    assert (tmp_path / "ok" / BAND).stat().st_size == 8192
