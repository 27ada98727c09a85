"""What one ``s2lake run`` did: a report per step, the failures with their reasons, and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from s2lake.cli.context import ExitCode, exit_code_for
from s2lake.errors import S2LakeError

#: done: the step changed the warehouse; nothing new: it had nothing to do; skipped: it could not apply
#: (no job file, no reference data) and says why; failed: it stopped with an error.
Status = Literal["done", "nothing new", "skipped", "failed"]


@dataclass
class Failure:
    step: str
    item: str
    reason: str


@dataclass
class StepReport:
    step: str
    status: Status = "nothing new"
    detail: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK

    def fail_item(self, item: str, reason: str) -> None:
        """One product (or mirror) failed; the step goes on with the others (exit code 1)."""
        self.failures.append(Failure(self.step, item, reason))
        self.exit_code = max(self.exit_code, ExitCode.PARTIAL)

    def fail_step(self, error: S2LakeError) -> None:
        """The whole step stopped; its exit code is the one its own command would give."""
        self.status = "failed"
        self.detail = error.message
        self.failures.append(Failure(self.step, "(step)", error.message))
        self.exit_code = max(self.exit_code, exit_code_for(error))


@dataclass
class PipelineReport:
    steps: list[StepReport] = field(default_factory=list)

    @property
    def failures(self) -> list[Failure]:
        return [f for step in self.steps for f in step.failures]

    @property
    def exit_code(self) -> ExitCode:
        """The worst step's: 0 all fine, 1 some items failed, 2 bad input, 4 a step could not run."""
        return max((step.exit_code for step in self.steps), default=ExitCode.OK)

    @property
    def nothing_new(self) -> bool:
        """No step changed the warehouse and none failed: the run left every table as it was."""
        return all(step.status in ("nothing new", "skipped") for step in self.steps) and not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "nothing_new": self.nothing_new,
            "exit_code": int(self.exit_code),
            "steps": {step.step: {"status": step.status, "detail": step.detail, **step.counts} for step in self.steps},
            "failures": [vars(f) for f in self.failures],
        }
