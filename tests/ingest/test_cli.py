"""`s2lake ingest …` end to end: search/select/describe/get/run, a killed get, locks, exit codes, secrets."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from ingest.auth import Credentials, resolve_credentials
from ingest.catalogues import SearchQuery
from ingest.job import run_lock
from ingest.search import search_all
from s2lake.cli.context import ExitCode
from s2lake.cli.main import app
from s2lake.config import load_settings
from s2lake.tables.store import TableStore
from s2lake.testing.standin_catalogues import StandInServer, generate_products
from tests.ingest.conftest import AREA, PASSWORD, USER, mirror_for
from tests.ingest.test_search import QUERY

S2LAKE = str(Path(sys.executable).parent / "s2lake")


def _config(tmp_path: Path, warehouse, mirrors, **scheduler) -> Path:
    sched = {"timeout_seconds": 2.0, "bench_seconds": 0.3, "lta_poll_seconds": 0.1, "chunk_bytes": 16384}
    sched.update(scheduler)
    data = {
        "warehouse": warehouse.root,
        "ingest": {
            "mirrors": [m.model_dump(exclude_none=True, mode="json") for m in mirrors],
            "scheduler": sched,
            "rank_test_tiles": ["32UNA"],
            "rank_sample_bytes": 8192,
        },
    }
    path = tmp_path / "s2lake.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(config: Path, *args: str):
    result = CliRunner().invoke(app, ["--config", str(config), "ingest", *args])
    return result


def test_search_select_describe_get_through_the_cli(servers, creds, warehouse, tmp_path) -> None:
    fakes = generate_products(8, ["32UNA", "32UPA"], step_days=20)
    dhus, cdse = (StandInServer(k, fakes).start() for k in ("dhus", "cdse"))
    stac = StandInServer("stac", fakes, stac_oidc=True).start()
    servers += [dhus, cdse, stac]
    config = _config(
        tmp_path, warehouse, [mirror_for(dhus, "dhus"), mirror_for(cdse, "cdse"), mirror_for(stac, "stac")]
    )
    aoi = tmp_path / "aoi.wkt"
    aoi.write_text(AREA)

    found = _invoke(config, "search", str(aoi), "--from", "2021-01-01", "--to", "2021-12-31", "--json")
    assert found.exit_code == 0, found.output
    rows = json.loads(found.stdout)
    assert len(rows) == len(fakes) and all(r["mirrors"] == ["cdse", "dhus", "stac"] for r in rows)
    (tmp_path / "found.json").write_text(found.stdout)

    table = _invoke(config, "search", str(aoi), "--from", "2021-01-01", "--to", "2021-12-31")
    assert table.exit_code == 0 and "8 products" in table.stdout

    chosen = _invoke(config, "select", str(tmp_path / "found.json"), "--json", "--save", str(tmp_path / "sel.json"))
    assert chosen.exit_code == 0, chosen.output
    picked = json.loads(chosen.stdout)
    assert len({(p["tile"], p["product_id"]) for p in picked}) == len(picked) < len(fakes)

    described = _invoke(config, "describe", str(tmp_path / "found.json"), "--json")
    summary = json.loads(described.stdout)
    assert summary["products"] == 8 and summary["tiles"] == 2
    assert summary["total_size_bytes"] == sum(len(f.data) for f in fakes)
    assert sum(s["products"] for s in summary["seasons"].values()) == 8

    got = _invoke(config, "get", str(tmp_path / "sel.json"), "--json")
    assert got.exit_code == 0, got.output
    assert sorted(json.loads(got.stdout)["landed"]) == sorted(p["product_id"] for p in picked)
    rows = TableStore(warehouse).read("products").to_pylist()
    assert {r["status"] for r in rows} == {"landed"} and all(len(r["mirrors"]) == 3 for r in rows)
    assert all(r["checksum"] and r["size_bytes"] for r in rows)  # DHuS's too, asked for at download
    assert all(r["footprint"] and r["tile"] in ("32UNA", "32UPA") and r["epsg"] == 32632 for r in rows)

    ranked = _invoke(config, "mirrors", "rank", "--json")
    assert ranked.exit_code == 0, ranked.output
    ranks = json.loads(ranked.stdout)
    assert {r["mirror"] for r in ranks} == {"dhus", "cdse", "stac"}
    assert all(r["speed_bytes_per_s"] > 0 and r["test_tile_products"] == 4 and r["total_products"] == 8 for r in ranks)
    assert ranks == sorted(ranks, key=lambda r: -r["score"])
    assert TableStore(warehouse).count("mirror_ranks") == 3


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # landed (and removed) meanwhile
        return 0


def test_killed_get_resumes_without_refetching(servers, creds, warehouse, tmp_path) -> None:
    fakes = generate_products(6, ["32UNA"], payload=160 * 1024)
    cdse = StandInServer("cdse", fakes, bandwidth=200_000).start()
    servers.append(cdse)
    config = _config(tmp_path, warehouse, [mirror_for(cdse, "cdse", max_connections=1)], max_connections=1)

    found = search_all(load_settings(config).ingest.mirrors, SearchQuery(QUERY.start, QUERY.end, AREA))
    listing = tmp_path / "found.json"
    listing.write_text(json.dumps([p.to_json() for p in found.products]))
    env = dict(os.environ)
    proc = subprocess.Popen(
        # Whole archives (these stand-in products have no SAFE files to serve one by one): the
        # archive's .part is what resumes here; band-level resume is in test_band_download.
        [S2LAKE, "--config", str(config), "ingest", "get", str(listing), "--bands", "all"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = Path(warehouse.root, "_state", "ingest.sqlite")
    parts = Path(warehouse.root, "_state", "downloads")
    sizes = {f.name: len(f.data) for f in fakes}
    deadline = time.monotonic() + 60
    landed_before: set[str] = set()
    # Freeze the run (SIGSTOP) before looking, so nothing can finish between the look and the kill:
    # the kill then lands exactly in the state the assertions below rely on.
    while time.monotonic() < deadline:
        time.sleep(0.05)
        proc.send_signal(signal.SIGSTOP)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=0.1) as con:
                    rows = con.execute("SELECT product_id FROM products WHERE status='landed'").fetchall()
                landed_before = {r[0] for r in rows}
            except sqlite3.OperationalError:  # the schema is being created, or a write is under way
                landed_before = set()
            partial = [
                p for p in (parts.glob("*.part") if parts.exists() else []) if p.name.split(".")[0] not in landed_before
            ]
            # Mid-transfer: some bytes, not all (a whole .part waiting for extraction is not resumed).
            if landed_before and any(0 < _size(p) < sizes[p.name.split(".")[0]] for p in partial):
                break
        proc.send_signal(signal.SIGCONT)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert landed_before and len(landed_before) < len(fakes), "the run was not caught mid-way"

    again = _invoke(config, "get", str(listing), "--bands", "all", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert set(report["skipped"]) >= landed_before
    assert set(report["landed"]) | set(report["skipped"]) == {f.name for f in fakes}
    assert all(cdse.stats.completed[f.name] == 1 for f in fakes)  # nothing downloaded twice
    assert sum(cdse.stats.range_requests.values()) >= 1  # the interrupted transfer resumed


def test_run_job_is_incremental_and_locked(servers, creds, warehouse, tmp_path) -> None:
    fakes = generate_products(6, ["32UNA"], step_days=40)
    cdse = StandInServer("cdse", fakes).start()
    servers.append(cdse)
    config = _config(tmp_path, warehouse, [mirror_for(cdse, "cdse")])
    (tmp_path / "area.wkt").write_text(AREA)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"aoi": "area.wkt", "start": "2021-01-01", "end": "2021-12-31", "max_cloud": 95}))

    first = _invoke(config, "run", str(job), "--json")
    assert first.exit_code == ExitCode.OK, first.output
    summary = json.loads(first.stdout)
    assert summary["landed"] == summary["selected"] > 0 and summary["failed"] == 0

    second = _invoke(config, "run", str(job), "--json")
    assert second.exit_code == ExitCode.OK
    assert json.loads(second.stdout)["skipped_known"] == summary["selected"]
    assert json.loads(second.stdout)["landed"] == 0
    assert sum(cdse.stats.completed.values()) == summary["selected"]

    with run_lock(warehouse):
        locked = _invoke(config, "run", str(job))
    assert locked.exit_code == ExitCode.LOCKED

    bad = tmp_path / "bad.yaml"
    bad.write_text("aoi: area.wkt\n")
    assert _invoke(config, "run", str(bad)).exit_code == ExitCode.USAGE


def test_credentials_never_leak(servers, creds, warehouse, tmp_path, caplog, monkeypatch) -> None:
    fakes = generate_products(2, ["32UNA"])
    cdse = StandInServer("cdse", fakes).start()
    dhus = StandInServer("dhus", fakes).start()
    servers += [cdse, dhus]
    mirrors = [mirror_for(cdse, "cdse"), mirror_for(dhus, "dhus")]
    config = _config(tmp_path, warehouse, mirrors)
    aoi = tmp_path / "a.wkt"
    aoi.write_text(AREA)
    caplog.set_level("DEBUG")
    out = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "--log-level",
            "DEBUG",
            "ingest",
            "search",
            str(aoi),
            "--from",
            "2021-01-01",
            "--to",
            "2021-12-31",
            "--json",
        ],
    )
    (tmp_path / "f.json").write_text(out.stdout)
    got = _invoke(config, "get", str(tmp_path / "f.json"))
    listing = _invoke(config, "mirrors", "list", "--json")
    credentials = resolve_credentials(mirrors[0])
    texts = [
        out.output,
        got.output,
        listing.output,
        caplog.text,
        repr(credentials),
        str(credentials),
        repr(load_settings(config)),
        (tmp_path / "f.json").read_text(),
    ]
    texts += [str(r) for r in TableStore(warehouse).read("products").to_pylist()]
    texts += [p.read_text(errors="ignore") for p in Path(warehouse.root, "_state").glob("*.sqlite*")]
    assert credentials == Credentials(USER, PASSWORD)
    assert not [t for t in texts if PASSWORD in t]

    monkeypatch.setenv("TEST_MIRROR_PASSWORD", "Totally-Wrong-Pass")
    failed = _invoke(config, "search", str(aoi), "--from", "2021-01-01", "--to", "2021-12-31")
    # The CDSE catalogue is public, DHuS refuses: a partial result, and the password is not echoed.
    assert failed.exit_code == ExitCode.PARTIAL and "mirror dhus failed" in failed.output
    assert "Totally-Wrong-Pass" not in failed.output


def test_every_command_has_help() -> None:
    for args in (["search"], ["select"], ["describe"], ["get"], ["run"], ["mirrors", "rank"], ["mirrors", "list"]):
        result = CliRunner().invoke(app, ["ingest", *args, "--help"])
        assert result.exit_code == 0 and "--json" in result.output, args


def test_no_mirrors_is_a_usage_error(tmp_path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text(f"warehouse: {tmp_path / 'wh'}\n")
    result = _invoke(config, "search", "33UUP", "--from", "2021-01-01", "--to", "2021-02-01")
    assert result.exit_code == ExitCode.USAGE and "no mirrors configured" in result.output
