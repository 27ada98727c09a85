"""The ``probe`` job: which Python the driver and each executor run, and where s2lake is imported from.

It answers the question a broken environment archive raises (is this executor running the archive's
interpreter or some other one?) with facts from the processes themselves.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

import s2lake


def python_environment(role: str) -> dict[str, Any]:
    """Where this process's Python and s2lake live. Runs on executors: imports only what it reports on."""
    return {
        "role": role,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "python": platform.python_version(),
        "s2lake": str(Path(s2lake.__file__).resolve().parent),
    }


def _executor_environment(_: int) -> dict[str, Any]:
    # a module-level function is pickled by name: the executor must import it from its own s2lake
    return python_environment("executor")


def probe(spark: Any, tasks: int) -> list[dict[str, Any]]:
    """The driver's environment, then the distinct environments of the executors that ran ``tasks`` tasks."""
    rows = spark.sparkContext.parallelize(range(tasks), tasks).map(_executor_environment).collect()
    distinct = {row["pid"]: row for row in rows}
    return [python_environment("driver"), *distinct.values()]
