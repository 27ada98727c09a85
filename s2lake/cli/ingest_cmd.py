"""``s2lake ingest``: search catalogues, select, rank mirrors, download and land products.

Product lists travel between commands as JSON files (``search --json > found.json``, then
``select found.json``, ``describe found.json``, ``get selected.json``), so each step can be inspected
and repeated. Heavy imports stay inside the commands: the CLI imports this module at start-up.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from s2lake.cli.context import ExitCode, app_context, emit, friendly_errors, with_flags
from s2lake.errors import ConfigError
from s2lake.logs import console, progress

app = typer.Typer(
    help="Search DHuS, CDSE OData and STAC catalogues at once; select, download and land products.",
    no_args_is_help=True,
)
mirrors_app = typer.Typer(help="Inspect and rank the configured mirrors.", no_args_is_help=True)
app.add_typer(mirrors_app, name="mirrors")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
MirrorFlag = Annotated[
    list[str] | None, typer.Option("--mirror", "-m", help="Use only this configured mirror (repeatable).")
]


class Bands(StrEnum):
    """``--bands``: the values of ``ingest.bands``."""

    patches = "patches"
    all = "all"


BandsFlag = Annotated[
    Bands | None,
    typer.Option(
        "--bands",
        help=(
            "patches: only the files `patches build` reads of L2A products (per-file access, each checked "
            "against manifest.safe); all: whole archives. Default: ingest.bands (patches)."
        ),
    ),
]


def _with_bands(settings: Any, bands: Bands | None) -> Any:
    """The ingest settings with ``--bands`` applied (the flag wins over the file)."""
    return settings if bands is None else settings.model_copy(update={"bands": bands.value})


def _mirrors(ctx: typer.Context, names: list[str] | None) -> list:
    settings = app_context(ctx).settings.ingest
    if not settings.mirrors:
        raise ConfigError(
            "no mirrors configured",
            where="ingest.mirrors",
            fix="declare mirrors in the configuration file (see docs/ingest.md)",
        )
    if not names:
        return [m for m in settings.mirrors if m.enabled]
    known = {m.name: m for m in settings.mirrors}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"unknown mirror(s): {', '.join(missing)}", fix=f"choose from {', '.join(known)}")
    return [known[n] for n in names]


def _date(value: str, flag: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r} is not a date", fix="write dates as YYYY-MM-DD") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_products(path: Path) -> list:
    from ingest.products import Product

    if not path.is_file():
        raise ConfigError(f"product list {path} does not exist", fix="save one with `s2lake ingest search … --json`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Product.from_json(row) for row in data]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a product list: {exc}",
            fix="use the JSON written by `s2lake ingest search --json` or `select --json`",
        ) from None


def _product_rows(products: list) -> list[dict[str, Any]]:
    return [
        {
            "product": p.product_id,
            "tile": p.tile,
            "date": p.sensing_start.date().isoformat() if p.sensing_start else None,
            "cloud": p.cloud_cover,
            "size_mb": round(p.size / 1e6, 1) if p.size else None,
            "mirrors": ",".join(sorted(p.offers)),
        }
        for p in products
    ]


def _print_products(products: list, as_json: bool, title: str, save: Path | None) -> None:
    payload = [p.to_json() for p in products]
    if save is not None:
        save.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        emit(_product_rows(products), "table", title=title)


@app.command("search")
@friendly_errors
def search(
    ctx: typer.Context,
    aoi: Annotated[str, typer.Argument(help="GeoJSON/WKT file, CSV of tiles, or tiles like 33UUP,33UVP.")],
    date_from: Annotated[str, typer.Option("--from", help="First sensing date (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Last sensing date, included (YYYY-MM-DD).")],
    level: Annotated[str | None, typer.Option("--level", help="L2A or L1C [default: ingest.level].")] = None,
    max_cloud: Annotated[float | None, typer.Option("--max-cloud", help="Highest cloud cover in %.")] = None,
    mirror: MirrorFlag = None,
    save: Annotated[Path | None, typer.Option("--save", help="Also write the product list (JSON) here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Query every mirror concurrently; one row per product with the mirrors offering it.

    Examples:

      s2lake ingest search 33UUP,33UVP --from 2023-06-01 --to 2023-08-31 --max-cloud 20 --save found.json

      s2lake ingest search bavaria.geojson --from 2023-01-01 --to 2023-12-31 --mirror cdse --json > found.json
    """

    from ingest.aoi import load_aoi
    from ingest.catalogues import SearchQuery
    from ingest.search import search_all

    settings = with_flags(ctx, app_context(ctx).settings.ingest, level=level and level.upper(), max_cloud=max_cloud)
    area = load_aoi(aoi)
    start = _date(date_from, "--from")
    end = _date(date_to, "--to") + timedelta(days=1)
    if end <= start:
        raise ConfigError("--to is before --from", fix="swap the dates")
    query = SearchQuery(start, end, area.geometry_wkt, area.tiles, settings.level, settings.max_cloud)
    result = search_all(_mirrors(ctx, mirror), query)
    _print_products(result.products, as_json, f"{len(result.products)} products", save)
    for name, reason in result.failures.items():
        console.print(f"[yellow]mirror {name} failed:[/] {reason}", highlight=False)
    if result.failures:
        raise typer.Exit(ExitCode.FAILED if not result.counts else ExitCode.PARTIAL)


@app.command("select")
@friendly_errors
def select(
    products_file: Annotated[Path, typer.Argument(help="Product list from `search --json`.")],
    per_year: Annotated[
        bool, typer.Option("--per-year", help="Keep years apart (December counts in the next year's DJF).")
    ] = False,
    save: Annotated[Path | None, typer.Option("--save", help="Also write the selection (JSON) here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Lowest cloud cover per MGRS tile and meteorological season (DJF, MAM, JJA, SON).

    Examples:

      s2lake ingest select found.json --save selected.json

      s2lake ingest select found.json --per-year --json
    """
    from ingest.selection import select_lowest_cloud

    chosen = select_lowest_cloud(_read_products(products_file), per_year=per_year)
    _print_products(chosen, as_json, f"{len(chosen)} selected", save)


@app.command("describe")
@friendly_errors
def describe(
    ctx: typer.Context,
    products_file: Annotated[Path, typer.Argument(help="Product list from `search` or `select`.")],
    quicklooks: Annotated[
        Path | None,
        typer.Option(
            "--quicklooks",
            help="Also save each product's quicklook here as <product>.jpg or .png, where its catalogue has one.",
        ),
    ] = None,
    mirror: MirrorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Counts, sizes, tiles, products per tile, cloud cover and seasons of a product list; its quicklooks.

    Examples:

      s2lake ingest describe selected.json

      s2lake ingest describe selected.json --quicklooks previews/
    """
    from ingest.selection import describe as describe_products

    products = _read_products(products_file)
    summary = describe_products(products)
    report = None
    if quicklooks is not None:
        from ingest.quicklooks import save_quicklooks

        report = save_quicklooks(products, app_context(ctx).settings.ingest, _mirrors(ctx, mirror), quicklooks)
        summary["quicklooks"] = report.as_dict()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        listed = ("products_per_tile", "seasons", "quicklooks")
        rows = [{"measure": k, "value": v} for k, v in summary.items() if k not in listed]
        rows += [{"measure": f"tile {t}", "value": n} for t, n in summary["products_per_tile"].items()]
        rows += [
            {"measure": f"season {s}", "value": f"{v['products']} ({v['share']:.0%})"}
            for s, v in summary["seasons"].items()
        ]
        emit(rows, "table", title="product list")
        if report is not None:
            emit(_quicklook_rows(report), "table", title=f"{len(report.saved)} quicklooks saved in {quicklooks}")
    if report is not None and report.failed:
        raise typer.Exit(ExitCode.PARTIAL)


def _quicklook_rows(report: Any) -> list[dict[str, Any]]:
    rows = [{"product": p, "quicklook": "saved", "detail": path} for p, path in report.saved.items()]
    rows += [{"product": p, "quicklook": "none", "detail": why} for p, why in report.missing.items()]
    rows += [{"product": p, "quicklook": "failed", "detail": why} for p, why in report.failed.items()]
    return rows


@mirrors_app.command("list")
@friendly_errors
def mirrors_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The configured mirrors (credentials are never shown, only where they come from).

    Example:

      s2lake --config s2lake.yaml ingest mirrors list
    """
    rows = [
        {
            "name": m.name,
            "protocol": m.protocol,
            "url": m.url,
            "credentials": (
                f"env {m.username_env}/{m.password_env}"
                if m.username_env
                else f"netrc {m.netrc_host}"
                if m.netrc_host
                else "config"
                if m.username
                else "none"
            ),
            "max_connections": m.max_connections,
            "rate_limit": m.rate_limit,
            "enabled": m.enabled,
        }
        for m in app_context(ctx).settings.ingest.mirrors
    ]
    if as_json:
        typer.echo(json.dumps(rows))
    elif not rows:
        typer.echo(
            "no mirrors configured. Declare them under ingest.mirrors in s2lake.yaml (docs/ingest.md, "
            '"Mirrors and credentials"), e.g. name: cdse, protocol: cdse_odata, '
            "url: https://catalogue.dataspace.copernicus.eu/odata/v1",
            err=True,
        )
    else:
        emit(rows, "table", title="mirrors")


@mirrors_app.command("rank")
@friendly_errors
def mirrors_rank(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Measure speed (bounded sample), latency, test-tile availability and total products; score; store.

    Examples:

      s2lake ingest mirrors rank

      s2lake ingest mirrors rank --json
    """

    from ingest.ranking import rank_mirrors

    app_ctx = app_context(ctx)
    _mirrors(ctx, None)
    app_ctx.warehouse.ensure_writable()
    measurements = rank_mirrors(app_ctx.settings.ingest, app_ctx.warehouse)
    rows = [asdict(m) for m in measurements]
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        emit(rows, "table", title="mirror ranking (stored in mirror_ranks)")


def _get_rows(report: Any) -> list[dict[str, Any]]:
    rows = [{"product": p, "status": "landed", "reason": ""} for p in report.landed]
    rows += [{"product": p, "status": "skipped", "reason": "already landed"} for p in report.skipped]
    rows += [{"product": p, "status": "failed", "reason": r} for p, r in report.failed.items()]
    return rows


@app.command("get")
@friendly_errors
def get(
    ctx: typer.Context,
    products_file: Annotated[Path, typer.Argument(help="Product list from `search` or `select`.")],
    mirror: MirrorFlag = None,
    bands: BandsFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Download, verify, extract and land products (resumes a killed run where it stopped).

    Examples:

      s2lake ingest get selected.json

      s2lake ingest get selected.json --mirror cdse --bands all
    """
    from ingest.job import run_lock
    from ingest.ranking import latest_ranks
    from ingest.scheduler import Scheduler
    from s2lake.spark.metastore import register_after_build

    app_ctx = app_context(ctx)
    products = _read_products(products_file)
    app_ctx.warehouse.ensure_writable()
    mirrors = _mirrors(ctx, mirror)
    # The same lock as `ingest run`: both land products and share the scheduler state.
    with run_lock(app_ctx.warehouse), progress(transfer=True) as bars:
        scheduler = Scheduler(
            _with_bands(app_ctx.settings.ingest, bands),
            app_ctx.warehouse,
            latest_ranks(app_ctx.warehouse),
            bars,
            mirrors,
        )
        report = scheduler.run(products)
    register_after_build(app_ctx.settings.models, app_ctx.warehouse, "ingest get")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "landed": report.landed,
                    "skipped": report.skipped,
                    "failed": report.failed,
                    "bytes": report.bytes,
                    "seconds": round(report.seconds, 3),
                }
            )
        )
    else:
        emit(_get_rows(report), "table", title=f"{len(report.landed)} landed, {len(report.failed)} failed")
    if report.failed:
        raise typer.Exit(ExitCode.PARTIAL)


@app.command("run")
@friendly_errors
def run(
    ctx: typer.Context,
    job_file: Annotated[
        Path, typer.Argument(metavar="JOB", help="Job file (YAML): aoi or tiles, dates, selection (docs/ingest.md).")
    ],
    bands: BandsFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Search → select → get → land, incrementally; exit 0 ok, 1 partial, 2 usage, 3 locked, 4 failed.

    Examples:

      s2lake --config /etc/s2lake/s2lake.yaml ingest run /etc/s2lake/bavaria.yaml

      s2lake ingest run job.yaml --bands all --json
    """
    from ingest.job import load_job, run_job
    from s2lake.spark.metastore import register_after_build

    app_ctx = app_context(ctx)
    job = load_job(job_file)
    app_ctx.warehouse.ensure_writable()
    with progress(transfer=True) as bars:
        report = run_job(job, _with_bands(app_ctx.settings.ingest, bands), app_ctx.warehouse, bars)
    register_after_build(app_ctx.settings.models, app_ctx.warehouse, "ingest run")
    summary = report.as_dict()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        emit([{"measure": k, "value": v} for k, v in summary.items()], "table", title="ingest run")
    if report.get.failed or report.mirror_failures:
        raise typer.Exit(ExitCode.PARTIAL)
