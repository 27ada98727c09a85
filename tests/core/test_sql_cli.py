"""`s2lake sql` and `s2lake tables` as users call them: output flags, scripts, and the interactive shell."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pexpect import fdpexpect
from typer.testing import CliRunner

from s2lake.cli.main import app
from s2lake.tables.schemas import PRODUCTS
from s2lake.tables.store import TableStore
from s2lake.warehouse import Warehouse

pytestmark = pytest.mark.usefixtures("clean_env")

TILES = ["33UUU", "33UUV", "32TQM"]


@pytest.fixture
def filled(warehouse: Warehouse) -> Warehouse:
    """150 products (more than a table shows by default) and a reference table ref_clc of 3 rows."""
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {"product_id": f"p{i:03d}", "status": "patched", "ingestion_time": now, "tile": TILES[i % 3]}
        for i in range(150)
    ]
    TableStore(warehouse).upsert(PRODUCTS, pa.Table.from_pylist(rows, schema=PRODUCTS.schema))
    folder = Path(warehouse.reference_uri("clc"))
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"code_18": ["111", "112", "211"], "area": [1.5, 2.0, 3.0]}), folder / "part-0.parquet")
    return warehouse


def _run(warehouse: Warehouse, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["-w", warehouse.root, *args], input=stdin)
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_json_flag_gives_every_row_and_limit_applies_to_json(filled: Warehouse) -> None:
    code, out, _ = _run(filled, "sql", "--json", "SELECT product_id FROM products ORDER BY product_id")
    assert code == 0 and [r["product_id"] for r in json.loads(out)] == [f"p{i:03d}" for i in range(150)]
    code, out, err = _run(filled, "sql", "--json", "--limit", "7", "SELECT product_id FROM products ORDER BY 1")
    assert code == 0 and [r["product_id"] for r in json.loads(out)] == [f"p{i:03d}" for i in range(7)]
    assert "first 7 rows shown" in err


def test_table_output_stops_at_100_rows_and_says_so(filled: Warehouse) -> None:
    code, out, err = _run(filled, "sql", "SELECT product_id FROM products ORDER BY product_id")
    assert code == 0 and "p099" in out and "p100" not in out and "first 100 rows shown" in err


def test_csv_with_no_rows_still_has_its_header(filled: Warehouse) -> None:
    code, out, _ = _run(filled, "sql", "-f", "csv", "SELECT product_id, tile FROM products WHERE tile = 'none'")
    assert code == 0 and out.splitlines() == ["product_id,tile"]


def test_statements_from_a_file_and_from_stdin(filled: Warehouse, tmp_path: Path) -> None:
    script = tmp_path / "counts.sql"
    script.write_text(
        "-- products per tile\nSELECT tile, count(*) AS n\n  FROM products GROUP BY tile ORDER BY tile;\n"
        "SELECT count(*) AS refs FROM ref_clc;\n"
    )
    code, out, _ = _run(filled, "sql", "-f", "csv", str(script))
    assert code == 0
    assert out.splitlines() == ["tile,n", "32TQM,50", "33UUU,50", "33UUV,50", "refs", "3"]
    code, out, _ = _run(filled, "sql", "--json", "-", stdin="SELECT max(area) AS a FROM ref_clc;")
    assert code == 0 and json.loads(out) == [{"a": 3.0}]


def test_a_failing_statement_is_named(filled: Warehouse) -> None:
    code, _, err = _run(filled, "sql", "SELECT 1; SELECT nope FROM products;")
    assert code == 2 and "statement 2 of 2" in err and "nope" in err


def test_tables_lists_reference_tables_and_plain_column_types(filled: Warehouse) -> None:
    code, out, _ = _run(filled, "tables", "--json")
    assert code == 0
    listed = {row["table"]: row for row in json.loads(out)}
    assert listed["products"]["kind"] == "delta" and listed["products"]["rows"] == 150
    assert listed["ref_clc"]["kind"] == "reference" and listed["ref_clc"]["rows"] == 3
    assert listed["ref_clc"]["files"] == 1 and listed["ref_clc"]["version"] is None

    code, out, _ = _run(filled, "tables", "--schema", "ref_clc", "-f", "csv")
    assert code == 0
    assert [(r["column"], r["type"]) for r in csv.DictReader(io.StringIO(out))] == [
        ("code_18", "string"),
        ("area", "double"),
    ]
    code, out, _ = _run(filled, "tables", "--schema", "products", "--json")
    types = {row["column"]: row["type"] for row in json.loads(out)}
    assert types["product_id"] == "string" and types["ingestion_time"].startswith("timestamp")
    assert not any("PrimitiveType" in t for t in types.values())


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], fdpexpect.fdspawn]:
    """Run ``argv`` with a pseudo-terminal (40 x 120) as its stdin, stdout and stderr, as a person's shell does.

    The child is started by ``subprocess`` (fork and exec in C), not by pexpect's own fork: the test process
    may hold threads (Spark, delta-rs), and a Python-level fork in a threaded process can deadlock before exec.
    """
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    child = subprocess.Popen(
        argv, stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True, close_fds=True
    )
    os.close(terminal)
    return child, fdpexpect.fdspawn(controller, encoding="utf-8", timeout=60)


def test_the_shell_runs_statements_lists_and_describes_tables(filled: Warehouse, tmp_path: Path) -> None:
    """Driven through a pseudo-terminal as a person types: a two-line statement, .tables, .describe, .quit."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "120", "TERM": "xterm"}
    env = {k: v for k, v in env.items() if not k.startswith("S2LAKE_")}
    command = str(Path(sys.executable).parent / "s2lake")  # the installed command, as a user runs it
    child, shell = _on_a_terminal([command, "-w", filled.root, "sql"], env)
    try:
        shell.expect("Type .help")
        shell.expect("s2lake>")
        shell.sendline("SELECT tile, count(*) AS n FROM products")
        shell.expect(r"\.\.\.>")  # the statement is not finished: a continuation line
        shell.sendline("WHERE tile = '33UUV' GROUP BY tile;")
        shell.expect(r"33UUV\s*│\s*50")
        shell.expect("s2lake>")
        shell.sendline(".tables")
        shell.expect(r"ref_clc\s*│\s*reference")
        shell.expect("s2lake>")
        shell.sendline(".describe ref_clc")
        shell.expect(r"code_18\s*│\s*VARCHAR")
        shell.expect("s2lake>")
        shell.sendline("SELECT nope;")
        shell.expect("error:.*nope")
        shell.expect("s2lake>")
        shell.sendline(".quit")
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
        shell.close()
    history = (tmp_path / "state" / "s2lake" / "sql_history").read_text()
    assert "WHERE tile = '33UUV' GROUP BY tile;" in history and ".describe ref_clc" in history
