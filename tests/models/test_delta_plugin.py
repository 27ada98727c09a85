"""The dbt-duckdb plugin's Delta commit: streamed, documented (manifest read once a build), empty models stay empty."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from s2lake.dbt.duckdb_delta_plugin import ModelDocs, _documented_batches


def test_placeholder_row_of_an_empty_model_is_dropped(tmp_path):
    # dbt-duckdb's external materialization writes one all-NULL row when a model is empty.
    empty = pa.table({"scope": pa.array([None], pa.string()), "n": pa.array([None], pa.int64())})
    pq.write_table(empty, tmp_path / "e")
    reader = _documented_batches(pq.ParquetFile(tmp_path / "e"), {"scope": "all or tile"})
    table = reader.read_all()
    assert table.num_rows == 0
    assert table.schema.field("scope").metadata == {b"comment": b"all or tile"}


def test_rows_stream_through_unchanged(tmp_path):
    data = pa.table({"patch_id": [f"p{i}" for i in range(200_000)], "n": pa.array(range(200_000), pa.int64())})
    pq.write_table(data, tmp_path / "m", row_group_size=50_000)
    reader = _documented_batches(pq.ParquetFile(tmp_path / "m"), {})
    assert reader.read_all().equals(data)
    single = pa.table({"patch_id": ["only"], "n": pa.array([None], pa.int64())})
    pq.write_table(single, tmp_path / "one")
    assert _documented_batches(pq.ParquetFile(tmp_path / "one"), {}).read_all().equals(single)


def _manifest(path, description: str) -> None:
    node = {"description": description, "columns": {"patch_id": {"description": "  the   patch  "}}}
    path.write_text(json.dumps({"nodes": {"model.s2lake.patch_labels": node}}))


def test_manifest_is_parsed_once_per_build(tmp_path, monkeypatch):
    manifest = tmp_path / "target" / "manifest.json"
    manifest.parent.mkdir()
    monkeypatch.setenv("S2LAKE_DBT_STATE", str(tmp_path))
    docs = ModelDocs()
    assert docs.model("patch_labels") == ("", {})  # no manifest yet: no comments, no error
    _manifest(manifest, "build one")
    assert docs.model("patch_labels") == ("build one", {"patch_id": "the patch"})
    assert docs.model("band_stats") == ("", {})

    # Same file as far as the stamp goes (size and mtime): the parsed manifest is reused, not re-read.
    stamp = manifest.stat().st_mtime_ns
    _manifest(manifest, "build two")
    os.utime(manifest, ns=(stamp, stamp))
    assert docs.model("patch_labels")[0] == "build one"

    # The next build writes a new manifest: parsed again.
    os.utime(manifest, ns=(stamp + 1_000_000, stamp + 1_000_000))
    assert docs.model("patch_labels")[0] == "build two"
