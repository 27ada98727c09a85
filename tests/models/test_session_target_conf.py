"""The dbt `session` target starts Spark with the same settings as every s2lake Spark session.

No JVM here: these check the settings handed to spark-submit (PYSPARK_SUBMIT_ARGS), split the way
pyspark splits them. tests/models/test_spark_target.py runs the target on plain Spark for real.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import _spark_session_env, session_target_conf

PARQUET = ModelsSettings(target="spark", source_format="parquet", spark_file_format="parquet")
JARS = ["sedona-spark-shaded-4.1_2.13-1.9.1.jar", "delta-spark_4.1_2.13-4.4.0.jar", "delta-storage-4.4.0.jar"]


def _submitted(settings: ModelsSettings) -> dict[str, str]:
    """The --conf pairs spark-submit receives, after pyspark's shlex split of PYSPARK_SUBMIT_ARGS."""
    words = shlex.split(_spark_session_env(settings)["PYSPARK_SUBMIT_ARGS"])
    assert words[-1] == "pyspark-shell" and words[:-1:2] == ["--conf"] * (len(words) // 2)
    return dict(pair.split("=", 1) for pair in words[1:-1:2])


@pytest.fixture
def no_jars(no_jar_folder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S2LAKE_SPARK_CONF", raising=False)
    monkeypatch.delenv("SPARK_CONF_DIR", raising=False)


def test_custom_spark_defaults_reach_the_session_target(no_jars, tmp_path: Path, monkeypatch) -> None:
    conf_file = tmp_path / "spark-defaults.conf"
    conf_file.write_text(
        "spark.s2lake.marker  from-custom-file\n"
        "spark.driver.extraJavaOptions  -Dlog4j.level=WARN -Dfile.encoding=UTF-8\n"
        "spark.sql.extensions  org.apache.sedona.sql.SedonaSqlExtensions,com.example.OwnExtension\n"
        "sedona.global.index  true\n"
    )
    monkeypatch.setenv("S2LAKE_SPARK_CONF", str(conf_file))
    assert session_target_conf(PARQUET)["spark.s2lake.marker"] == "from-custom-file"
    submitted = _submitted(PARQUET)
    assert submitted["spark.s2lake.marker"] == "from-custom-file"
    assert submitted["spark.driver.extraJavaOptions"] == "-Dlog4j.level=WARN -Dfile.encoding=UTF-8"
    # plain Spark: the Sedona extension goes (its jar is absent), the other one stays
    assert submitted["spark.sql.extensions"] == "com.example.OwnExtension"
    assert "sedona.global.index" not in submitted  # spark-submit would drop it with a warning


def test_without_jars_the_repository_defaults_leave_out_sedona_and_delta(no_jars) -> None:
    submitted = _submitted(PARQUET)
    for key in ("spark.jars.packages", "spark.jars", "spark.sql.extensions", "spark.sql.catalog.spark_catalog"):
        assert key not in submitted, key
    assert "spark.kryo.registrator" not in submitted
    assert submitted["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    assert submitted["spark.sql.adaptive.enabled"] == "true"
    assert submitted["spark.sql.session.timeZone"] == "UTC"


def test_with_a_jar_folder_the_session_target_gets_sedona_and_delta(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("S2LAKE_SPARK_CONF", raising=False)
    monkeypatch.delenv("SPARK_CONF_DIR", raising=False)
    for name in JARS:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("S2LAKE_SPARK_JARS", str(tmp_path))
    submitted = _submitted(ModelsSettings(target="spark"))  # delta sources and marts
    assert sorted(Path(j).name for j in submitted["spark.jars"].split(",")) == sorted(JARS)
    assert "spark.jars.packages" not in submitted
    assert submitted["spark.sql.extensions"].split(",") == [
        "org.apache.sedona.sql.SedonaSqlExtensions",
        "io.delta.sql.DeltaSparkSessionExtension",
    ]
    assert submitted["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert submitted["spark.kryo.registrator"] == "org.apache.sedona.core.serde.SedonaKryoRegistrator"
