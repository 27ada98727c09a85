"""The code lists shipped in ``s2lake/data/codelists`` (CLC 2018 classes, BigEarthNet 19 classes, country names)."""

from __future__ import annotations

import csv

import pyarrow as pa

from s2lake.shipped_data import CODELISTS


def _rows(name: str) -> list[dict[str, str]]:
    with (CODELISTS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def clc_codes() -> list[str]:
    """The 44 CLC 2018 level-3 codes."""
    return [row["clc_code"] for row in _rows("clc2018_classes.csv")]


def clc_classes() -> pa.Table:
    """One row per CLC code: ``clc_code``, ``clc_name``, ``ben19_label`` (NULL when it maps to none)."""
    ben19 = {row["ben19_id"]: row["ben19_label"] for row in _rows("ben19_classes.csv")}
    mapping = {row["clc_code"]: row["ben19_id"] for row in _rows("clc_to_ben19.csv")}
    rows = _rows("clc2018_classes.csv")
    return pa.table(
        {
            "clc_code": [r["clc_code"] for r in rows],
            "clc_name": [r["clc_name"] for r in rows],
            "ben19_label": [ben19.get(mapping.get(r["clc_code"], "")) for r in rows],
        }
    )


def clc_nodata_codes() -> list[str]:
    """CORINE's codes for areas without a class (999 NODATA, 990/995 unclassified land/water)."""
    return [row["clc_code"] for row in _rows("clc2018_nodata_codes.csv")]


def clc_code_of_name() -> dict[str, str]:
    """CLC code of every level-3 class name, under both its official CLC spelling and BigEarthNet's own
    (``Peatbogs``, ``Transitional woodland/shrub``, ``Natural grassland``, ``Bare rock``): v1 patches
    name their labels the BigEarthNet way."""
    names: dict[str, str] = {}
    for row in _rows("clc2018_classes.csv"):
        names[row["clc_name"]] = row["clc_code"]
        if row["ben_name"]:
            names[row["ben_name"]] = row["clc_code"]
    return names


def ben19_of_code() -> dict[str, str]:
    """BigEarthNet 19-class label of each CLC code that has one."""
    ben19 = {row["ben19_id"]: row["ben19_label"] for row in _rows("ben19_classes.csv")}
    return {row["clc_code"]: ben19[row["ben19_id"]] for row in _rows("clc_to_ben19.csv") if row["ben19_id"]}


def ben19_labels() -> list[str]:
    """The 19 class names of the BigEarthNet v2 nomenclature (the labels of its metadata.parquet)."""
    return [row["ben19_label"] for row in _rows("ben19_classes.csv")]


def country_names() -> dict[str, str]:
    """Country code (NUTS ``CNTR_CODE`` or ISO 3166 alpha-2) -> English short name as BigEarthNet spells it."""
    return {row["country_code"]: row["country_name"] for row in _rows("country_names.csv")}
