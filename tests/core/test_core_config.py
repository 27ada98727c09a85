"""One typed configuration: flags > S2LAKE_* env > file > defaults, and clear errors naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from s2lake.config import load_settings
from s2lake.errors import ConfigError

S2LAKE = str(Path(sys.executable).parent / "s2lake")


pytestmark = pytest.mark.usefixtures("clean_env")


def test_defaults() -> None:
    settings = load_settings()
    assert settings.warehouse == "./warehouse"
    assert settings.patches.mode == "band" and settings.patches.strip_rows == 10
    assert settings.patches.workers >= 1


def test_precedence_flag_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text("warehouse: /from/file\npatches:\n  workers: 3\n  strip_rows: 4\n  mode: product\n")
    settings = load_settings(config)
    assert (settings.warehouse, settings.patches.workers, settings.patches.strip_rows) == ("/from/file", 3, 4)

    monkeypatch.setenv("S2LAKE_WAREHOUSE", "/from/env")
    monkeypatch.setenv("S2LAKE_PATCHES__WORKERS", "5")
    settings = load_settings(config)
    # env beats the file key by key: strip_rows and mode still come from the file
    assert (settings.warehouse, settings.patches.workers, settings.patches.strip_rows) == ("/from/env", 5, 4)
    assert settings.patches.mode == "product"

    settings = load_settings(config, warehouse="/from/flag", patches__workers=7)
    assert (settings.warehouse, settings.patches.workers) == ("/from/flag", 7)


def test_default_file_and_toml(tmp_path: Path) -> None:
    (tmp_path / "s2lake.yaml").write_text("log_level: debug\n")
    assert load_settings().log_level == "DEBUG"
    toml = tmp_path / "conf.toml"
    toml.write_text('warehouse = "s3://bucket/wh"\n[patches]\ndrop_nodata = true\n')
    settings = load_settings(toml)
    assert settings.warehouse == "s3://bucket/wh" and settings.patches.drop_nodata is True


def test_invalid_value_names_key_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2LAKE_PATCHES__WORKERS", "0")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = err.value.message
    assert "patches.workers" in text and "S2LAKE_PATCHES__WORKERS" in text and "Fix:" in text


@pytest.mark.parametrize(
    ("content", "match"),
    [("patches: [1, 2", "cannot parse"), ("- a\n- b\n", "must hold a mapping"), ("colour: blue\n", "colour")],
)
def test_bad_config_files(tmp_path: Path, content: str, match: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_settings(config)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/no/such/s2lake.yaml")


def test_cli_reports_config_errors_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "S2LAKE_LOG_LEVEL": "LOUD"}
    run = subprocess.run([S2LAKE, "config", "show"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 2  # ExitCode.USAGE
    assert "log_level" in run.stderr and "S2LAKE_LOG_LEVEL" in run.stderr and "Traceback" not in run.stderr
    ok = subprocess.run(
        [S2LAKE, "-w", "/x/wh", "config", "show"],
        capture_output=True,
        text=True,
        env=env | {"S2LAKE_LOG_LEVEL": "info"},
    )
    assert ok.returncode == 0 and "warehouse: /x/wh" in ok.stdout
