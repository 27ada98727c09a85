"""Settings of the dbt project (``s2lake models build``), passed to dbt as profile values and vars."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["duckdb", "spark"] = Field("duckdb", description="dbt target: duckdb (embedded) or spark.")
    spark_method: Literal["session", "thrift"] = Field(
        "session", description="spark target: a local SparkSession (session) or a cluster's Thrift server (thrift)."
    )
    spark_host: str = Field("127.0.0.1", description="Spark Thrift server host (spark_method thrift).")
    spark_port: int = Field(10000, description="Spark Thrift server port (spark_method thrift).")
    register_after_build: bool = Field(
        True,
        description="spark_method thrift: after each build (patches, labels, models, ingest), register the "
        "warehouse's Delta tables with the Thrift server at spark_host:spark_port (as `s2lake spark register`).",
    )
    register_database: str = Field(
        "default", description="Metastore database the warehouse's tables are registered in (one per warehouse)."
    )
    spark_file_format: Literal["delta", "parquet"] = Field(
        "delta", description="spark target: file format of the marts (delta needs Delta's jars)."
    )
    source_format: Literal["delta", "parquet"] = Field(
        "delta", description="spark target: how Spark reads the source tables (parquet: exported copies)."
    )
    source_root: str | None = Field(None, description="Folder holding the source tables; default <warehouse>/tables.")
    min_label_fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="Minimum area fraction for a BigEarthNet-19 label to count (0 = any)."
    )
    unlabelled_threshold: float = Field(
        0.25, ge=0.0, le=1.0, description="Flag patches whose unlabelled area fraction is at least this (reBEN)."
    )
    split_method: Literal["concentric", "train_test", "blocks"] = Field(
        "concentric", description="Geographic split: reBEN concentric squares, train/test squares or label blocks."
    )
    split_train_share: float = Field(0.5, gt=0.0, lt=1.0, description="Target share of train patches.")
    split_validation_share: float = Field(0.25, ge=0.0, lt=1.0, description="Target share of validation patches.")
    split_block_patches: int = Field(10, ge=1, description="blocks: block edge in patches (10 = 12 km).")
    split_share_tolerance: float = Field(
        0.05, gt=0.0, le=1.0, description="dbt test: allowed difference of a split's share from its target."
    )
    # DuckDB's limit covers its buffer pool, not the rest of the process (dbt, Python, the Delta commits):
    # at 3 GB a whole build of ten million patches peaked at 4.15 GB of RSS (bench/models.py; 5.3 GB at 4 GB).
    duckdb_memory_limit: str = Field("3GB", description="DuckDB memory limit of the dbt build (spills beyond).")

    @model_validator(mode="after")
    def _shares(self) -> ModelsSettings:
        if self.split_train_share + self.split_validation_share >= 1.0:
            raise ValueError("split_train_share + split_validation_share must be below 1 (the rest is test)")
        return self
