"""The interactive SQL shell of ``s2lake sql``: prompt_toolkit for editing and history, rich for results.

prompt_toolkit gives line editing, multi-line input, persistent history and completion; what is ours is
only when a statement is complete (a ``;`` at the end, or a ``.command``) and the few dot commands.
"""

from __future__ import annotations

import os
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.sql import SqlLexer

from s2lake.cli.context import emit
from s2lake.errors import QueryError
from s2lake.logs import console
from s2lake.sql_session import SqlSession

HELP = """\
Statements end with ';' and may span several lines (Enter on an unfinished statement adds a line).
  .tables            the tables and reference tables a query can use
  .describe NAME     the columns and types of one table
  .limit N           rows shown per result (0 = all)
  .help              this text
  .quit              leave (or Ctrl-D); Ctrl-C drops the statement being typed"""


def history_file() -> Path:
    """Where the shell keeps its history: ``$XDG_STATE_HOME/s2lake/sql_history`` (XDG's place for it)."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "s2lake" / "sql_history"


def _bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        text = buffer.text.strip()
        if not text or text.startswith(".") or text.endswith(";"):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    return bindings


def run_shell(session: SqlSession, limit: int = 100) -> None:
    """Read statements until ``.quit`` or end of input; an error is printed and the shell goes on."""
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [row["table"] for row in session.tables()]
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(path)),
        multiline=True,
        key_bindings=_bindings(),
        lexer=PygmentsLexer(SqlLexer),
        completer=WordCompleter(names + session.words(), ignore_case=True),
        prompt_continuation=lambda width, line, wrapped: "...> ".rjust(width),
    )
    console.print(
        f"s2lake SQL on {session.warehouse.root}: {len(names)} tables"
        f"{' (read-only, --safe)' if session.safe else ''}. Type .help for help, .quit to leave.",
        highlight=False,
    )
    shell = _Shell(session, limit)
    while True:
        try:
            text = prompt.prompt("s2lake> ").strip()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        try:
            if not shell.handle(text):
                return
        except QueryError as exc:
            console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)


class _Shell:
    """What one line of input does; ``handle`` is False when the shell should end."""

    def __init__(self, session: SqlSession, limit: int) -> None:
        self.session = session
        self.limit = limit

    def handle(self, text: str) -> bool:
        if text.startswith("."):
            return self.command(text)
        if text:
            for result in self.session.run(text, limit=self.limit):
                emit(result.rows, "table", columns=result.columns)
                if result.truncated:
                    console.print(f"(first {self.limit} rows shown; .limit 0 shows all)", highlight=False)
        return True

    def command(self, text: str) -> bool:
        word, _, argument = text.partition(" ")
        argument = argument.strip().rstrip(";")
        if word in (".quit", ".exit", ".q"):
            return False
        if word == ".tables":
            emit(self.session.tables(), "table", columns=["table", "kind"])
        elif word == ".describe":
            if not argument:
                raise QueryError(".describe needs a table name", fix="e.g. .describe patches")
            emit(self.session.describe(argument), "table", title=argument, columns=["column", "type", "nullable"])
        elif word == ".limit":
            self.limit = _row_limit(argument)
            console.print(f"rows shown per result: {self.limit or 'all'}", highlight=False)
        elif word == ".help":
            console.print(HELP, highlight=False, markup=False)
        else:
            raise QueryError(f"unknown command {word}", fix="type .help for the commands")
        return True


def _row_limit(argument: str) -> int:
    try:
        value = int(argument)
    except ValueError:
        raise QueryError(f".limit needs a whole number, got {argument!r}", fix="e.g. .limit 20") from None
    if value < 0:
        raise QueryError(".limit must be 0 (all rows) or more", fix="e.g. .limit 20")
    return value
