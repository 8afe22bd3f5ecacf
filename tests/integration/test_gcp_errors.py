"""A GCP request the server refuses shows the server's own message (google.cloud's error path
would hide it), through the modules of this collection, against the twin's GCP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from platform_harness import REPO
from platform_harness import VENV_BIN

sys.path.insert(0, str(REPO / "tests" / "twin"))
from emulator import running  # noqa: E402

AUTH = {"project": "mlinfra-errors", "auth_kind": "accesstoken", "access_token": "errors-token"}
VM = {
    "name": "gpu-1", "zone": "us-central1-a", "machine_type": "a2-highgpu-1g",
    "accelerators": [{"type": "nvidia-tesla-a100", "count": 1}],
    "boot_disk": {"image": "projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu", "size_gb": 50},
    "provisioning": "spot", "automatic_restart": False, "on_host_maintenance": "TERMINATE",
}


@pytest.fixture(scope="module")
def gcp_url():
    with running("gcp_api.py") as url:
        yield url


def module(gcp_url, name, args, check=False):
    env = {**os.environ, "PYTHONPATH": str(REPO / "twin" / "gcp_redirect"), "TWIN_GCP_URL": gcp_url,
           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_NOCOLOR": "1"}
    cmd = [str(VENV_BIN / "ansible"), "localhost", "-m", f"mlinfra.gpu_platform.{name}", "-a", json.dumps({**AUTH, **args})]
    proc = subprocess.run(cmd + (["--check"] if check else []), cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    out, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_a_network_that_does_not_exist(gcp_url):
    result = module(gcp_url, "gcp_compute_gpu_instance", {**VM, "network": "no-such-net"})
    assert result.get("failed"), result
    assert "HTTP 404 NOT_FOUND: The resource 'projects/mlinfra-errors/global/networks/no-such-net' was not found" \
        in result["msg"], result["msg"]
    assert "errors-token" not in json.dumps(result), "the token is never shown"


def test_a_gpu_count_the_machine_type_refuses_shows_the_servers_reason(gcp_url):
    # Client-side checks are the roles'; the module lets the API judge, and shows its verdict.
    bad = {**VM, "name": "gpu-2", "machine_type": "n1-standard-8", "accelerators": [{"type": "nvidia-tesla-t4", "count": 3}]}
    result = module(gcp_url, "gcp_compute_gpu_instance", bad)
    assert result.get("failed"), result
    assert "HTTP 400" in result["msg"], result["msg"]
    assert "nvidia-tesla-t4" in result["msg"] or "accelerator" in result["msg"].lower(), result["msg"]


def test_a_member_the_policy_refuses_shows_the_servers_reason(gcp_url):
    result = module(gcp_url, "gcp_project_iam_member", {"role": "roles/storage.objectAdmin",
                                                        "member": "serviceAccount:nobody@mlinfra-errors.iam.gserviceaccount.com"})
    # The twin, like GCP, refuses a binding to a service account that does not exist.
    if not result.get("failed"):
        pytest.skip("the twin accepts bindings to unknown service accounts")
    assert "HTTP 400" in result["msg"], result["msg"]
