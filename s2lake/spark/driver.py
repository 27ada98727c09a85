"""The Python file ``s2lake spark submit`` gives spark-submit: it runs one s2lake command in the driver.

Arguments: the job's configuration file, then the s2lake command line. Every job is an ordinary
s2lake command, so a submitted job and the same command run by hand behave alike; in cluster deploy
mode this file runs under the environment archive's Python, where s2lake is installed.
"""

from __future__ import annotations

import sys

from s2lake.cli.main import app


def main(argv: list[str]) -> None:
    config, *command = argv
    app(["--config", config, *command], prog_name="s2lake")


if __name__ == "__main__":
    main(sys.argv[1:])
