"""roles/nvidia_driver rejects bad input on the controller, before it connects to the host.

The playbook targets a host whose connection cannot work (a podman container that does not
exist): a run that got as far as the host would end UNREACHABLE, so a failed run with no
unreachable host and the expected message was stopped by the role's checks.
"""

from __future__ import annotations

import json

import pytest

from platform_harness import Run, run_playbook

PLAYBOOK = "tests/integration/playbooks/nvidia_driver_validate.yml"
INVENTORY = "tests/integration/inventory/nvidia_driver_unreachable.yml"
HOST = "unreachable-gpu-host"


def play(**role_vars) -> Run:
    return run_playbook(PLAYBOOK, "-i", INVENTORY, "-e", json.dumps(role_vars))


CASES = {
    "unknown branch": (
        {"nvidia_driver_branch": "999"},
        ["Unknown NVIDIA driver branch '999'", "must be one of 535, 550, 570, 575, 580, 590"],
    ),
    "branch given as a number that is not a branch": (
        {"nvidia_driver_branch": 581},
        ["Unknown NVIDIA driver branch '581'", "535, 550, 570, 575, 580, 590"],
    ),
    "kernel modules neither open nor proprietary": (
        {"nvidia_driver_kernel_modules": "closed"},
        ["nvidia_driver_kernel_modules", "open, proprietary", "closed"],
    ),
    "fabric manager neither auto, true nor false": (
        {"nvidia_driver_fabricmanager": "maybe"},
        ["nvidia_driver_fabricmanager is 'maybe'; it must be auto, true or false"],
    ),
    "MOK key without its certificate": (
        {"nvidia_driver_mok_key": "/etc/keys/mok.key"},
        ["nvidia_driver_mok_key and nvidia_driver_mok_cert go together"],
    ),
    "repository URL that is not http(s) or file": (
        {"nvidia_driver_repo_base_url": "ftp://mirror.example/cuda"},
        ["nvidia_driver_repo_base_url 'ftp://mirror.example/cuda' must be an http(s):// or file:// URL"],
    ),
    "reboot option that is not a boolean": (
        {"nvidia_driver_reboot": "sometimes"},
        ["nvidia_driver_reboot", "sometimes"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_the_host_is_touched(case):
    role_vars, messages = CASES[case]
    run = play(**role_vars)
    output = " ".join(run.output.split())
    assert run.rc != 0, output[-2000:]
    for message in messages:
        assert message in output, output[-3000:]
    assert run.recap[HOST]["unreachable"] == 0, "the run reached for the host"
    assert run.recap[HOST]["failed"] == 1
    assert run.seconds < 60


def test_good_input_gets_as_far_as_the_host():
    """The control: valid input passes the checks and fails only on the unreachable host."""
    run = play(nvidia_driver_branch="580", nvidia_driver_kernel_modules="proprietary", nvidia_driver_fabricmanager=True)
    output = " ".join(run.output.split())
    assert run.rc != 0
    assert run.recap[HOST]["unreachable"] == 1, output[-3000:]
    assert "Unknown NVIDIA driver branch" not in output
    assert "Gather the distribution and kernel facts" in output
