"""Command-line flags override the loaded settings through one helper that validates them like the file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from s2lake.cli.context import ExitCode, friendly_errors, with_flags
from s2lake.cli.main import app
from s2lake.config.models import ModelsSettings

pytestmark = pytest.mark.usefixtures("clean_env")


def _invoke(*args: str):
    return CliRunner().invoke(app, ["-w", "warehouse", *args], catch_exceptions=False)


def test_out_of_range_min_label_fraction_is_a_usage_error() -> None:
    result = _invoke("models", "build", "--min-label-fraction", "1.5")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--min-label-fraction: Input should be less than or equal to 1 (got 1.5)" in result.output
    assert "s2lake models build --help" in result.output
    assert not Path("warehouse").exists()  # refused before dbt or the warehouse were touched


def test_out_of_range_max_cloud_of_ingest_search_is_a_usage_error() -> None:
    result = _invoke("ingest", "search", "33UUP", "--from", "2021-01-01", "--to", "2021-02-01", "--max-cloud", "150")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--max-cloud: Input should be less than or equal to 100 (got 150.0)" in result.output
    # the flag is checked before the mirrors: a bad flag is reported even with no mirror configured
    assert "no mirrors configured" not in result.output


def test_every_bad_flag_of_a_command_is_named() -> None:
    result = _invoke("labels", "build", "--engine", "flink", "--country-source", "gadm")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--engine: Input should be 'sedonadb' or 'spark' (got 'flink')" in result.output
    assert "--country-source: Input should be 'auto', 'nuts' or 'countries' (got 'gadm')" in result.output


def _probe_app() -> typer.Typer:
    """A command overriding the models settings, to see what the helper hands it."""
    probe = typer.Typer()

    @probe.command()
    @friendly_errors
    def show(
        ctx: typer.Context,
        min_label_fraction: Annotated[float | None, typer.Option()] = None,
        split_train_share: Annotated[float | None, typer.Option()] = None,
        split_validation_share: Annotated[float | None, typer.Option()] = None,
    ) -> None:
        base = ModelsSettings(split_method="blocks", min_label_fraction=0.3)
        settings = with_flags(
            ctx,
            base,
            min_label_fraction=min_label_fraction,
            split_train_share=split_train_share,
            split_validation_share=split_validation_share,
        )
        typer.echo(f"{settings.split_method} {settings.min_label_fraction} {settings.split_train_share}")

    @probe.callback()
    def root() -> None:
        """Several commands' worth of group, so `show` keeps its name."""

    return probe


def test_only_given_flags_override_and_the_rest_keeps_the_settings() -> None:
    probe = _probe_app()
    assert CliRunner().invoke(probe, ["show"]).output.strip() == "blocks 0.3 0.5"
    given = CliRunner().invoke(probe, ["show", "--split-train-share", "0.6"])
    assert given.exit_code == 0, given.output
    assert given.output.strip() == "blocks 0.3 0.6"


def test_a_check_across_settings_names_the_flags_given() -> None:
    probe = _probe_app()
    result = CliRunner().invoke(probe, ["show", "--split-train-share", "0.7"])
    assert result.exit_code == 0, result.output  # 0.7 + the default 0.25 still leaves room for test
    result = CliRunner().invoke(probe, ["show", "--split-train-share", "0.7", "--split-validation-share", "0.3"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--split-train-share, --split-validation-share: Value error, split_train_share" in result.output
    assert "must be below 1 (the rest is test) (got 0.7, 0.3)" in result.output
