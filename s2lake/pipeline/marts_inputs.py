"""Whether the marts are up to date: what their last build read, kept beside the scheduler's state.

dbt rebuilds every mart on each ``dbt build``, writing a new Delta version of each even when nothing
changed; an hourly run must not do that. So the pipeline records what the last successful build saw
(the version of every non-mart Delta table, the dbt variables and the s2lake version) and builds again
only when that differs, or a mart is missing. Recording after the build, not after each step, means a run
killed between labelling and the marts still rebuilds them next time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from s2lake import __version__
from s2lake.config.models import ModelsSettings
from s2lake.dbt.runner import MARTS, dbt_vars
from s2lake.tables.store import TableStore


def marts_inputs(store: TableStore, settings: ModelsSettings) -> dict[str, Any]:
    """What a build would read now: table versions (marts left out), dbt variables, s2lake's version."""
    versions = {name: store.require(name).version() for name in store.names() if name not in MARTS}
    return {"tables": versions, "vars": dbt_vars(settings, store.warehouse), "s2lake": __version__}


def marts_up_to_date(store: TableStore, record: Path, inputs: dict[str, Any]) -> bool:
    """The marts all exist and the last recorded build read exactly ``inputs``."""
    if any(store.open(name) is None for name in MARTS):
        return False
    try:
        return json.loads(record.read_text(encoding="utf-8")) == json.loads(json.dumps(inputs, default=str))
    except (OSError, ValueError):
        return False


def record_build(record: Path, inputs: dict[str, Any]) -> None:
    """Write the record atomically (a rename), so a killed run leaves the old record or the new one."""
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(inputs, default=str, indent=1), encoding="utf-8")
    os.replace(partial, record)
