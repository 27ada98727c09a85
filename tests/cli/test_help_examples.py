"""Every command's --help teaches by example, and every example parses as the command it shows."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest
import typer

from s2lake.cli.main import app

ROOT = typer.main.get_command(app)
# Typer ships its own copy of click: its classes are reached through the objects, not `import click`.
Command = type(ROOT).__mro__[1]


def _commands(group: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    subcommands = getattr(group, "commands", None)
    if not subcommands:
        yield path, group
        return
    for name, command in sorted(subcommands.items()):
        yield from _commands(command, (*path, name))


COMMANDS = dict(_commands(ROOT))


def _examples(help_text: str) -> list[list[str]]:
    """The example command lines of a help text, as argv after `s2lake`, without redirections or pipes."""
    found = []
    for line in help_text.splitlines():
        line = line.strip().removeprefix("Example:").removeprefix("Examples:")
        command = line.lstrip()
        while command.split(" ", 1)[0].count("=") == 1 and not command.startswith("-"):  # VAR=value s2lake ...
            command = command.split(" ", 1)[1] if " " in command else ""
        if not command.startswith("s2lake "):
            continue
        words = shlex.split(command.split("  #", 1)[0], posix=True)
        cut = next((i for i, w in enumerate(words) if w in (">", ">>", "|", "2>&1")), len(words))
        found.append(words[1:cut])
    return found


def _parse(argv: list[str]) -> tuple[str, ...]:
    """Parse ``argv`` as click would, without running anything; the command path it reached."""
    context = ROOT.make_context("s2lake", list(argv), resilient_parsing=True)
    command = ROOT
    path: list[str] = []
    while hasattr(command, "commands"):
        args = [*getattr(context, "_protected_args", []), *context.args]
        if not args:
            break
        name, sub, rest = command.resolve_command(context, args)
        assert sub is not None, f"no command {name!r} in `s2lake {' '.join(argv)}`"
        path.append(sub.name or name or "")
        context = sub.make_context(name, rest, parent=context, resilient_parsing=True)
        command = sub
    # resilient parsing tolerates missing arguments, not unknown options or extra words
    assert not context.args or context.allow_extra_args, f"extra words {context.args} in `s2lake {' '.join(argv)}`"
    return tuple(path)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_has_an_example_that_parses(path: tuple[str, ...]) -> None:
    help_text = COMMANDS[path].help or ""
    examples = _examples(help_text)
    assert examples, f"`s2lake {' '.join(path)} --help` has no example"
    for argv in examples:
        try:
            reached = _parse(argv)
        except Exception as exc:  # typer's click UsageError (NoSuchOption, BadParameter, ...)
            if not hasattr(exc, "format_message"):
                raise
            pytest.fail(f"example `s2lake {' '.join(argv)}` does not parse: {exc.format_message()}")
        assert reached == path, f"example `s2lake {' '.join(argv)}` runs {reached}, not {path}"
