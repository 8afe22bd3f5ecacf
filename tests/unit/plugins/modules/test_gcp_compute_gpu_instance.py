# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.gcp_compute_gpu_instance.

No network: google.cloud's GcpSession.session() is replaced by FakeCompute, an in-memory Compute
Engine zone that answers instances.get/insert/delete, the set* methods (checking fingerprints),
disks.get and zone operations (RUNNING for a poll or two, then DONE) in the API's shapes, and
records every request.
"""

from __future__ import annotations

import copy
import json
from unittest.mock import patch
from urllib.parse import urlparse

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.google.cloud.plugins.module_utils import gcp_utils
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils import gcp_http
from ansible_collections.mlinfra.gpu_platform.plugins.modules import gcp_compute_gpu_instance as mod

import module_harness
from gcp_fakes import FakeResponse  # tests/unit/gcp_fakes.py, on sys.path through tests/unit/conftest.py

PROJECT = "my-ml-project"
ZONE = "us-central1-a"
REGION = "us-central1"
NAME = "trainer-0"
API = "https://compute.googleapis.com/compute/v1/"
LINK = "https://www.googleapis.com/compute/v1/"
ZONE_PATH = f"projects/{PROJECT}/zones/{ZONE}"
INSTANCES_URL = f"{API}{ZONE_PATH}/instances"
INSTANCE_URL = f"{INSTANCES_URL}/{NAME}"
IMAGE = "projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu"
SA_EMAIL = f"gpu-trainer@{PROJECT}.iam.gserviceaccount.com"
AUTH = {"auth_kind": "accesstoken", "access_token": "fake-token-never-shown"}


def api_error(code, status, message, reason="invalid"):
    return (
        code,
        {
            "error": {
                "code": code,
                "status": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
            }
        },
    )


def path_of(url):
    """'projects/...' of an API URL on either host."""
    parsed = urlparse(url)
    assert parsed.netloc in ("compute.googleapis.com", "www.googleapis.com"), url
    assert parsed.path.startswith("/compute/v1/"), url
    return parsed.path[len("/compute/v1/") :]


class FakeCompute:
    """One zone of Compute Engine. `errors` maps (METHOD, path suffix) to queued (status, body);
    `op_errors` maps an operation type (insert, delete, setLabels...) to the error.errors[] its
    operation finishes with; `polls_until_done` is how many GETs an operation stays RUNNING."""

    def __init__(self, instance=None, disks=None):
        self.instances = {}
        if instance is not None:
            self.instances[instance["name"]] = copy.deepcopy(instance)
        self.disks = copy.deepcopy(disks or {})
        self.operations = {}
        self.requests = []
        self.errors = {}
        self.op_errors = {}
        self.polls_until_done = 1
        self.op_n = 0
        self.fp_n = 100

    # -- requests --------------------------------------------------------------------------

    def get(self, url, params=None, headers=None, timeout=None):
        return self._handle("GET", url, None, params, headers, timeout)

    def post(self, url, json=None, headers=None, timeout=None, params=None):
        return self._handle("POST", url, json, params, headers, timeout)

    def delete(self, url, params=None, headers=None, timeout=None):
        return self._handle("DELETE", url, None, params, headers, timeout)

    def _handle(self, method, url, body, params, headers, timeout):
        assert timeout, "every request has a timeout"
        assert headers["User-Agent"] == "Google-Ansible-MM-compute"
        path = path_of(url)
        self.requests.append({"method": method, "path": path, "body": copy.deepcopy(body), "params": params})
        for (m, suffix), queue in self.errors.items():
            if m == method and path.endswith(suffix) and queue:
                return FakeResponse(*queue.pop(0))
        parts = path.split("/")
        assert parts[:4] == ["projects", PROJECT, "zones", ZONE], path
        rest = parts[4:]
        if rest[0] == "operations" and method == "GET":
            return self._poll(rest[1])
        if rest[0] == "disks" and method == "GET":
            disk = self.disks.get(rest[1])
            return FakeResponse(200, disk) if disk else self._not_found(path)
        assert rest[0] == "instances", path
        if len(rest) == 1 and method == "POST":
            return self._insert(body)
        name = rest[1]
        instance = self.instances.get(name)
        if instance is None:
            return self._not_found(path)
        if len(rest) == 2 and method == "GET":
            return FakeResponse(200, instance)
        if len(rest) == 2 and method == "DELETE":
            if instance.get("deletionProtection"):
                return FakeResponse(
                    *api_error(
                        400,
                        "INVALID_ARGUMENT",
                        "Invalid resource usage: 'Resource " "cannot be deleted if it's protected against deletion.'.",
                    )
                )
            return self._operation("delete", name, lambda: self.instances.pop(name))
        assert method == "POST" and len(rest) == 3, path
        return self._set(rest[2], name, instance, body, params or {})

    # -- behaviour ---------------------------------------------------------------------------

    def _not_found(self, path):
        return FakeResponse(*api_error(404, "NOT_FOUND", f"The resource '{path}' was not found", "notFound"))

    def _fp(self):
        self.fp_n += 1
        return f"fp{self.fp_n}="

    def _operation(self, op_type, name, apply):
        self.op_n += 1
        op_name = f"operation-{self.op_n}"
        op = {
            "kind": "compute#operation",
            "id": str(9000 + self.op_n),
            "name": op_name,
            "zone": f"{LINK}{ZONE_PATH}",
            "operationType": op_type,
            "targetLink": f"{LINK}{ZONE_PATH}/instances/{name}",
            "status": "RUNNING",
            "progress": 0,
            "selfLink": f"{LINK}{ZONE_PATH}/operations/{op_name}",
        }
        if self.polls_until_done == 0:
            op["status"] = "DONE"
        self.operations[op_name] = {"op": op, "polls": 0, "apply": apply}
        if op["status"] == "DONE":
            self._finish(op_name)
        return FakeResponse(200, self.operations[op_name]["op"])

    def _finish(self, op_name):
        entry = self.operations[op_name]
        op = entry["op"]
        op["status"] = "DONE"
        op["progress"] = 100
        errors = self.op_errors.get(op["operationType"])
        if errors:
            op["error"] = {"errors": errors}
            op["httpErrorStatusCode"] = 503 if errors[0]["code"] == "ZONE_RESOURCE_POOL_EXHAUSTED" else 400
            op["httpErrorMessage"] = "SERVICE UNAVAILABLE"
        elif entry["apply"]:
            entry["apply"]()
            entry["apply"] = None

    def _poll(self, op_name):
        entry = self.operations[op_name]
        if entry["op"]["status"] != "DONE":
            entry["polls"] += 1
            if entry["polls"] >= self.polls_until_done:
                self._finish(op_name)
        return FakeResponse(200, entry["op"])

    def _insert(self, body):
        name = body["name"]
        if name in self.instances:
            return FakeResponse(
                *api_error(
                    409,
                    "ALREADY_EXISTS",
                    f"The resource '{ZONE_PATH}/instances/{name}' " "already exists",
                    "alreadyExists",
                )
            )
        return self._operation("insert", name, lambda: self.instances.__setitem__(name, self._created(body)))

    def _created(self, body):
        """What the API returns for an instance created from `body`."""
        inst = {
            "kind": "compute#instance",
            "id": "4567890123456789012",
            "name": body["name"],
            "creationTimestamp": "2026-01-01T00:00:00.000-08:00",
            "status": "RUNNING",
            "zone": f"{LINK}{ZONE_PATH}",
            "selfLink": f"{LINK}{ZONE_PATH}/instances/{body['name']}",
            "machineType": LINK + body["machineType"],
            "cpuPlatform": "Intel Cascade Lake",
            "labelFingerprint": self._fp(),
            "fingerprint": self._fp(),
            "startRestricted": False,
            "deletionProtection": body.get("deletionProtection", False),
        }
        disks = []
        for i, disk in enumerate(body["disks"]):
            if disk.get("boot"):
                params = disk["initializeParams"]
                src = f"{LINK}{ZONE_PATH}/disks/{body['name']}"
                self.disks[body["name"]] = {
                    "name": body["name"],
                    "sizeGb": params.get("diskSizeGb", "50"),
                    "type": LINK + params.get("diskType", f"{ZONE_PATH}/diskTypes/pd-standard"),
                    "sourceImage": f"{LINK}projects/deeplearning-platform-release/global/images/pytorch-2-4-cu124-v20250101",
                    "selfLink": src,
                }
                disks.append(
                    {
                        "kind": "compute#attachedDisk",
                        "type": "PERSISTENT",
                        "mode": "READ_WRITE",
                        "source": src,
                        "deviceName": "persistent-disk-0",
                        "index": 0,
                        "boot": True,
                        "autoDelete": disk["autoDelete"],
                        "interface": "SCSI",
                        "diskSizeGb": params.get("diskSizeGb", "50"),
                        "architecture": "X86_64",
                        "licenses": [f"{LINK}projects/deeplearning-platform-release/global/licenses/x"],
                    }
                )
            else:
                src = disk["source"] if disk["source"].startswith("https://") else LINK + disk["source"]
                disks.append(
                    {
                        "kind": "compute#attachedDisk",
                        "type": "PERSISTENT",
                        "mode": disk["mode"],
                        "source": src,
                        "deviceName": disk.get("deviceName", f"persistent-disk-{i}"),
                        "index": i,
                        "boot": False,
                        "autoDelete": disk["autoDelete"],
                        "interface": "SCSI",
                        "diskSizeGb": "1000",
                    }
                )
        inst["disks"] = disks
        nic_in = body["networkInterfaces"][0]
        nic = {
            "kind": "compute#networkInterface",
            "name": "nic0",
            "networkIP": "10.128.0.5",
            "fingerprint": self._fp(),
            "stackType": "IPV4_ONLY",
            "network": LINK + nic_in.get("network", "projects/my-ml-project/global/networks/ml-vpc"),
            "subnetwork": LINK + nic_in.get("subnetwork", f"projects/{PROJECT}/regions/{REGION}/subnetworks/default"),
        }
        if nic_in.get("accessConfigs"):
            nic["accessConfigs"] = [
                {
                    "kind": "compute#accessConfig",
                    "type": "ONE_TO_ONE_NAT",
                    "name": "External NAT",
                    "natIP": "34.123.45.67",
                    "networkTier": "PREMIUM",
                }
            ]
        inst["networkInterfaces"] = [nic]
        sched = dict(body["scheduling"])
        # What the API reports: a Spot VM is also preemptible; the defaults are filled in.
        if sched.get("provisioningModel") == "SPOT":
            sched["preemptible"] = True
            sched.setdefault("instanceTerminationAction", "STOP")
        sched.setdefault("preemptible", False)
        if not sched.get("preemptible"):
            sched.setdefault("provisioningModel", "STANDARD")
        inst["scheduling"] = sched
        if body.get("guestAccelerators"):
            inst["guestAccelerators"] = [
                {"acceleratorType": LINK + a["acceleratorType"], "acceleratorCount": a["acceleratorCount"]}
                for a in body["guestAccelerators"]
            ]
        elif body["machineType"].rsplit("/", 1)[-1].startswith("a2-highgpu-1g"):
            inst["guestAccelerators"] = [
                {"acceleratorType": f"{LINK}{ZONE_PATH}/acceleratorTypes/nvidia-tesla-a100", "acceleratorCount": 1}
            ]
        inst["tags"] = {"fingerprint": self._fp()}
        if body.get("tags", {}).get("items"):
            inst["tags"]["items"] = list(body["tags"]["items"])
        inst["metadata"] = {"kind": "compute#metadata", "fingerprint": self._fp()}
        if body.get("metadata", {}).get("items"):
            inst["metadata"]["items"] = copy.deepcopy(body["metadata"]["items"])
        if body.get("labels"):
            inst["labels"] = dict(body["labels"])
        if body.get("serviceAccounts"):
            inst["serviceAccounts"] = copy.deepcopy(body["serviceAccounts"])
        return inst

    def _set(self, method, name, inst, body, params):
        def conflict():
            return FakeResponse(
                *api_error(
                    412,
                    "FAILED_PRECONDITION",
                    "Supplied fingerprint does not match current " "metadata fingerprint.",
                    "conditionNotMet",
                )
            )

        if method == "setLabels":
            if body.get("labelFingerprint") != inst["labelFingerprint"]:
                return conflict()

            def apply():
                inst["labels"] = dict(body["labels"])
                inst["labelFingerprint"] = self._fp()

        elif method == "setMetadata":
            if body.get("fingerprint") != inst["metadata"]["fingerprint"]:
                return conflict()

            def apply():
                inst["metadata"] = {"kind": "compute#metadata", "fingerprint": self._fp(), "items": body["items"]}

        elif method == "setTags":
            if body.get("fingerprint") != inst["tags"]["fingerprint"]:
                return conflict()

            def apply():
                inst["tags"] = {"fingerprint": self._fp(), "items": body["items"]}

        elif method == "setDeletionProtection":

            def apply():
                inst["deletionProtection"] = params["deletionProtection"] == "true"

        elif method == "setDiskAutoDelete":

            def apply():
                (disk,) = [d for d in inst["disks"] if d["deviceName"] == params["deviceName"]]
                disk["autoDelete"] = params["autoDelete"] == "true"

        else:
            raise AssertionError(f"unexpected method {method}")
        return self._operation(method, name, apply)

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method=None, suffix=""):
        return [r for r in self.requests if (method is None or r["method"] == method) and r["path"].endswith(suffix)]

    def writes(self):
        return [r for r in self.requests if r["method"] in ("POST", "DELETE")]


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(gcp_http.time, "sleep", lambda _s: None)


@pytest.fixture(autouse=True)
def _libraries(monkeypatch):
    monkeypatch.setattr(gcp_utils, "HAS_GOOGLE_LIBRARIES", True)
    monkeypatch.setattr(gcp_utils, "HAS_REQUESTS", True)


def base_args(**overrides):
    args = dict(
        project=PROJECT,
        zone=ZONE,
        name=NAME,
        machine_type="n1-standard-8",
        accelerators=[{"type": "nvidia-tesla-t4", "count": 2}],
        boot_disk={"image": IMAGE, "size_gb": 200, "type": "pd-ssd"},
        data_disks=[{"source": "training-data", "device_name": "data"}],
        subnetwork="ml-private",
        network_tags=["gpu-training", "ssh"],
        service_account={"email": SA_EMAIL, "scopes": ["cloud-platform", "storage-ro"]},
        metadata={"enable-oslogin": "TRUE", "install-nvidia-driver": True},
        labels={"project": "ml-platform", "environment": "dev"},
        provisioning="spot",
    )
    args.update(overrides)
    return args


def run(session, check_mode=False, diff=True, **args):
    module_args = dict(AUTH)
    module_args.update(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff

    def _session(self):
        if session is None:
            raise AssertionError("no request may be sent")
        return session

    with patch_module_args(module_args), patch.multiple(
        "ansible.module_utils.basic.AnsibleModule",
        exit_json=module_harness._exit_json,
        fail_json=module_harness._fail_json,
    ), patch.object(gcp_utils.GcpSession, "session", _session):
        try:
            mod.main()
        except module_harness.ExitJson as e:
            return e.result, False
        except module_harness.FailJson as e:
            return e.result, True
    raise AssertionError("module neither exited nor failed")  # pragma: no cover


def created(session=None, **overrides):
    """A FakeCompute holding the instance created with base_args(**overrides)."""
    session = session or FakeCompute()
    result, failed = run(session, **base_args(**overrides))
    assert not failed, result
    session.requests.clear()
    return session


def assert_no_secret(result):
    assert "fake-token-never-shown" not in json.dumps(result, default=str)


# ---------------------------------------------------------------------------
# creation
# ---------------------------------------------------------------------------


def test_create_request_body():
    session = FakeCompute()
    result, failed = run(session, **base_args())
    assert not failed, result
    assert result["changed"] is True
    assert result["actions"] == ["insert"]
    (insert,) = session.calls("POST", "/instances")
    body = insert["body"]
    assert body["name"] == NAME
    assert body["machineType"] == f"{ZONE_PATH}/machineTypes/n1-standard-8"
    assert body["guestAccelerators"] == [
        {"acceleratorType": f"{ZONE_PATH}/acceleratorTypes/nvidia-tesla-t4", "acceleratorCount": 2}
    ]
    assert body["scheduling"] == {
        "provisioningModel": "SPOT",
        "instanceTerminationAction": "STOP",
        "automaticRestart": False,
        "onHostMaintenance": "TERMINATE",
    }
    boot, data = body["disks"]
    assert boot == {
        "boot": True,
        "type": "PERSISTENT",
        "mode": "READ_WRITE",
        "autoDelete": True,
        "initializeParams": {"sourceImage": IMAGE, "diskSizeGb": "200", "diskType": f"{ZONE_PATH}/diskTypes/pd-ssd"},
    }
    assert data == {
        "boot": False,
        "type": "PERSISTENT",
        "source": f"{ZONE_PATH}/disks/training-data",
        "mode": "READ_WRITE",
        "autoDelete": False,
        "deviceName": "data",
    }
    assert body["networkInterfaces"] == [{"subnetwork": f"projects/{PROJECT}/regions/{REGION}/subnetworks/ml-private"}]
    assert body["tags"] == {"items": ["gpu-training", "ssh"]}
    assert body["serviceAccounts"] == [
        {
            "email": SA_EMAIL,
            "scopes": [
                "https://www.googleapis.com/auth/cloud-platform",
                "https://www.googleapis.com/auth/devstorage.read_only",
            ],
        }
    ]
    assert body["metadata"] == {
        "items": [{"key": "enable-oslogin", "value": "TRUE"}, {"key": "install-nvidia-driver", "value": "true"}]
    }
    assert body["labels"] == {"project": "ml-platform", "environment": "dev"}
    assert body["deletionProtection"] is False
    # waited for the operation, then read the instance back
    assert [r["method"] for r in session.requests] == ["GET", "POST", "GET", "GET"]
    assert session.requests[2]["path"].endswith("/operations/operation-1")
    assert result["instance"]["status"] == "RUNNING"
    assert result["id"] == "4567890123456789012"
    assert result["private_ip"] == "10.128.0.5"
    assert result["public_ip"] is None
    assert result["self_link"] == f"{LINK}{ZONE_PATH}/instances/{NAME}"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["provisioning"] == "spot"
    assert result["diff"]["after"]["boot_disk"]["image"] == IMAGE
    assert_no_secret(result)


@pytest.mark.parametrize(
    "args, scheduling",
    [
        (
            {"provisioning": "spot"},
            {
                "provisioningModel": "SPOT",
                "instanceTerminationAction": "STOP",
                "automaticRestart": False,
                "onHostMaintenance": "TERMINATE",
            },
        ),
        (
            {"provisioning": "spot", "instance_termination_action": "DELETE", "automatic_restart": False},
            {
                "provisioningModel": "SPOT",
                "instanceTerminationAction": "DELETE",
                "automaticRestart": False,
                "onHostMaintenance": "TERMINATE",
            },
        ),
        (
            {"provisioning": "preemptible"},
            {"preemptible": True, "automaticRestart": False, "onHostMaintenance": "TERMINATE"},
        ),
        (
            {"provisioning": "standard"},
            {"provisioningModel": "STANDARD", "automaticRestart": True, "onHostMaintenance": "TERMINATE"},
        ),
        (
            {"provisioning": "standard", "accelerators": [], "automatic_restart": False},
            {"provisioningModel": "STANDARD", "automaticRestart": False, "onHostMaintenance": "MIGRATE"},
        ),
        (
            {"provisioning": "standard", "machine_type": "g2-standard-8", "accelerators": None},
            {"provisioningModel": "STANDARD", "automaticRestart": True, "onHostMaintenance": "TERMINATE"},
        ),
    ],
)
def test_scheduling_per_provisioning_and_idempotent(args, scheduling):
    session = FakeCompute()
    result, failed = run(session, **base_args(**args))
    assert not failed, result
    (insert,) = session.calls("POST", "/instances")
    assert insert["body"]["scheduling"] == scheduling
    session.requests.clear()
    again, failed = run(session, **base_args(**args))
    assert not failed, again
    assert again["changed"] is False, again.get("diff")
    assert not session.writes()


def test_builtin_gpu_machine_type_sends_no_accelerators_and_stays_idempotent():
    session = FakeCompute()
    args = base_args(machine_type="a2-highgpu-1g", accelerators=[{"type": "nvidia-tesla-a100", "count": 1}])
    result, failed = run(session, **args)
    assert not failed, result
    (insert,) = session.calls("POST", "/instances")
    assert "guestAccelerators" not in insert["body"]
    assert result["instance"]["guestAccelerators"][0]["acceleratorCount"] == 1
    session.requests.clear()
    again, _ = run(session, **args)
    assert again["changed"] is False
    # and without the accelerators option
    again, _ = run(session, **base_args(machine_type="a2-highgpu-1g", accelerators=None))
    assert again["changed"] is False


def test_external_ip_and_network_by_url():
    session = FakeCompute()
    result, failed = run(
        session,
        **base_args(
            external_ip=True,
            subnetwork=None,
            network=f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/ml-vpc",
        ),
    )
    assert not failed, result
    (insert,) = session.calls("POST", "/instances")
    assert insert["body"]["networkInterfaces"] == [
        {
            "network": f"projects/{PROJECT}/global/networks/ml-vpc",
            "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}],
        }
    ]
    assert result["public_ip"] == "34.123.45.67"
    again, _ = run(session, **base_args(external_ip=True, subnetwork=None, network="ml-vpc"))
    assert again["changed"] is False, "a URL and a name of the same network compare equal"


def test_default_network_when_none_given():
    session = FakeCompute()
    run(session, **base_args(subnetwork=None))
    (insert,) = session.calls("POST", "/instances")
    assert insert["body"]["networkInterfaces"] == [{"network": f"projects/{PROJECT}/global/networks/default"}]


def test_empty_network_and_subnetwork_are_unset():
    session = FakeCompute()
    result, failed = run(session, **base_args(network="", subnetwork=""))
    assert not failed, result
    (insert,) = session.calls("POST", "/instances")
    assert insert["body"]["networkInterfaces"] == [{"network": f"projects/{PROJECT}/global/networks/default"}]


def test_service_account_default_email_and_scope_urls_idempotent():
    session = FakeCompute()
    args = base_args(service_account={"email": "default"})
    run(session, **args)
    (insert,) = session.calls("POST", "/instances")
    assert insert["body"]["serviceAccounts"] == [
        {"email": "default", "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
    ]
    # The API reports the resolved e-mail.
    session.instances[NAME]["serviceAccounts"][0]["email"] = "123456789-compute@developer.gserviceaccount.com"
    again, _ = run(session, **args)
    assert again["changed"] is False
    again, _ = run(
        session,
        **base_args(service_account={"email": "default", "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}),
    )
    assert again["changed"] is False


def test_check_mode_create_sends_no_write_and_returns_would_be_instance():
    session = FakeCompute()
    result, failed = run(session, check_mode=True, **base_args())
    assert not failed, result
    assert result["changed"] is True
    assert not session.writes(), "check mode sends no POST/DELETE"
    assert [r["method"] for r in session.requests] == ["GET"]
    assert result["instance"]["name"] == NAME
    assert result["instance"]["scheduling"]["provisioningModel"] == "SPOT"
    assert result["self_link"] == f"{LINK}{ZONE_PATH}/instances/{NAME}"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["accelerators"] == [{"type": "nvidia-tesla-t4", "count": 2}]
    assert not session.instances


# ---------------------------------------------------------------------------
# idempotence and updates in place
# ---------------------------------------------------------------------------


def test_unchanged_instance_is_not_changed_and_nothing_written():
    session = created()
    result, failed = run(session, **base_args())
    assert not failed, result
    assert result["changed"] is False
    assert result["actions"] == []
    assert not session.writes()
    assert result["diff"]["before"] == result["diff"]["after"]
    # boot_disk.type is compared by reading the boot disk
    assert session.calls("GET", f"/disks/{NAME}")
    assert result["id"] == "4567890123456789012"


def test_urls_and_short_names_compare_equal():
    session = created()
    result, failed = run(
        session,
        **base_args(
            machine_type=f"{LINK}{ZONE_PATH}/machineTypes/n1-standard-8",
            accelerators=[{"type": f"{ZONE_PATH}/acceleratorTypes/nvidia-tesla-t4", "count": 2}],
            boot_disk={
                "image": "projects/debian-cloud/global/images/family/debian-12",  # image not compared
                "size_gb": 200,
                "type": f"{LINK}{ZONE_PATH}/diskTypes/pd-ssd",
            },
            data_disks=[{"source": f"{LINK}{ZONE_PATH}/disks/training-data", "device_name": "data"}],
            subnetwork=f"projects/{PROJECT}/regions/{REGION}/subnetworks/ml-private",
            network_tags=["ssh", "gpu-training", "ssh"],
            service_account={
                "email": SA_EMAIL,
                "scopes": ["https://www.googleapis.com/auth/devstorage.read_only", "cloud-platform"],
            },
        ),
    )
    assert not failed, result
    assert result["changed"] is False, result["diff"]
    assert not session.writes()


def test_output_only_fields_ignored():
    session = created()
    inst = session.instances[NAME]
    inst.update(
        status="TERMINATED",
        lastStartTimestamp="2026-01-02T00:00:00Z",
        satisfiesPzi=True,
        resourceStatus={"scheduling": {}},
        shieldedInstanceConfig={"enableSecureBoot": False},
    )
    inst["networkInterfaces"][0]["networkIP"] = "10.128.0.99"
    inst["disks"].append(
        {
            "type": "SCRATCH",
            "mode": "READ_WRITE",
            "deviceName": "local-ssd-0",
            "boot": False,
            "autoDelete": True,
            "interface": "NVME",
        }
    )
    result, _ = run(session, **base_args())
    assert result["changed"] is False, result["diff"]


def test_labels_metadata_tags_updated_in_place_with_fingerprints():
    session = created()
    inst = session.instances[NAME]
    fps = (inst["labelFingerprint"], inst["metadata"]["fingerprint"], inst["tags"]["fingerprint"])
    result, failed = run(
        session,
        **base_args(
            labels={"project": "ml-platform", "environment": "staging"},
            metadata={"enable-oslogin": "FALSE"},
            network_tags=["gpu-training"],
        ),
    )
    assert not failed, result
    assert result["changed"] is True
    assert result["actions"] == ["setLabels", "setMetadata", "setTags"]
    (labels,) = session.calls("POST", "/setLabels")
    assert labels["body"] == {
        "labels": {"project": "ml-platform", "environment": "staging"},
        "labelFingerprint": fps[0],
    }
    (metadata,) = session.calls("POST", "/setMetadata")
    assert metadata["body"] == {"items": [{"key": "enable-oslogin", "value": "FALSE"}], "fingerprint": fps[1]}
    (tags,) = session.calls("POST", "/setTags")
    assert tags["body"] == {"items": ["gpu-training"], "fingerprint": fps[2]}
    assert len([r for r in session.requests if "/operations/" in r["path"]]) == 3, "each operation waited for"
    assert result["instance"]["labels"]["environment"] == "staging"
    assert result["diff"]["before"]["labels"]["environment"] == "dev"
    assert result["diff"]["after"]["labels"]["environment"] == "staging"
    assert not session.calls("DELETE")
    again, _ = run(
        session,
        **base_args(
            labels={"project": "ml-platform", "environment": "staging"},
            metadata={"enable-oslogin": "FALSE"},
            network_tags=["gpu-training"],
        ),
    )
    assert again["changed"] is False


def test_purge_false_merges_labels_and_metadata():
    session = created()
    session.instances[NAME]["metadata"]["items"].append({"key": "ssh-keys", "value": "alice:ssh-ed25519 AAAA"})
    result, failed = run(
        session,
        **base_args(
            labels={"owner": "alice"}, purge_labels=False, metadata={"enable-oslogin": "TRUE"}, purge_metadata=False
        ),
    )
    assert not failed, result
    assert result["actions"] == ["setLabels"]
    (labels,) = session.calls("POST", "/setLabels")
    assert labels["body"]["labels"] == {"project": "ml-platform", "environment": "dev", "owner": "alice"}


def test_unmanaged_options_are_not_compared():
    session = created()
    session.instances[NAME]["labels"]["added-by"] = "someone"
    result, _ = run(
        session,
        **base_args(
            labels=None, metadata=None, network_tags=None, service_account=None, data_disks=None, accelerators=None
        ),
    )
    assert result["changed"] is False, result["diff"]


def test_deletion_protection_and_auto_delete_in_place():
    session = created()
    result, failed = run(
        session,
        **base_args(
            deletion_protection=True,
            boot_disk={"image": IMAGE, "size_gb": 200, "type": "pd-ssd", "auto_delete": False},
            data_disks=[{"source": "training-data", "device_name": "data", "auto_delete": True}],
        ),
    )
    assert not failed, result
    assert result["actions"] == ["setDeletionProtection", "setDiskAutoDelete", "setDiskAutoDelete"]
    assert session.calls("POST", "/setDeletionProtection")[0]["params"] == {"deletionProtection": "true"}
    assert [c["params"] for c in session.calls("POST", "/setDiskAutoDelete")] == [
        {"autoDelete": "false", "deviceName": "persistent-disk-0"},
        {"autoDelete": "true", "deviceName": "data"},
    ]
    assert result["instance"]["deletionProtection"] is True


def test_check_mode_update_sends_no_write():
    session = created()
    before = copy.deepcopy(session.instances[NAME])
    result, failed = run(session, check_mode=True, **base_args(labels={"environment": "prod"}, network_tags=[]))
    assert not failed, result
    assert result["changed"] is True
    assert result["actions"] == ["setLabels", "setTags"]
    assert not session.writes()
    assert session.instances[NAME] == before
    assert result["instance"] == before
    assert result["diff"]["after"]["labels"] == {"environment": "prod"}
    assert result["diff"]["after"]["network_tags"] == []


def test_no_diff_without_diff_mode():
    result, _ = run(FakeCompute(), diff=False, **base_args())
    assert "diff" not in result


# ---------------------------------------------------------------------------
# immutable changes
# ---------------------------------------------------------------------------


def test_immutable_changes_refused_with_each_field_listed():
    session = created()
    result, failed = run(
        session,
        **base_args(
            machine_type="n1-standard-16",
            accelerators=[{"type": "nvidia-tesla-v100", "count": 1}],
            provisioning="standard",
            boot_disk={"image": IMAGE, "size_gb": 500, "type": "pd-balanced"},
            data_disks=[],
            subnetwork="other-subnet",
            external_ip=True,
            service_account={"email": f"other@{PROJECT}.iam.gserviceaccount.com"},
            labels={"environment": "prod"},  # updatable, but nothing is done
        ),
    )
    assert failed
    msg = result["msg"]
    assert "cannot be changed in place" in msg
    for part in (
        "machine_type: n1-standard-8 -> n1-standard-16",
        "accelerators: 2 nvidia-tesla-t4 -> 1 nvidia-tesla-v100",
        "provisioning: spot -> standard",
        "boot_disk.size_gb: 200 -> 500",
        "boot_disk.type: pd-ssd -> pd-balanced",
        "data_disks: training-data (READ_WRITE, device data) -> none",
        "subnetwork: ml-private -> other-subnet",
        "external_ip: false -> true",
        f"service_account: {SA_EMAIL}",
    ):
        assert part in msg, part
    assert "state=absent" in msg and "data disks are separate resources and are kept" in msg
    assert {c["field"] for c in result["immutable_changes"]} >= {"machine_type", "provisioning", "data_disks"}
    assert not session.writes(), "nothing is changed when a change cannot be made"


def test_spot_termination_action_change_refused():
    session = created()
    result, failed = run(session, **base_args(instance_termination_action="DELETE"))
    assert failed
    assert "instance_termination_action: STOP -> DELETE" in result["msg"]
    assert not session.writes()


def test_legacy_preemptible_instance_read_as_preemptible():
    session = created(provisioning="preemptible")
    sched = session.instances[NAME]["scheduling"]
    assert sched["preemptible"] is True and "provisioningModel" not in sched
    result, failed = run(session, **base_args(provisioning="spot"))
    assert failed
    assert "provisioning: preemptible -> spot" in result["msg"]
    same, _ = run(session, **base_args(provisioning="preemptible"))
    assert same["changed"] is False


def test_spot_reported_with_preemptible_true_is_spot():
    session = created()
    assert session.instances[NAME]["scheduling"]["preemptible"] is True
    result, _ = run(session, **base_args())
    assert result["changed"] is False
    assert result["diff"]["before"]["provisioning"] == "spot"


# ---------------------------------------------------------------------------
# absent
# ---------------------------------------------------------------------------


def test_absent_deletes_and_waits():
    session = created()
    result, failed = run(session, project=PROJECT, zone=ZONE, name=NAME, state="absent")
    assert not failed, result
    assert result["changed"] is True
    assert result["actions"] == ["delete"]
    assert [r["method"] for r in session.requests] == ["GET", "DELETE", "GET"]
    assert NAME not in session.instances
    assert result["instance"] == {}
    assert result["diff"]["after"] == {}
    assert result["diff"]["before"]["machine_type"] == "n1-standard-8"


def test_absent_when_missing_is_a_no_op():
    session = FakeCompute()
    result, failed = run(session, project=PROJECT, zone=ZONE, name=NAME, state="absent")
    assert not failed
    assert result["changed"] is False
    assert not session.writes()


def test_absent_check_mode_sends_no_delete():
    session = created()
    result, failed = run(session, check_mode=True, project=PROJECT, zone=ZONE, name=NAME, state="absent")
    assert not failed
    assert result["changed"] is True
    assert not session.writes()
    assert NAME in session.instances


def test_absent_refused_with_deletion_protection():
    session = created(deletion_protection=True)
    result, failed = run(session, project=PROJECT, zone=ZONE, name=NAME, state="absent")
    assert failed
    assert "deletion protection" in result["msg"]
    assert not session.writes()


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_http_error_message_shown():
    session = FakeCompute()
    message = f"Required 'compute.instances.create' permission for '{ZONE_PATH}/instances/{NAME}'"
    session.errors[("POST", "/instances")] = [api_error(403, "PERMISSION_DENIED", message, "forbidden")]
    result, failed = run(session, **base_args())
    assert failed
    assert result["msg"] == (
        f"Creating instance {NAME} in {PROJECT}/{ZONE} (instances.insert) failed: "
        f"HTTP 403 PERMISSION_DENIED: {message}"
    )
    assert result["error"]["message"] == message
    assert_no_secret(result)


def test_operation_error_message_shown():
    session = FakeCompute()
    message = (
        f"The zone '{ZONE_PATH}' does not have enough resources available to fulfill the request.  "
        "Try a different zone, or try again later."
    )
    session.op_errors["insert"] = [{"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": message}]
    result, failed = run(session, **base_args())
    assert failed
    assert "(instances.insert) failed: HTTP 503 ZONE_RESOURCE_POOL_EXHAUSTED: " + message in result["msg"]
    assert result["error"]["status"] == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert result["error"]["details"] == [{"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": message}]


def test_update_operation_error_message_shown():
    session = created()
    session.op_errors["setLabels"] = [{"code": "INVALID_FIELD_VALUE", "message": "Invalid value for field 'labels'."}]
    result, failed = run(session, **base_args(labels={"x": "y"}))
    assert failed
    assert "(setLabels) failed: HTTP 400 INVALID_FIELD_VALUE: Invalid value for field 'labels'." in result["msg"]
    assert result["changed"] is False


def test_failed_update_after_a_successful_one_reports_changed():
    session = created()
    session.op_errors["setMetadata"] = [{"code": "INVALID_FIELD_VALUE", "message": "Metadata value too large."}]
    result, failed = run(session, **base_args(labels={"x": "y"}, metadata={"k": "v"}))
    assert failed
    assert "(setMetadata) failed: HTTP 400 INVALID_FIELD_VALUE: Metadata value too large." in result["msg"]
    assert result["changed"] is True
    assert result["actions"] == ["setLabels"]
    assert session.instances[NAME]["labels"] == {"x": "y"}


def test_get_error_message_shown():
    session = FakeCompute()
    session.errors[("GET", f"/instances/{NAME}")] = [
        api_error(
            403,
            "PERMISSION_DENIED",
            "Compute Engine API has not been used in project 123 before or it is " "disabled.",
            "accessNotConfigured",
        )
    ]
    result, failed = run(session, **base_args())
    assert failed
    assert "(instances.get) failed: HTTP 403 PERMISSION_DENIED: Compute Engine API has not been used" in result["msg"]
    assert not session.writes()


def test_transport_error_message_kept():
    class Broken:
        def get(self, *args, **kwargs):
            raise ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")

    result, failed = run(Broken(), **base_args())
    assert failed
    assert "Connection refused" in result["msg"]
    assert "has no attribute 'message'" not in result["msg"]


def test_wait_timeout(monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(gcp_http.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(gcp_http.time, "sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    session = FakeCompute()
    session.polls_until_done = 10**6
    result, failed = run(session, **base_args(wait_timeout=30))
    assert failed
    assert "timed out after 30s waiting for operation operation-1 (insert of" in result["msg"]
    assert "TIMEOUT" in result["msg"]
    assert clock["now"] == pytest.approx(1030.0)
    assert len(session.calls("GET", "/operations/operation-1")) >= 3


# ---------------------------------------------------------------------------
# validation before any request
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "Trainer_0"}, "is not a valid instance name"),
        ({"name": "trainer-"}, "is not a valid instance name"),
        ({"zone": "uscentral1"}, "is not a zone name"),
        ({"project": "My_Project"}, "is not a project ID"),
        ({"on_host_maintenance": "MIGRATE", "provisioning": "standard"}, "VMs with GPUs cannot live-migrate"),
        (
            {
                "on_host_maintenance": "MIGRATE",
                "provisioning": "standard",
                "accelerators": [],
                "machine_type": "a2-highgpu-1g",
            },
            "machine type a2-highgpu-1g has GPUs",
        ),
        ({"automatic_restart": True}, "Spot and preemptible VMs cannot restart automatically"),
        ({"provisioning": "preemptible", "automatic_restart": True}, "provisioning=preemptible"),
        (
            {"provisioning": "standard", "instance_termination_action": "STOP"},
            "instance_termination_action is only for Spot",
        ),
        ({"labels": {"Env": "dev"}}, "label key 'Env' is not valid"),
        ({"labels": {"env": "Dev Env"}}, "the value must be at most 63"),
        ({"labels": {"env": "x" * 64}}, "the value must be at most 63"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "at most 64 labels"),
        ({"metadata": {"bad key": "x"}}, "metadata key 'bad key' is not valid"),
        ({"accelerators": [{"type": "nvidia-tesla-t4", "count": 0}]}, "must be at least 1"),
        ({"accelerators": [{"type": "nvidia-tesla-t4"}, {"type": "nvidia-tesla-t4"}]}, "listed twice"),
        ({"accelerators": [{"type": "NVIDIA T4"}]}, "is not an accelerator type name"),
        ({"boot_disk": {"image": "debian-12"}}, "is not an image URL"),
        ({"boot_disk": {"image": IMAGE, "size_gb": 5}}, "at least 10"),
        ({"data_disks": [{"source": "a"}, {"source": f"{ZONE_PATH}/disks/a"}]}, "disk a is listed twice"),
        ({"data_disks": [{"source": "projects/x/disks/a"}]}, "must be a disk name or"),
        ({"subnetwork": "projects/p/regions/europe-west4/subnetworks/s"}, "is in region europe-west4"),
        ({"network_tags": ["Bad_Tag"]}, "is not a valid tag"),
        ({"service_account": {"email": "not-an-email"}}, "must be a service account e-mail"),
        ({"machine_type": "N1 Standard"}, "is not a machine type name"),
        ({"wait_timeout": 0}, "wait_timeout must be a positive"),
        ({"machine_type": None}, "machine_type"),
        ({"boot_disk": None}, "boot_disk"),
    ],
)
def test_invalid_parameters_rejected_before_any_request(args, message):
    result, failed = run(None, **base_args(**args))
    assert failed, result
    assert message in result["msg"]


def test_project_is_required(monkeypatch):
    monkeypatch.delenv("GCP_PROJECT", raising=False)
    result, failed = run(None, **base_args(project=None))
    assert failed
    assert "project is required" in result["msg"]


def test_absent_needs_no_present_options():
    result, failed = run(FakeCompute(), project=PROJECT, zone=ZONE, name=NAME, state="absent", labels={"Bad": "x"})
    assert not failed, result


def test_default_auth_scope_is_compute():
    seen = {}
    original = gcp_utils.GcpSession.__init__

    def spy(self, module, product):
        seen["scopes"] = module.params["scopes"]
        seen["product"] = product
        original(self, module, product)

    with patch.object(gcp_utils.GcpSession, "__init__", spy):
        run(FakeCompute(), **base_args())
    assert seen == {"scopes": ["https://www.googleapis.com/auth/compute"], "product": "compute"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope, url",
    [
        ("cloud-platform", "https://www.googleapis.com/auth/cloud-platform"),
        ("storage-rw", "https://www.googleapis.com/auth/devstorage.read_write"),
        ("logging-write", "https://www.googleapis.com/auth/logging.write"),
        ("https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/bigquery"),
    ],
)
def test_expand_scope(scope, url):
    assert mod.expand_scope(scope) == url


def test_names_canonical_forms():
    names = mod.Names(PROJECT, ZONE)
    assert names.network(f"{LINK}projects/{PROJECT}/global/networks/default") == "default"
    assert (
        names.network("projects/host-project/global/networks/shared") == "projects/host-project/global/networks/shared"
    )
    assert names.subnetwork(f"{LINK}projects/{PROJECT}/regions/{REGION}/subnetworks/s") == "s"
    assert names.subnetwork_path("s") == f"projects/{PROJECT}/regions/{REGION}/subnetworks/s"
    assert (
        names.disk(f"{LINK}projects/{PROJECT}/zones/us-central1-b/disks/d")
        == f"projects/{PROJECT}/zones/us-central1-b/disks/d"
    )
    assert names.disk_path("zones/us-central1-a/disks/d") == f"projects/{PROJECT}/zones/{ZONE}/disks/d"


@pytest.mark.parametrize(
    "scheduling, provisioning",
    [
        ({"provisioningModel": "SPOT", "preemptible": True, "instanceTerminationAction": "STOP"}, "spot"),
        ({"provisioningModel": "SPOT"}, "spot"),
        ({"preemptible": True}, "preemptible"),
        ({"preemptible": True, "provisioningModel": "STANDARD"}, "preemptible"),
        ({"provisioningModel": "STANDARD", "preemptible": False}, "standard"),
        ({}, "standard"),
    ],
)
def test_provisioning_of(scheduling, provisioning):
    assert mod.provisioning_of(scheduling) == provisioning
