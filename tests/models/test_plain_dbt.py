"""dbt as dbt users run it: `cd models && dbt build` on a warehouse the demo wrote, with only the documented
set-up (`eval "$(s2lake models env)"`), then `dbt test --select` and `dbt docs generate`."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import deltalake

from s2lake.dbt.runner import MARTS, PROJECT_DIR

BIN = Path(sys.executable).parent


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


def _exports(text: str) -> dict[str, str]:
    """The variables of `export NAME=VALUE` lines, as a shell would set them."""
    values = {}
    for line in text.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = shlex.split(value)[0] if value else ""
    return values


def test_plain_dbt_build_test_and_docs_on_the_demo_warehouse(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S2LAKE_", "DBT_"))}
    warehouse = tmp_path / "lake"
    demo = _run(
        [str(BIN / "s2lake"), "-w", str(warehouse), "demo", "--pixels", "600", "--workdir", str(tmp_path)],
        env,
        tmp_path,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    before = {name: deltalake.DeltaTable(warehouse / "tables" / name).version() for name in MARTS}

    printed = _run([str(BIN / "s2lake"), "-w", str(warehouse), "models", "env"], env, tmp_path)
    assert printed.returncode == 0, printed.stderr
    env |= _exports(printed.stdout)
    # a fresh state folder: dbt must create what it needs by itself
    state = Path(env["S2LAKE_DBT_STATE"])
    subprocess.run(["rm", "-rf", str(state)], check=True)

    build = _run([str(BIN / "dbt"), "build", "--vars", env["S2LAKE_DBT_VARS"]], env, PROJECT_DIR)
    assert build.returncode == 0, build.stdout[-4000:]
    after = {name: deltalake.DeltaTable(warehouse / "tables" / name).version() for name in MARTS}
    assert all(after[name] == before[name] + 1 for name in MARTS), (before, after)

    tested = _run([str(BIN / "dbt"), "test", "--select", "patch_labels"], env, PROJECT_DIR)
    assert tested.returncode == 0 and "PASS=" in tested.stdout, tested.stdout[-3000:]
    docs = _run([str(BIN / "dbt"), "docs", "generate"], env, PROJECT_DIR)
    assert docs.returncode == 0, docs.stdout[-3000:]
    assert (Path(env["DBT_TARGET_PATH"]) / "catalog.json").is_file()
    # nothing of dbt's was written into the project folder
    assert (
        not (PROJECT_DIR / "target" / "catalog.json").exists()
        or (PROJECT_DIR / "target").stat().st_mtime < (state / "target" / "catalog.json").stat().st_mtime - 60
    )
