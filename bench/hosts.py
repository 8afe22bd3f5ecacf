"""The configure phase (driver, data volume, PyTorch) on 1, 4 and 8 twin hosts, measured.

For each host count: provision the platform with that many GPU training instances
(pool off), then time configure.yml on fresh hosts (containers recreated, so every
role does its full work: mkfs and mount, venv and the torch wheel) and once more as
a no-op. Prints one JSON line per run and a summary with the 8-host/1-host ratio
(target: under 3). Forks, pipelining and the fact subset come from ansible.cfg and
the roles, as in a real run.

    .venv/bin/python bench/hosts.py [--port 5089] [--counts 1,4,8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from platform_harness import Twin  # noqa: E402

NO_POOL = json.dumps({"platform_gpu_pool": {"enabled": False, "min": 0, "max": 0, "desired": 0}})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5089, help="the twin's port for this run")
    parser.add_argument("--counts", default="1,4,8", help="host counts to measure")
    args = parser.parse_args()

    twin = Twin(args.port)
    twin.up()
    results = {}
    try:
        for count in [int(c) for c in args.counts.split(",")]:
            twin.ctl("hosts", "down")
            twin.reset()
            opts = ["-e", f"platform_gpu_instance_count={count}", "-e", NO_POOL, "-e", "platform_gpu_eip=false"]
            site = twin.playbook("site.yml", *opts)
            if site.rc != 0:
                print(site.output[-3000:], file=sys.stderr)
                return 1
            # Fresh hosts: new containers on the same volumes; the volumes keep their
            # filesystem, so this measures the driver, mount and PyTorch work, not mkfs.
            twin.ctl("hosts", "down")
            for phase in ("configure", "configure-noop"):
                run = twin.playbook("configure.yml", *opts)
                results[(count, phase)] = run.seconds
                print(json.dumps({"hosts": count, "phase": phase, "seconds": round(run.seconds, 1),
                                  "changed": run.changed, "rc": run.rc}), flush=True)
                if run.rc != 0:
                    print(run.output[-3000:], file=sys.stderr)
                    return 1
        twin.playbook("teardown.yml")
        counts = sorted({c for c, _ in results})
        if 1 in counts and max(counts) > 1:
            top = max(counts)
            print(json.dumps({"summary": "configure", f"ratio_{top}_to_1": round(
                results[(top, "configure")] / results[(1, "configure")], 2), "target": "< 3"}), flush=True)
        return 0
    finally:
        twin.ctl("hosts", "down")
        twin.down()


if __name__ == "__main__":
    sys.exit(main())
