"""Configuration: S2LAKE_* variables that are not settings never break a command; secrets never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from s2lake.config import load_settings
from s2lake.config.masking import mask_url_userinfo
from s2lake.errors import ConfigError

S2LAKE = str(Path(sys.executable).parent / "s2lake")

pytestmark = pytest.mark.usefixtures("clean_env")


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "300"}
    return subprocess.run([S2LAKE, *args], capture_output=True, text=True, env=base | env, cwd=tmp_path)


def test_documented_variables_that_are_not_settings_do_not_break_commands(tmp_path: Path) -> None:
    """README names S2LAKE_SPARK_JARS, models/README.md the S2LAKE_DBT_* profile values."""
    run = _run(
        tmp_path,
        "config",
        "show",
        S2LAKE_SPARK_JARS="/opt/jars",
        S2LAKE_SPARK_CONF="/opt/spark-defaults.conf",
        S2LAKE_DBT_THREADS="2",
        S2LAKE_DBT_WAREHOUSE="/data/wh",
        S2LAKE_PATCHES__WORKERS="3",
    )
    assert run.returncode == 0, run.stderr
    assert "workers: 3" in run.stdout


def test_an_unknown_key_inside_a_section_is_still_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("S2LAKE_PATCHES__WORKRES", "3")
    with pytest.raises(ConfigError, match=r"patches\.workres.*S2LAKE_PATCHES__WORKRES"):
        load_settings()
    monkeypatch.delenv("S2LAKE_PATCHES__WORKRES")
    (tmp_path / "typo.yaml").write_text("patches:\n  workres: 3\n")
    with pytest.raises(ConfigError, match=r"patches\.workres"):
        load_settings(tmp_path / "typo.yaml")


MIRROR = "ingest:\n  mirrors:\n    - {name: a, url: 'https://bob:%s@dhus.example.org/', password: %s}\n"


def test_a_malformed_mirror_does_not_echo_its_password(tmp_path: Path) -> None:
    (tmp_path / "s2lake.yaml").write_text(MIRROR % ("urlsecret", "filesecret"))  # no protocol
    run = _run(tmp_path, "config", "show")
    assert run.returncode == 2 and "ingest.mirrors.0.protocol" in run.stderr
    assert "filesecret" not in run.stderr and "urlsecret" not in run.stderr
    assert "https://bob:***@dhus.example.org/" in run.stderr


def test_a_yaml_syntax_error_does_not_quote_the_line(tmp_path: Path) -> None:
    (tmp_path / "s2lake.yaml").write_text("ingest:\n  mirrors:\n    - {name: a, password: filesecret url: x\n")
    run = _run(tmp_path, "config", "show")
    assert run.returncode == 2 and "line 3" in run.stderr and "filesecret" not in run.stderr


def test_config_show_masks_url_userinfo_and_secret_fields(tmp_path: Path) -> None:
    (tmp_path / "s2lake.yaml").write_text(
        "warehouse: s3://AKIDEXAMPLE:s3secret@bucket/wh\n"
        "ingest:\n  mirrors:\n"
        "    - {name: a, protocol: stac, url: 'https://bob:urlsecret@stac.example.org/v1', password: filesecret,"
        " password_env: MY_PASSWORD, token_url: 'https://tok@auth.example.org/token'}\n"
    )
    run = _run(tmp_path, "config", "show")
    assert run.returncode == 0, run.stderr
    for secret in ("s3secret", "urlsecret", "filesecret", "tok@"):
        assert secret not in run.stdout
    assert "s3://AKIDEXAMPLE:***@bucket/wh" in run.stdout and "https://bob:***@stac.example.org/v1" in run.stdout
    assert "password_env: MY_PASSWORD" in run.stdout  # the name of a variable is not a secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pa@ss@host/x", "https://user:***@host/x"),
        ("see https://token@host and http://host/a@b", "see https://***@host and http://host/a@b"),
        ("hdfs://namenode/s2lake", "hdfs://namenode/s2lake"),
    ],
)
def test_mask_url_userinfo(text: str, expected: str) -> None:
    assert mask_url_userinfo(text) == expected
