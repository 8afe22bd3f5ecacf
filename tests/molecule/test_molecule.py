"""Every molecule scenario (molecule/*/molecule.yml): create, prepare, converge,
idempotence, verify, destroy on twin hosts (podman containers of the local host image)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def test_every_host_role_has_a_scenario():
    roles = {"data_volume", "nvidia_driver", "pytorch"}
    assert roles | {"gpu_host"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str):
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""), "NO_COLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    # The scenarios mount the twin's wheel directory; building it is cached.
    subprocess.run([str(REPO / "twin" / "hosts" / "build-wheelhouse.sh")], cwd=REPO, env=env, check=True,
                   capture_output=True)
    run = subprocess.run([os.path.join(venv_bin, "molecule"), "test", "-s", scenario], cwd=REPO, env=env,
                         capture_output=True, text=True, check=False, timeout=1800)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    # Each step ran: a scenario whose verify is missing or skipped proves nothing.
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in " ".join(out.split()), f"{step} did not run:\n{out[-3000:]}"
