"""The data_volume role rejects bad input before it changes anything on the host.

Variable checks run against a container that does not exist (a pass would have to reach
it); the missing device runs against a real twin host and checks that nothing changed.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from platform_harness import REPO
from platform_harness import run_playbook

PLAYBOOK = "tests/integration/playbooks/data_volume_validate.yml"
IMAGE = "localhost/mlinfra-twin-host:bookworm"


def extra_vars(**values) -> list[str]:
    return ["-e", json.dumps(values)]


CASES = {
    "relative mount point": (extra_vars(data_volume_mount_point="data", data_volume_device_name="/dev/sdf"),
                             "data_volume_mount_point must be an absolute path other than / (got 'data')"),
    "mount point /": (extra_vars(data_volume_mount_point="/", data_volume_device_name="/dev/sdf"),
                      "data_volume_mount_point must be an absolute path other than / (got '/')"),
    "malformed volume id": (extra_vars(data_volume_ebs_volume_id="vol-XYZ"),
                            "data_volume_ebs_volume_id must look like vol-0123456789abcdef0 (got 'vol-XYZ')"),
    "device outside /dev": (extra_vars(data_volume_device="/tmp/disk.img"),
                            "data_volume_device a path under /dev (got '/tmp/disk.img')"),
    "mount options without nofail": (extra_vars(data_volume_device_name="/dev/sdf", data_volume_mount_opts="defaults"),
                                     "data_volume_mount_opts must include nofail"),
    "unknown filesystem": (extra_vars(data_volume_device_name="/dev/sdf", data_volume_fstype="vfat"),
                           "data_volume_fstype"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_rejected_before_the_host(case: str):
    args, message = CASES[case]
    run = run_playbook(PLAYBOOK, *args)
    assert run.rc != 0, run.output[-2000:]
    assert message in " ".join(run.output.split()), run.output[-2000:]
    assert "mlinfra-data-volume-no-such-container" not in run.output, "the host was contacted"


def test_a_valid_input_does_reach_the_host():
    """Control case: the checks above fail in validation, not because any run fails."""
    run = run_playbook(PLAYBOOK, *extra_vars(data_volume_device_name="/dev/sdf"))
    assert run.rc != 0
    assert "mlinfra-data-volume-no-such-container" in run.output


@pytest.fixture(scope="module")
def host():
    build = subprocess.run([str(REPO / "twin" / "hosts" / "build-image.sh")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    name = f"mlinfra-data-volume-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "run", "-d", "--name", name, "--cap-add", "SYS_ADMIN", "--systemd", "always", IMAGE],
                   check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "1", name], capture_output=True)


def test_a_device_that_does_not_exist_fails_before_any_change(host: str):
    fstab = subprocess.run(["podman", "exec", host, "cat", "/etc/fstab"], capture_output=True, text=True).stdout
    run = run_playbook(PLAYBOOK, *extra_vars(data_volume_test_container=host, data_volume_ebs_volume_id="vol-0123456789abcdef0",
                                             data_volume_device_name="/dev/sdz"))
    assert run.rc != 0
    flat = " ".join(run.output.split())
    assert "The data volume vol-0123456789abcdef0 is not on data-volume-host" in flat, flat[-2000:]
    assert "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0, " in flat
    assert "/dev/sdz, /dev/xvdz exists" in flat
    assert "changed=0" in flat
    assert subprocess.run(["podman", "exec", host, "cat", "/etc/fstab"], capture_output=True, text=True).stdout == fstab
    assert subprocess.run(["podman", "exec", host, "test", "-e", "/data"]).returncode != 0
