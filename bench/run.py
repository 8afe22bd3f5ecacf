"""Provision, no-op re-run and teardown of the platform on the twin, measured.

Prints one JSON line per phase: wall seconds, API requests the emulator received,
and the changed count from the play recap. Targets (issue #2, 2-core machine):
provision < 30 s, no-op < 12 s.

    .venv/bin/python bench/run.py [--port 5088]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from platform_harness import Twin  # noqa: E402

PHASES = [
    ("provision", "site.yml"),
    ("noop", "site.yml"),
    ("plan", "site.yml --check --diff"),
    ("teardown", "teardown.yml"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5088, help="the twin's port for this run")
    args = parser.parse_args()

    twin = Twin(args.port)
    twin.up()
    try:
        twin.reset()
        # Warm-up: the first run pays for Python's bytecode caches and the emulator's lazy imports.
        twin.playbook("playbooks/validate.yml")
        failed = False
        for phase, command in PHASES:
            playbook, *extra = command.split()
            before = twin.requests()
            run = twin.playbook(playbook, *extra)
            print(json.dumps({
                "phase": phase,
                "seconds": round(run.seconds, 1),
                "api_requests": twin.requests() - before,
                "changed": run.changed,
                "rc": run.rc,
            }), flush=True)
            failed |= run.rc != 0
        return 1 if failed else 0
    finally:
        twin.down()


if __name__ == "__main__":
    sys.exit(main())
