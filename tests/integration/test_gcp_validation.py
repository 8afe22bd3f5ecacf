"""roles/gcp_compute's checks (tasks_from=validate) reject bad GCP GPU VM settings, saying what to fix.

The checks only read variables: the playbook runs on localhost and no Google API is involved.
"""

from __future__ import annotations

import json

import pytest

from platform_harness import Run, run_playbook

PLAYBOOK = "tests/integration/playbooks/gcp_compute_validate.yml"
VALID = {"gcp_compute_project": "my-ml-project"}


def play(**role_vars) -> Run:
    return run_playbook(PLAYBOOK, "-e", json.dumps({**VALID, **role_vars}))


def flat(run: Run) -> str:
    return " ".join(run.output.split())


CASES = {
    "GPU type not offered with the machine type": (
        {"gcp_compute_machine_type": "a2-highgpu-1g", "gcp_compute_accelerator_type": "nvidia-l4"},
        ["GPU type 'nvidia-l4' is not offered with machine type 'a2-highgpu-1g'",
         "it takes nvidia-tesla-a100, so set gcp_compute_accelerator_type to that",
         "or use a machine type that takes nvidia-l4: g2-standard-"],
    ),
    "machine type without GPUs": (
        {"gcp_compute_machine_type": "e2-standard-8"},
        ["GPU type 'nvidia-tesla-a100' is not offered with machine type 'e2-standard-8'",
         "it takes no GPU", "set gcp_compute_machine_type to a GPU machine type", "a2-highgpu-1g"],
    ),
    "H100 asked on an N1": (
        {"gcp_compute_machine_type": "n1-standard-8", "gcp_compute_accelerator_type": "nvidia-h100-80gb",
         "gcp_compute_accelerator_count": 8},
        ["GPU type 'nvidia-h100-80gb' is not offered with machine type 'n1-standard-8'",
         "nvidia-tesla-p100, nvidia-tesla-p4, nvidia-tesla-t4, nvidia-tesla-v100", "a3-highgpu-8g"],
    ),
    "count the A2 shape does not have": (
        {"gcp_compute_machine_type": "a2-highgpu-2g", "gcp_compute_accelerator_count": 1},
        ["Machine type 'a2-highgpu-2g' does not allow 1 nvidia-tesla-a100 GPU(s)",
         "set gcp_compute_accelerator_count to 2", "the count is fixed by the machine type's shape"],
    ),
    "count the N1 family does not allow": (
        {"gcp_compute_machine_type": "n1-highmem-16", "gcp_compute_accelerator_type": "nvidia-tesla-t4",
         "gcp_compute_accelerator_count": 3},
        ["Machine type 'n1-highmem-16' does not allow 3 nvidia-tesla-t4 GPU(s)",
         "set gcp_compute_accelerator_count to one of 1, 2, 4"],
    ),
    "zone not in the region": (
        {"gcp_compute_region": "us-central1", "gcp_compute_zone": "us-east1-b"},
        ["Zone 'us-east1-b' is not in region us-central1",
         "set gcp_compute_zone to one of us-central1-a, us-central1-b, us-central1-c, us-central1-f"],
    ),
    "zone that does not exist": (
        {"gcp_compute_region": "europe-west4", "gcp_compute_zone": "europe-west4-d"},
        ["Zone 'europe-west4-d' is not in region europe-west4", "europe-west4-a, europe-west4-b, europe-west4-c"],
    ),
    "unknown region": (
        {"gcp_compute_region": "mars-north1", "gcp_compute_zone": "mars-north1-a"},
        ["Unknown region 'mars-north1'", "add it and its zones to gcp_compute_region_zones"],
    ),
    "spot VM that restarts automatically": (
        {"gcp_compute_provisioning": "spot", "gcp_compute_automatic_restart": True},
        ["gcp_compute_automatic_restart is true with gcp_compute_provisioning=spot",
         "set gcp_compute_automatic_restart to false"],
    ),
    "preemptible VM that restarts automatically": (
        {"gcp_compute_provisioning": "preemptible", "gcp_compute_automatic_restart": True},
        ["gcp_compute_automatic_restart is true with gcp_compute_provisioning=preemptible"],
    ),
    "GPU VM that live-migrates": (
        {"gcp_compute_on_host_maintenance": "MIGRATE"},
        ["gcp_compute_on_host_maintenance is 'MIGRATE'", "it must be TERMINATE"],
    ),
    "unknown provisioning model (argument spec)": (
        {"gcp_compute_provisioning": "reserved"},
        ["gcp_compute_provisioning", "spot, preemptible, standard", "reserved"],
    ),
    "project that is not a project ID": (
        {"gcp_compute_project": "My Project"},
        ["gcp_compute_project 'My Project' is not a project ID"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_settings_are_rejected_with_what_to_fix(case):
    role_vars, messages = CASES[case]
    run = play(**role_vars)
    assert run.rc != 0, run.output[-3000:]
    text = flat(run)
    for message in messages:
        assert message in text, f"{message!r} not in:\n{run.output[-3000:]}"
    assert "GCP compute settings valid" not in run.output


def test_several_problems_are_reported_together():
    run = play(gcp_compute_zone="us-east1-b", gcp_compute_on_host_maintenance="MIGRATE")
    assert run.rc != 0
    text = flat(run)
    assert "Zone 'us-east1-b' is not in region us-central1" in text
    assert "it must be TERMINATE" in text


@pytest.mark.parametrize(
    "role_vars",
    [
        {},  # the defaults: a2-highgpu-1g with 1 A100, spot, us-central1-a
        {"gcp_compute_machine_type": "a2-ultragpu-8g", "gcp_compute_accelerator_type": "nvidia-a100-80gb",
         "gcp_compute_accelerator_count": 8, "gcp_compute_region": "europe-west4", "gcp_compute_zone": "europe-west4-a"},
        {"gcp_compute_machine_type": "g2-standard-48", "gcp_compute_accelerator_type": "nvidia-l4",
         "gcp_compute_accelerator_count": 4, "gcp_compute_provisioning": "standard",
         "gcp_compute_automatic_restart": True, "gcp_compute_region": "us-east1", "gcp_compute_zone": "us-east1-c"},
        {"gcp_compute_machine_type": "n1-standard-8", "gcp_compute_accelerator_type": "nvidia-tesla-t4",
         "gcp_compute_accelerator_count": "2", "gcp_compute_provisioning": "preemptible"},
    ],
    ids=["defaults", "a2-ultragpu-8g", "g2-standard-48 on-demand", "n1 with T4 count as a string"],
)
def test_valid_settings_pass(role_vars):
    run = play(**role_vars)
    assert run.rc == 0, run.output[-3000:]
    assert "GCP compute settings valid" in run.output
