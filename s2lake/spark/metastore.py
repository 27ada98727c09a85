"""Register the warehouse's Delta tables in a Spark Thrift server's metastore.

Analysts (beeline, pyhive, dbt-spark) see a table only once the metastore knows it. Registered as
``USING delta LOCATION <table folder>``, the Thrift server reads the table through its Delta log, so
each query sees the latest committed version: a folder registered as plain Parquet would read every
data file, including those a rebuild removed, and count rows twice. Registration is re-run after each
build: it adds new tables, replaces a registration whose location or format differs (the drop only
forgets the name, an external table's files stay) and refreshes the server's cached file listings.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lake.config.masking import mask_url_userinfo
from s2lake.config.models import ModelsSettings
from s2lake.errors import ClusterError, ConfigError, S2LakeError
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

log = logging.getLogger("s2lake.spark")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Registration:
    table: str
    location: str
    action: str  # "created", "replaced" or "refreshed"


def quoted(name: str) -> str:
    """A backquoted Spark SQL identifier; names outside ``[A-Za-z0-9_]`` are refused, not escaped."""
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not usable as a metastore name",
            fix="use letters, digits and underscores only (and not a digit first)",
        )
    return f"`{name}`"


def location_uri(warehouse: Warehouse, name: str) -> str:
    """The table folder as a URI the server resolves the same way whatever its default file system."""
    uri = warehouse.table_uri(name)
    uri = Path(uri).as_uri() if warehouse.is_local else uri
    if "'" in uri or "\\" in uri:
        # Spark SQL reads backslash escapes inside string literals: refuse rather than guess the escaping
        raise ConfigError(
            f"table location {uri} holds a quote or backslash, which a metastore statement cannot carry",
            where=warehouse.root,
            fix="move the warehouse to a path without ' and \\",
        )
    return uri


def connect(host: str, port: int) -> Any:
    # lazy: pyhive is the optional [spark] extra
    from pyhive import hive

    # pyhive logs every statement at INFO, which would bury the command's own output
    logging.getLogger("pyhive").setLevel(logging.WARNING)
    # thrift logs a failed connect with its traceback before raising; the error below reports it once
    logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)
    try:
        return hive.connect(host=host, port=port, auth="NONE")
    except Exception as exc:  # thrift's transport errors have no common base class
        raise ClusterError(
            f"cannot reach the Spark Thrift server at {host}:{port}: {exc}",
            fix="start it (`s2lake cluster up` prints its address) or set models.spark_host and "
            "models.spark_port (S2LAKE_MODELS__SPARK_HOST / _PORT)",
        ) from exc


def _described(cursor: Any, table: str) -> dict[str, str]:
    """``DESCRIBE TABLE EXTENDED``'s detail rows (Location, Provider, ...), keyed by name."""
    cursor.execute(f"DESCRIBE TABLE EXTENDED {table}")
    return {str(row[0]).strip(): str(row[1]).strip() for row in cursor.fetchall() if row[0]}


def _same_location(registered: str, wanted: str) -> bool:
    return registered.rstrip("/").replace("file:///", "file:/") == wanted.rstrip("/").replace("file:///", "file:/")


def register_tables(warehouse: Warehouse, host: str, port: int, database: str = "default") -> list[Registration]:
    """Register (or re-register) every Delta table of ``warehouse`` in ``database`` on the server."""
    names = TableStore(warehouse).names()
    db = quoted(database)
    done: list[Registration] = []
    with connect(host, port) as conn:
        cursor = conn.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        cursor.execute(f"SHOW TABLES IN {db}")
        existing = {str(row[1]) for row in cursor.fetchall()}
        for name in names:
            table = f"{db}.{quoted(name)}"
            location = location_uri(warehouse, name)
            create = f"CREATE TABLE {table} USING delta LOCATION '{location}'"
            if name not in existing:
                cursor.execute(create)
                done.append(Registration(name, location, "created"))
                continue
            detail = _described(cursor, table)
            if detail.get("Type", "").upper() == "MANAGED":
                raise ClusterError(
                    f"{database}.{name} is a managed table of the metastore, not a registered warehouse table",
                    where=f"{host}:{port}",
                    fix=f"register into another database (--database), or drop {database}.{name} yourself "
                    "if its data is not needed (dropping a managed table deletes its files)",
                )
            delta = detail.get("Provider", "").lower() == "delta"
            if not delta or not _same_location(detail.get("Location", ""), location):
                cursor.execute(f"DROP TABLE {table}")
                cursor.execute(create)
                done.append(Registration(name, location, "replaced"))
                continue
            cursor.execute(f"REFRESH TABLE {table}")
            done.append(Registration(name, location, "refreshed"))
    return done


def register_after_build(settings: ModelsSettings, warehouse: Warehouse, command: str) -> list[Registration] | None:
    """Re-register the tables after ``command`` built them, when the configuration names a Thrift server.

    A Thrift server is configured when ``models.spark_method`` is ``thrift`` (``s2lake cluster up`` exports
    it with the address), so analysts and dbt-spark see each rebuild without a manual ``spark register``.
    The build has committed by now: a failure here leaves only the metastore behind, so it is a warning
    naming the address and the command to run by hand, never a failed build.
    """
    if settings.spark_method != "thrift" or not settings.register_after_build:
        return None
    host, port = settings.spark_host, settings.spark_port
    try:
        done = register_tables(warehouse, host, port, settings.register_database)
    # thrift's and pyhive's errors share no base class; whatever failed, the committed build stands
    except Exception as exc:
        reason = exc.what if isinstance(exc, S2LakeError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "%s succeeded, but registering the warehouse's tables with the Spark Thrift server at %s:%d failed (%s); "
            "analysts may see the tables as they were before. Run by hand once the server is up: "
            "s2lake -w %s spark register --host %s --port %d --database %s",
            command,
            host,
            port,
            mask_url_userinfo(reason),
            shlex.quote(mask_url_userinfo(warehouse.root)),
            host,
            port,
            settings.register_database,
        )
        return None
    log.info("registered %d table(s) with the Spark Thrift server at %s:%d", len(done), host, port)
    return done
