"""The duckdb target: `dbt build` passes, and each mart equals an independent pandas computation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from deltalake import DeltaTable

from s2lake.dbt.runner import MARTS, PROJECT_DIR
from s2lake.sentinel2 import ALL_LAYERS
from tests.models import reference


def test_build_runs_models_seeds_and_tests(duck_build):
    assert duck_build.count("model") == 25
    # every code list is a seed: the project's own and the labelling code lists it shares with Python
    seeds = [
        *(PROJECT_DIR / "seeds").glob("*.csv"),
        *(PROJECT_DIR.parent / "s2lake" / "data" / "codelists").glob("*.csv"),
    ]
    assert duck_build.count("seed") == len(seeds) == 9
    assert duck_build.count("test") >= 45
    assert not duck_build.failed


def test_marts_are_delta_tables_readable_by_deltalake_and_duckdb(generated, duck_build):
    from s2lake.duckdb_session import connect

    con = connect(generated.warehouse)
    for name in MARTS:
        table = DeltaTable(generated.warehouse.table_uri(name))
        assert table.history(1)[0]["operation"] in {"CREATE TABLE", "WRITE", "CREATE OR REPLACE TABLE"}
        assert con.sql(f"select count(*) from {name}").fetchone()[0] == table.to_pyarrow_dataset().count_rows()
        # Column docs of the model's .yml travel into the Delta schema, like the core tables' comments.
        assert table.metadata().description
        assert any(b"comment" in (f.metadata or {}) for f in table.schema().to_arrow())


def test_patch_labels_equal_pandas(generated, mart):
    got = mart("patch_labels").set_index("patch_id").sort_index()
    want = reference.patch_labels(generated.tables).sort_index()
    assert list(got.index) == list(want.index)
    assert [list(x) for x in got["labels"]] == list(want["labels"])
    assert (got.label_count == want.label_count).all()
    assert (got.mostly_unlabelled == want.mostly_unlabelled).all()
    assert got.unlabelled_fraction.to_numpy() == pytest.approx(want.unlabelled_fraction.to_numpy(), abs=1e-9)
    # The generator's gaps and unmapped classes leave a real mix of flagged and clean patches.
    assert 0 < got.mostly_unlabelled.sum() < len(got)
    ben19 = {c[2] for c in reference_classes()}
    assert set().union(*got["labels"]) <= ben19
    for pid in generated.defects.no_clc:
        assert list(got.loc[pid, "labels"]) == [] and got.loc[pid, "mostly_unlabelled"]


def reference_classes():
    from sedona_jobs.synth.warehouse import CLC

    return [c for c in CLC if c[2] is not None]


def test_season_stats_equal_pandas(generated, mart):
    got = mart("season_stats")
    assert {(r.scope, r.scope_value, r.season): r.patches for r in got.itertuples()} == reference.season_stats(
        generated.tables
    )
    overall = got[got.scope == "all"]
    assert overall.share.sum() == pytest.approx(1.0)
    assert set(got.season) <= {"winter", "spring", "summer", "fall"}


def test_label_stats_equal_pandas(generated, mart):
    got = mart("label_stats")
    freq, avg, most, labelled = reference.label_stats(generated.tables)
    assert dict(zip(got.label, got.patches, strict=True)) == freq
    assert set(got.avg_labels_per_patch) == {avg}
    assert isinstance(avg, Decimal) and got.avg_labels_per_patch.iloc[0] == avg
    assert set(got.max_labels_per_patch) == {most}
    assert set(got.labelled_patches) == {labelled}
    assert got.frequency.to_numpy() == pytest.approx((got.patches / labelled).to_numpy())


def test_overlap_counts_equal_pandas(generated, mart):
    got = mart("overlap_counts")
    want = reference.overlap_counts(generated.tables)
    assert {r.scope_value: (r.patches, r.overlapping_patches) for r in got.itertuples()} == want
    # Two dates of a tile overlap pairwise; each patch is counted once, not once per pair.
    assert want["all"][1] == 2 * generated.tables["patch_overlaps"].num_rows


def test_patch_validation_finds_exactly_the_planted_defects(generated, mart):
    got = mart("patch_validation").set_index("patch_id")
    d = generated.defects
    assert set(got.index[got.wrong_size]) == d.wrong_size
    assert set(got.index[got.contains_nodata]) == d.nodata
    assert set(got.index[got.missing_product]) == d.orphans
    want = reference.patch_checks(generated.tables)
    assert (got.in_dataset.sort_index() == want.in_dataset.sort_index()).all()
    for pid in d.wrong_size:
        assert len(got.loc[pid, "wrong_size_bands"]) == 1
        assert got.loc[pid, "wrong_size_bands"][0] in {b.name for b in ALL_LAYERS}
    problems = d.wrong_size | d.nodata | d.orphans | d.unlabelled
    summary_table = mart("patch_validation_summary")
    summary = dict(zip(summary_table.check_name, summary_table.patches, strict=True))
    assert summary == {
        "wrong_size": len(d.wrong_size),
        "contains_nodata": len(d.nodata),
        "missing_product": len(d.orphans),
        "not_part_of_dataset": 0,  # no ben_metadata: a SAFE warehouse
        "unlabelled": len(d.unlabelled),
        "any_problem": len(problems),
        "in_dataset": len(got) - len(problems),
        "total": len(got),
    }


def test_patches_without_a_clc_class_are_unlabelled_with_their_reason(generated, mart):
    got = mart("patch_validation").set_index("patch_id")
    d = generated.defects
    assert set(got.index[got.unlabelled]) == d.unlabelled
    reasons = got.unlabelled_reason.dropna().to_dict()
    assert reasons == {
        **dict.fromkeys(d.no_clc, "no_clc_coverage"),
        **dict.fromkeys(d.clc_nodata, "clc_nodata"),
        **dict.fromkeys(d.unknown_code, "unknown_clc_code"),
        **dict.fromkeys(d.no_landcover_rows, "labels_not_built"),
    }
    assert reasons == reference.patch_checks(generated.tables).unlabelled_reason.dropna().to_dict()
    codes = {pid: tuple(c) for pid, c in got.clc_codes_without_class.items() if len(c)}
    assert codes == {**dict.fromkeys(d.clc_nodata, ("999",)), **dict.fromkeys(d.unknown_code, ("9999",))}
    assert not got.loc[list(d.unlabelled), "in_dataset"].any()


def test_band_stats_are_exact(generated, mart):
    got = mart("band_stats").set_index("band")
    want = reference.band_stats(generated.tables)
    assert set(got.index) == set(want)
    for band, (n, total, total_sq, mean, std) in want.items():
        row = got.loc[band]
        assert (int(row.valid_pixels), int(row.pixel_sum), int(row.pixel_sum_sq)) == (n, total, total_sq)
        assert row["mean"] == pytest.approx(mean, rel=1e-12)
        assert row["std"] == pytest.approx(std, rel=1e-9)


def test_geographic_split_equals_pandas_and_covers_each_patch_once(generated, mart):
    got = mart("geographic_split")
    assert got.patch_id.is_unique
    want = reference.concentric_split(generated.tables)
    assert dict(zip(got.patch_id, got.split, strict=True)) == want
    shares = got.split.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.5, abs=0.05)
    assert shares["validation"] == pytest.approx(0.25, abs=0.05)
    assert shares["test"] == pytest.approx(0.25, abs=0.05)
    # Not random: the same place on two dates is in the same split (no leakage between splits).
    by_place = got.groupby(["tile", "patch_row", "patch_col"]).split.nunique()
    assert (by_place == 1).all()


def test_seed_band_shapes_match_sentinel2_module(built_dir):
    import csv

    from s2lake.dbt.runner import PROJECT_DIR

    with (PROJECT_DIR / "seeds" / "s2_layers.csv").open() as f:
        rows = {r["band"]: (int(r["resolution_m"]), int(r["patch_pixels"])) for r in csv.DictReader(f)}
    assert rows == {b.name: (b.resolution, b.patch_pixels) for b in ALL_LAYERS}


def test_ben_report_on_a_safe_warehouse_without_bigearthnet_tables(generated, mart):
    """ben_metadata and reference_map_polygons are absent: the marts build, nothing is not-part-of-dataset,
    the flags come from the SCL and no reference-map label is counted."""
    figures = dict(zip(mart("ben_report").figure, mart("ben_report").value, strict=True))
    checks = reference.patch_checks(generated.tables)
    assert figures["not-part-of-dataset"] == "0"
    assert figures["wrong-size"] == str(int(checks.wrong_size.sum()))
    assert figures["with-no-data"] == str(int(checks.contains_nodata.sum()))
    assert figures["geom-average-num-labels"] == "0.00"
    _, avg, most, _ = reference.label_stats(generated.tables)
    assert figures["average-num-labels"] == str(avg) and figures["maximum-num-labels"] == str(most)
    assert mart("reference_map_labels").empty
    assert set(mart("patch_cloud_snow").flag_source.dropna()) <= {"scl"}
