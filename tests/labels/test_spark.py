"""The cluster engine: Spark settings with and without jars, and the same sql/ files on Sedona on Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2lake.errors import ConfigError
from s2lake.spark import REPO_DEFAULTS, parse_defaults, read_defaults, sedona_jars_available, session_config
from s2lake.spark.jars import SEDONA_COORDINATES
from s2lake.warehouse import Warehouse


def test_parse_defaults_handles_properties_syntax() -> None:
    text = "# comment\n! also a comment\n\nspark.a  1\nspark.b=two words\nspark.c: x\nspark.d  p1,\\\n   p2,\\\n   p3\n"
    assert parse_defaults(text) == {"spark.a": "1", "spark.b": "two words", "spark.c": "x", "spark.d": "p1,p2,p3"}


def test_repository_defaults_configure_sedona_and_delta() -> None:
    conf = read_defaults(REPO_DEFAULTS)
    packages = conf["spark.jars.packages"].split(",")
    assert "org.apache.sedona:sedona-spark-shaded-4.1_2.13:1.9.1" in packages
    assert any(p.startswith("io.delta:delta-spark_4.1_2.13:4.") for p in packages)
    assert any(p.startswith("org.datasyslab:geotools-wrapper:") for p in packages)
    assert conf["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    assert conf["spark.kryo.registrator"] == "org.apache.sedona.core.serde.SedonaKryoRegistrator"
    assert conf["spark.sql.extensions"].split(",") == [
        "org.apache.sedona.sql.SedonaSqlExtensions",
        "io.delta.sql.DeltaSparkSessionExtension",
    ]
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.sql.adaptive.enabled"] == "true"


def test_jar_folder_replaces_maven_packages(tmp_path: Path) -> None:
    """Only the session settings are checked here: which files a jar folder must hold."""
    (tmp_path / "unrelated.jar").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"lacks the Delta Lake, Delta storage jar"):
        session_config(read_defaults(REPO_DEFAULTS), jars_folder=str(tmp_path))
    names = ["delta-spark_4.1_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    conf = session_config(read_defaults(REPO_DEFAULTS), jars_folder=str(tmp_path), extra={"spark.master": "local[1]"})
    assert "spark.jars.packages" not in conf
    assert sorted(Path(j).name for j in conf["spark.jars"].split(",")) == sorted([*names, "unrelated.jar"])
    assert conf["spark.master"] == "local[1]"
    # no Sedona jar: Delta stays, Sedona's classes go (Spark would stop at start-up on them)
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert "spark.kryo.registrator" not in conf
    (tmp_path / "sedona-spark-shaded-4.1_2.13-1.9.1.jar").write_bytes(b"")
    conf = session_config(read_defaults(REPO_DEFAULTS), jars_folder=str(tmp_path))
    assert conf["spark.sql.extensions"].startswith("org.apache.sedona.sql.SedonaSqlExtensions,")
    assert conf["spark.kryo.registrator"] == "org.apache.sedona.core.serde.SedonaKryoRegistrator"
    with pytest.raises(ConfigError, match="is not a folder"):
        session_config({}, jars_folder=str(tmp_path / "missing"))


def test_conf_file_from_environment(no_jar_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf_file = tmp_path / "spark-defaults.conf"
    conf_file.write_text("spark.sql.shuffle.partitions 8\n")
    monkeypatch.setenv("S2LAKE_SPARK_CONF", str(conf_file))
    assert session_config() == {"spark.sql.shuffle.partitions": "8"}
    monkeypatch.setenv("S2LAKE_SPARK_CONF", str(tmp_path / "nope.conf"))
    with pytest.raises(ConfigError, match="does not exist"):
        session_config()


def test_same_sql_on_sedona_spark_equals_sedonadb(spark_jars: Path, module_warehouse: Warehouse) -> None:
    """Runs where the jar folder holds Sedona for Spark 4.1, which no Maven repository reachable here serves."""
    reason = sedona_jars_available()
    if reason is not None:
        pytest.skip(reason)
    from s2lake.shipped_data import SHIPPED_COUNTRIES
    from s2lake.spark import build_session
    from sedona_jobs.labels import compute_labels
    from sedona_jobs.labels.engines import SedonaDBEngine, SparkEngine
    from sedona_jobs.reference import load_reference

    load_reference("countries", SHIPPED_COUNTRIES, module_warehouse)
    spark = build_session("s2lake-test", master="local[1]", extra={"spark.sql.shuffle.partitions": "4"})
    try:
        on_spark, _ = compute_labels(module_warehouse, SparkEngine(spark))
    finally:
        spark.stop()
    embedded, _ = compute_labels(module_warehouse, SedonaDBEngine())
    for name, table in embedded.items():
        other = on_spark[name]
        assert other.num_rows == table.num_rows, name
        for a, b in zip(table.to_pylist(), other.to_pylist(), strict=True):
            for key, value in a.items():
                if isinstance(value, float):
                    assert abs(value - b[key]) < 1.0 if key == "area_m2" else abs(value - b[key]) < 1e-6
                else:
                    assert value == b[key], (name, key)


def test_missing_sedona_names_coordinates_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("delta-spark_4.1_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("S2LAKE_SPARK_JARS", str(tmp_path))
    reason = sedona_jars_available()
    assert reason is not None
    assert SEDONA_COORDINATES in reason and "not obtainable from the configured Maven repository" in reason
    assert str(tmp_path) in reason and "by hand" in reason
    (tmp_path / "sedona-spark-shaded-4.1_2.13-1.9.1.jar").write_bytes(b"")
    assert sedona_jars_available() is None


def test_no_jar_folder_says_how_to_get_one(no_jar_folder) -> None:
    reason = sedona_jars_available()
    assert reason is not None and "S2LAKE_SPARK_JARS is not set" in reason and "s2lake spark jars" in reason
