"""`s2lake ingest describe --quicklooks DIR` against the stand-in DHuS, CDSE and STAC faces over HTTP.

The servers serve real JPEG and PNG images (GDAL's drivers) on the paths the real services use, under
the auth their downloads need, with connection limits and faults, and record every request.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from ingest.catalogues import SearchQuery
from ingest.quicklooks import save_quicklooks
from ingest.search import search_all
from s2lake.cli.main import app
from s2lake.testing.standin_catalogues import FakeProduct, StandInServer, generate_products
from tests.ingest.conftest import AREA, PASSWORD, fast_settings, mirror_for


def _found(mirrors, fakes: list[FakeProduct]):
    query = SearchQuery(min(f.sensing for f in fakes), max(f.sensing for f in fakes), AREA)

    query = SearchQuery(query.start - timedelta(days=1), query.end + timedelta(days=1), AREA)
    found = search_all(mirrors, query)
    assert not found.failures, found.failures
    assert sorted(p.product_id for p in found.products) == sorted(f.name for f in fakes)
    return found.products


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_each_catalogue_kind_saves_its_quicklook_named_by_its_content(servers, creds, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fakes = generate_products(3, ["32UNA"], step_days=20)
    fakes[2].quicklook = None  # a product its catalogues have no quicklook of
    out = tmp_path / "previews"
    for kind, extra in (("dhus", {}), ("cdse", {}), ("stac", {"stac_oidc": True, "stac_preview": "rendered_preview"})):
        for fake in fakes[:2]:
            fake.quicklook = "PNG" if kind == "stac" else "JPEG"
        server = StandInServer(kind, fakes, **extra).start()
        servers.append(server)
        mirror = mirror_for(server, kind)
        report = save_quicklooks(_found([mirror], fakes), fast_settings([mirror]), [mirror], out / kind)
        suffix = ".png" if kind == "stac" else ".jpg"
        assert report.saved == {f.name: str(out / kind / f"{f.name}{suffix}") for f in fakes[:2]}, report
        for fake in fakes[:2]:
            assert (out / kind / f"{fake.name}{suffix}").read_bytes() == fake.quicklook_bytes()
        assert list(report.missing) == [fakes[2].name] and "no quicklook" in report.missing[fakes[2].name]
        assert not report.failed and _leftovers(out / kind) == []
        assert sorted(p.name for p in (out / kind).iterdir()) == sorted(f"{f.name}{suffix}" for f in fakes[:2])
        # the image requests carried the mirror's credentials (the servers refuse them otherwise)
        images = [
            (path, auth) for _, path, auth in server.stats.authorization if "Quicklook" in path or "Assets(" in path
        ]
        assert images and all(auth for path, auth in images if not path.endswith("/Assets")), images
    assert PASSWORD not in caplog.text


def test_a_failing_mirror_fails_over_to_another_within_the_connection_limits(servers, creds, tmp_path) -> None:
    fakes = generate_products(4, ["32UNA", "32UPA"], step_days=20)
    cdse = StandInServer("cdse", fakes, max_connections=1).start()
    dhus = StandInServer("dhus", fakes, max_connections=1).start()
    servers += [cdse, dhus]
    for fake in fakes:
        cdse.faults.add(f"{fake.name}/quicklook", "drop", "500")  # cdse comes first and fails twice per product
    mirrors = [mirror_for(cdse, "cdse", max_connections=1), mirror_for(dhus, "dhus", max_connections=1)]
    report = save_quicklooks(_found(mirrors, fakes), fast_settings(mirrors, max_connections=2), mirrors, tmp_path)
    assert sorted(report.saved) == sorted(f.name for f in fakes) and not report.failed, report
    for fake in fakes:
        assert (tmp_path / f"{fake.name}.jpg").read_bytes() == fake.quicklook_bytes()
    assert dhus.stats.completed  # the other mirror served what the failing one did not
    assert cdse.stats.peak_active <= 1 and dhus.stats.peak_active <= 1  # per-mirror limits held (429 otherwise)
    assert _leftovers(tmp_path) == []


def test_a_cut_transfer_or_a_truncated_image_is_never_left_as_complete(servers, creds, tmp_path) -> None:
    fakes = generate_products(2, ["32UNA"], step_days=20)
    server = StandInServer("dhus", fakes).start()
    servers.append(server)
    server.faults.add(f"{fakes[0].name}/quicklook", *["drop"] * 3)  # cut mid-image on every attempt
    server.faults.add(f"{fakes[1].name}/quicklook", *["truncate"] * 3)  # short image, its length announced
    mirror = mirror_for(server, "dhus")
    report = save_quicklooks(_found([mirror], fakes), fast_settings([mirror], max_attempts=3), [mirror], tmp_path)
    assert sorted(report.failed) == sorted(f.name for f in fakes) and not report.saved
    assert "gave up after 3 attempts" in report.failed[fakes[0].name]
    assert "not a whole JPEG or PNG" in report.failed[fakes[1].name]
    assert list(tmp_path.iterdir()) == []  # neither a final name nor a .part file


def _config(tmp_path: Path, mirrors) -> Path:
    path = tmp_path / "s2lake.yaml"
    data = {
        "warehouse": str(tmp_path / "wh"),
        "ingest": {
            "mirrors": [m.model_dump(exclude_none=True, mode="json") for m in mirrors],
            "scheduler": {"timeout_seconds": 2.0, "max_attempts": 2},
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_refused_credentials_are_a_clear_error_without_the_secret(servers, creds, tmp_path, monkeypatch) -> None:
    fakes = generate_products(2, ["32UNA"], step_days=20)
    dhus = StandInServer("dhus", fakes).start()
    cdse = StandInServer("cdse", fakes).start()
    servers += [dhus, cdse]
    mirrors = [mirror_for(dhus, "dhus"), mirror_for(cdse, "cdse")]
    listing = tmp_path / "found.json"
    listing.write_text(json.dumps([p.to_json() for p in _found(mirrors, fakes)]))
    wrong = "not-the-password-42"
    monkeypatch.setenv("TEST_MIRROR_PASSWORD", wrong)  # both mirrors refuse it now
    out = tmp_path / "previews"
    args = ["--config", str(_config(tmp_path, mirrors)), "ingest", "describe", str(listing), "--quicklooks", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert wrong not in result.output and PASSWORD not in result.output
    result = CliRunner().invoke(app, [*args, "--json"])
    failed = json.loads(result.stdout)["quicklooks"]["failed"]
    assert sorted(failed) == sorted(f.name for f in fakes)
    for reason in failed.values():
        assert "dhus refused the credentials (HTTP 401" in reason, reason
        assert "token endpoint refused the password grant" in reason, reason
        assert wrong not in reason
    assert list(out.iterdir()) == []
    assert not dhus.stats.requests["quicklook"] and not cdse.stats.requests["quicklook"]
