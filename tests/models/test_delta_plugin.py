"""The dbt-duckdb plugin's Delta commit: streamed, documented, and empty models stay empty."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from s2lake.marts.duckdb_delta_plugin import _documented_batches


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
