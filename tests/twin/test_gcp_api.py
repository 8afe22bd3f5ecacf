"""Tests of the twin's GCP API (twin/gcp_api.py) and its test-only redirect (twin/gcp_redirect).

Most tests start the emulator directly on a free loopback port (module fixture `gcp`) and talk
to it over HTTP as the Google clients do (paths, bodies, Bearer token). The redirect is tested
in subprocesses with PYTHONPATH=twin/gcp_redirect and TWIN_GCP_URL. Then the real callers:
ansible-playbook with the google.cloud modules (network, subnetwork, firewall, disk, service
account, GPU instance) and this collection's gcp_project_iam_member, run twice (the second run
must change nothing) and then with state absent, and ansible-inventory with the
google.cloud.gcp_compute inventory plugin. Last, twin/twinctl runs the GCP API beside moto.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = os.environ.get("TWIN_PYTHON", str(VENV_BIN / "python"))
REDIRECT_DIR = ROOT / "twin" / "gcp_redirect"
sys.path.insert(0, str(ROOT / "twin"))
import gcp_api  # noqa: E402
from emulator import OPENER, free_port, http, running  # noqa: E402

PROJECT = "twin-proj"
ZONE = "us-central1-a"
REGION = "us-central1"
# Ansible masks a no_log value (the access token) wherever it appears in a module's result, so
# the token must not be part of any name or URL the modules return.
TOKEN = "fake-access-token"
LINK = "https://www.googleapis.com/compute/v1/"
NAT = ipaddress.ip_network("203.0.113.0/24")


class Gcp:
    def __init__(self, url: str):
        self.url = url

    def api(self, method: str, path: str, body=None, host: str | None = None, auth: bool = True) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
        if host:
            headers["X-Twin-Original-Host"] = host
        return http(method, self.url + path, body, headers)

    def compute(self, method: str, rel: str, body=None) -> tuple[int, dict]:
        return self.api(method, f"/compute/v1/projects/{PROJECT}/{rel}", body, host="compute.googleapis.com")

    def ok(self, method: str, rel: str, body=None) -> dict:
        status, result = self.compute(method, rel, body)
        assert status == 200, result
        return result

    def stats(self) -> dict:
        return http("GET", self.url + "/_twin/stats")[1]


@pytest.fixture(scope="module")
def gcp():
    with running("gcp_api.py") as url:
        yield Gcp(url)


@pytest.fixture
def fresh(gcp):
    assert http("POST", gcp.url + "/_twin/reset")[0] == 200
    return gcp


def accel(name: str, count: int = 1, zone: str = ZONE) -> dict:
    return {"acceleratorType": f"{LINK}projects/{PROJECT}/zones/{zone}/acceleratorTypes/{name}", "acceleratorCount": count}


def instance_body(name: str = "gpu-1", **overrides) -> dict:
    body = {
        "name": name,
        "machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-1g",
        "guestAccelerators": [accel("nvidia-tesla-a100")],
        "scheduling": {"onHostMaintenance": "TERMINATE", "automaticRestart": False, "preemptible": True},
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {
            "sourceImage": "projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu",
            "diskSizeGb": "200"}}],
        "networkInterfaces": [{"subnetwork": f"regions/{REGION}/subnetworks/ml-subnet",
                               "accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]}],
        "labels": {"env": "twin", "role": "gpu"},
        "metadata": {"items": [{"key": "startup-script", "value": "echo hi"}]},
        "tags": {"items": ["gpu"]},
    }  # fmt: skip
    body.update(overrides)
    return body


def make_network(gcp: Gcp, cidr: str = "10.20.0.0/24") -> None:
    gcp.ok("POST", "global/networks", {"name": "ml-net", "autoCreateSubnetworks": False})
    gcp.ok("POST", f"regions/{REGION}/subnetworks", {"name": "ml-subnet", "network": "global/networks/ml-net",
                                                      "ipCidrRange": cidr})  # fmt: skip


def compute_error(status: int, body: dict, code: int, reason: str, message: str) -> None:
    """Assert a Compute Engine error body: {"error": {code, message, errors: [{message, domain, reason}], status}}."""
    assert status == code, body
    err = body["error"]
    assert err["code"] == code and err["status"] == gcp_api.STATUS_BY_CODE[code], body
    assert message in err["message"], err["message"]
    assert err["errors"] == [{"message": err["message"], "domain": "global", "reason": reason}]


# ------------------------------------------------------------------------------------------
# Server basics
# ------------------------------------------------------------------------------------------


def test_health_and_loopback_only(gcp):
    status, health = http("GET", gcp.url + "/_twin/health")
    assert status == 200 and health["service"] == "mlinfra-twin-gcp" and health["status"] == "ok"
    assert isinstance(health["pid"], int)
    with pytest.raises(ValueError):
        gcp_api.make_server("0.0.0.0", free_port())
    proc = subprocess.run([PYTHON, str(ROOT / "twin" / "gcp_api.py"), "--host", "0.0.0.0", "--port", "1"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "non-loopback" in proc.stderr


def test_redirected_calls_need_a_bearer_token(fresh):
    path = f"/compute/v1/projects/{PROJECT}/global/networks"
    status, body = fresh.api("GET", path, host="compute.googleapis.com", auth=False)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["message"].startswith("Request is missing required authentication credential.")
    # the twin's own tools (twin_hosts.py) read the twin directly, without the redirect's header or a token
    status, body = fresh.api("GET", path, auth=False)
    assert status == 200 and body["kind"] == "compute#networkList"
    assert fresh.stats() == {"requests": 2, "by_service": {"compute": 2}}


def test_missing_resources_answer_gcp_404_bodies(fresh):
    status, body = fresh.compute("GET", f"zones/{ZONE}/disks/nope")
    assert status == 404
    message = f"The resource 'projects/{PROJECT}/zones/{ZONE}/disks/nope' was not found"
    assert body == {"error": {"code": 404, "message": message, "status": "NOT_FOUND",
                              "errors": [{"message": message, "domain": "global", "reason": "notFound"}]}}  # fmt: skip
    for rel in ("global/networks/nope", "global/firewalls/nope", f"regions/{REGION}/subnetworks/nope",
                f"zones/{ZONE}/instances/nope", f"zones/{ZONE}/operations/operation-1-2-3-4"):  # fmt: skip
        status, body = fresh.compute("GET", rel)
        compute_error(status, body, 404, "notFound", f"The resource 'projects/{PROJECT}/{rel}' was not found")
    status, body = fresh.compute("GET", "zones/mars-north1-a/instances")
    compute_error(status, body, 404, "notFound", f"'projects/{PROJECT}/zones/mars-north1-a' was not found")


# ------------------------------------------------------------------------------------------
# Networks, subnetworks, firewalls
# ------------------------------------------------------------------------------------------


def test_network_subnetwork_firewall_lifecycle(fresh):
    op = fresh.ok("POST", "global/networks", {"name": "ml-net", "autoCreateSubnetworks": False,
                                              "routingConfig": {"routingMode": "GLOBAL"}})  # fmt: skip
    assert op["kind"] == "compute#operation" and op["status"] == "DONE" and op["operationType"] == "insert"
    assert op["targetLink"] == f"{LINK}projects/{PROJECT}/global/networks/ml-net"
    net = fresh.ok("GET", "global/networks/ml-net")
    assert net["kind"] == "compute#network" and net["id"] == op["targetId"] and net["id"].isdigit()
    assert net["selfLink"] == op["targetLink"] and net["autoCreateSubnetworks"] is False
    assert net["routingConfig"] == {"routingMode": "GLOBAL"} and "subnetworks" not in net
    assert fresh.ok("GET", f"global/operations/{op['name']}") == op
    assert fresh.ok("POST", f"global/operations/{op['name']}/wait") == op
    status, body = fresh.compute("POST", "global/networks", {"name": "ml-net", "autoCreateSubnetworks": False})
    compute_error(status, body, 409, "alreadyExists", f"The resource 'projects/{PROJECT}/global/networks/ml-net' already exists")
    status, body = fresh.compute("POST", "global/networks", {"name": "Bad_Name", "autoCreateSubnetworks": False})
    compute_error(status, body, 400, "invalid", "Invalid value for field 'resource.name': 'Bad_Name'. Must be a match of regex")

    # subnetwork: the network given as a partial URL comes back as a full one
    op = fresh.ok("POST", f"regions/{REGION}/subnetworks", {"name": "ml-subnet", "network": "global/networks/ml-net",
                                                             "ipCidrRange": "10.20.0.0/24"})  # fmt: skip
    assert op["region"] == f"{LINK}projects/{PROJECT}/regions/{REGION}"
    sub = fresh.ok("GET", f"regions/{REGION}/subnetworks/ml-subnet")
    assert sub["network"] == net["selfLink"] and sub["ipCidrRange"] == "10.20.0.0/24"
    assert sub["gatewayAddress"] == "10.20.0.1" and sub["privateIpGoogleAccess"] is False
    assert fresh.ok("GET", "global/networks/ml-net")["subnetworks"] == [sub["selfLink"]]
    status, body = fresh.compute("POST", f"regions/{REGION}/subnetworks", {"name": "other", "ipCidrRange": "10.20.0.128/25",
                                                                            "network": net["selfLink"]})  # fmt: skip
    compute_error(status, body, 400, "invalid", "conflicts with existing subnetwork 'ml-subnet'")
    status, body = fresh.compute("POST", f"regions/{REGION}/subnetworks", {"name": "x", "ipCidrRange": "10.30.0.0/24",
                                                                            "network": "global/networks/nope"})  # fmt: skip
    compute_error(status, body, 404, "notFound", f"The resource 'projects/{PROJECT}/global/networks/nope' was not found")
    fresh.ok("POST", f"regions/{REGION}/subnetworks/ml-subnet/setPrivateIpGoogleAccess", {"privateIpGoogleAccess": True})
    fresh.ok("POST", f"regions/{REGION}/subnetworks/ml-subnet/expandIpCidrRange", {"ipCidrRange": "10.20.0.0/23"})
    sub = fresh.ok("GET", f"regions/{REGION}/subnetworks/ml-subnet")
    assert sub["privateIpGoogleAccess"] is True and sub["ipCidrRange"] == "10.20.0.0/23"

    # firewall: GCP's defaults; PATCH merges, PUT replaces
    fresh.ok("POST", "global/firewalls", {"name": "ml-ssh", "network": net["selfLink"], "targetTags": ["gpu"],
                                          "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]})  # fmt: skip
    fw = fresh.ok("GET", "global/firewalls/ml-ssh")
    assert fw["kind"] == "compute#firewall" and fw["network"] == net["selfLink"]
    assert (fw["direction"], fw["priority"], fw["disabled"]) == ("INGRESS", 1000, False)
    assert fw["sourceRanges"] == ["0.0.0.0/0"] and fw["allowed"] == [{"IPProtocol": "tcp", "ports": ["22"]}]
    fresh.ok("PATCH", "global/firewalls/ml-ssh", {"sourceRanges": ["35.235.240.0/20"], "priority": 900})
    fw = fresh.ok("GET", "global/firewalls/ml-ssh")
    assert fw["sourceRanges"] == ["35.235.240.0/20"] and fw["priority"] == 900 and fw["targetTags"] == ["gpu"]
    fresh.ok("PUT", "global/firewalls/ml-ssh", {"name": "ml-ssh", "allowed": [{"IPProtocol": "icmp"}]})
    fw = fresh.ok("GET", "global/firewalls/ml-ssh")
    assert fw["allowed"] == [{"IPProtocol": "icmp"}] and "targetTags" not in fw and fw["priority"] == 1000

    # the network is in use by its firewall, then by its subnetwork
    status, body = fresh.compute("DELETE", "global/networks/ml-net")
    compute_error(status, body, 400, "resourceInUseByAnotherResource",
                  f"is already being used by 'projects/{PROJECT}/global/firewalls/ml-ssh'")  # fmt: skip
    op = fresh.ok("DELETE", "global/firewalls/ml-ssh")
    assert op["operationType"] == "delete" and op["status"] == "DONE" and op["targetLink"] == fw["selfLink"]
    status, body = fresh.compute("DELETE", "global/networks/ml-net")
    compute_error(status, body, 400, "resourceInUseByAnotherResource", "subnetworks/ml-subnet'")
    fresh.ok("DELETE", f"regions/{REGION}/subnetworks/ml-subnet")
    op = fresh.ok("DELETE", "global/networks/ml-net")
    assert op["targetId"] == net["id"] and op["targetLink"] == net["selfLink"]
    assert "items" not in fresh.ok("GET", "global/networks")


def test_auto_mode_network_has_a_subnetwork_per_region(fresh):
    fresh.ok("POST", "global/networks", {"name": "auto", "autoCreateSubnetworks": True})
    net = fresh.ok("GET", "global/networks/auto")
    assert len(net["subnetworks"]) == len(gcp_api.ZONES)
    sub = fresh.ok("GET", f"regions/{REGION}/subnetworks/auto")
    assert sub["ipCidrRange"] == "10.128.0.0/20" and sub["network"] == net["selfLink"]
    # an instance on an auto mode network needs no subnetwork
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body(
        "cpu-1", machineType=f"zones/{ZONE}/machineTypes/e2-standard-4", guestAccelerators=[], scheduling={},
        networkInterfaces=[{"network": "global/networks/auto"}]))  # fmt: skip
    inst = fresh.ok("GET", f"zones/{ZONE}/instances/cpu-1")
    assert inst["networkInterfaces"][0]["subnetwork"] == sub["selfLink"]
    assert inst["networkInterfaces"][0]["networkIP"] == "10.128.0.2" and "accessConfigs" not in inst["networkInterfaces"][0]
    assert inst["scheduling"] == {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False,
                                  "provisioningModel": "STANDARD"}  # fmt: skip
    assert "guestAccelerators" not in inst
    status, body = fresh.compute("POST", "global/networks", {"name": "legacy"})
    compute_error(status, body, 400, "invalid", "autoCreateSubnetworks")


# ------------------------------------------------------------------------------------------
# Disks and instances
# ------------------------------------------------------------------------------------------


def test_gpu_instance_fields(fresh):
    make_network(fresh)
    status, body = fresh.api("POST", f"/v1/projects/{PROJECT}/serviceAccounts",
                             {"accountId": "trainer", "serviceAccount": {"displayName": "Trainer"}}, host="iam.googleapis.com")  # fmt: skip
    assert status == 200, body
    sa = f"trainer@{PROJECT}.iam.gserviceaccount.com"
    op = fresh.ok("POST", f"zones/{ZONE}/instances", instance_body(
        serviceAccounts=[{"email": sa, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]))  # fmt: skip
    assert op["zone"] == f"{LINK}projects/{PROJECT}/zones/{ZONE}" and op["status"] == "DONE"
    inst = fresh.ok("GET", f"zones/{ZONE}/instances/gpu-1")
    assert inst["kind"] == "compute#instance" and inst["id"] == op["targetId"] and inst["id"].isdigit()
    assert inst["selfLink"] == op["targetLink"] == f"{LINK}projects/{PROJECT}/zones/{ZONE}/instances/gpu-1"
    assert inst["status"] == "RUNNING" and inst["creationTimestamp"]
    assert inst["machineType"] == f"{LINK}projects/{PROJECT}/zones/{ZONE}/machineTypes/a2-highgpu-1g"
    assert inst["guestAccelerators"] == [accel("nvidia-tesla-a100")]
    assert inst["scheduling"] == {"onHostMaintenance": "TERMINATE", "automaticRestart": False, "preemptible": True,
                                  "provisioningModel": "STANDARD"}  # fmt: skip
    assert inst["labels"] == {"env": "twin", "role": "gpu"} and inst["labelFingerprint"] != gcp_api.EMPTY_FINGERPRINT
    assert inst["metadata"]["items"] == [{"key": "startup-script", "value": "echo hi"}] and inst["metadata"]["fingerprint"]
    assert inst["tags"]["items"] == ["gpu"] and inst["tags"]["fingerprint"]
    assert inst["serviceAccounts"] == [{"email": sa, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]
    [nic] = inst["networkInterfaces"]
    assert nic["network"] == f"{LINK}projects/{PROJECT}/global/networks/ml-net"
    assert nic["subnetwork"] == f"{LINK}projects/{PROJECT}/regions/{REGION}/subnetworks/ml-subnet"
    assert ipaddress.ip_address(nic["networkIP"]) in ipaddress.ip_network("10.20.0.0/24")
    [ac] = nic["accessConfigs"]
    assert ac["name"] == "External NAT" and ac["type"] == "ONE_TO_ONE_NAT" and ipaddress.ip_address(ac["natIP"]) in NAT
    [boot] = inst["disks"]
    assert boot["boot"] is True and boot["autoDelete"] is True and boot["index"] == 0 and boot["diskSizeGb"] == "200"
    assert boot["source"] == f"{LINK}projects/{PROJECT}/zones/{ZONE}/disks/gpu-1"  # named like the instance
    disk = fresh.ok("GET", f"zones/{ZONE}/disks/gpu-1")
    image = fresh.api("GET", "/compute/v1/projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu")[1]
    assert disk["sourceImage"] == image["selfLink"] and disk["sizeGb"] == "200" and disk["users"] == [inst["selfLink"]]
    assert disk["type"] == f"{LINK}projects/{PROJECT}/zones/{ZONE}/diskTypes/pd-standard"
    # a second instance gets the next address, and 409 for the same name
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body("gpu-2"))
    nic2 = fresh.ok("GET", f"zones/{ZONE}/instances/gpu-2")["networkInterfaces"][0]
    assert nic2["networkIP"] != nic["networkIP"] and nic2["accessConfigs"][0]["natIP"] != ac["natIP"]
    status, body = fresh.compute("POST", f"zones/{ZONE}/instances", instance_body())
    compute_error(status, body, 409, "alreadyExists", f"The resource 'projects/{PROJECT}/zones/{ZONE}/instances/gpu-1' already exists")


def test_spot_instance_scheduling(fresh):
    make_network(fresh)
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body(
        "spot-1", machineType=f"zones/{ZONE}/machineTypes/g2-standard-8", guestAccelerators=[],
        scheduling={"provisioningModel": "SPOT", "onHostMaintenance": "TERMINATE"}))  # fmt: skip
    inst = fresh.ok("GET", f"zones/{ZONE}/instances/spot-1")
    assert inst["scheduling"] == {"onHostMaintenance": "TERMINATE", "automaticRestart": False, "preemptible": True,
                                  "provisioningModel": "SPOT", "instanceTerminationAction": "STOP"}  # fmt: skip
    # G2 comes with its L4: GCP fills guestAccelerators in
    assert inst["guestAccelerators"] == [accel("nvidia-l4")]


def test_disk_users_delete_in_use_and_auto_delete(fresh):
    make_network(fresh)
    op = fresh.ok("POST", f"zones/{ZONE}/disks", {"name": "ml-data", "sizeGb": 100, "labels": {"env": "twin"}})
    disk = fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")
    assert disk["sizeGb"] == "100" and disk["status"] == "READY" and disk["id"] == op["targetId"]
    assert disk["type"].endswith("/diskTypes/pd-standard") and disk["labels"] == {"env": "twin"} and "users" not in disk
    status, body = fresh.compute("POST", f"zones/{ZONE}/disks", {"name": "ml-data", "sizeGb": 10})
    compute_error(status, body, 409, "alreadyExists", "disks/ml-data' already exists")
    status, body = fresh.compute("POST", f"zones/{ZONE}/disks", {"name": "tiny", "sizeGb": 5, "type": f"zones/{ZONE}/diskTypes/pd-ssd"})
    compute_error(status, body, 400, "invalid", "Disk size must be between 10 GB")
    body = instance_body()
    body["disks"].append({"source": disk["selfLink"], "deviceName": "data"})
    fresh.ok("POST", f"zones/{ZONE}/instances", body)
    inst = fresh.ok("GET", f"zones/{ZONE}/instances/gpu-1")
    data = inst["disks"][1]
    assert (data["source"], data["deviceName"], data["boot"], data["autoDelete"], data["index"]) == (disk["selfLink"], "data", False, False, 1)
    assert fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")["users"] == [inst["selfLink"]]

    # a second instance cannot attach it read-write; the disk cannot be deleted while in use
    other = instance_body("gpu-2")
    other["disks"].append({"source": f"zones/{ZONE}/disks/ml-data"})
    status, result = fresh.compute("POST", f"zones/{ZONE}/instances", other)
    compute_error(status, result, 400, "resourceInUseByAnotherResource",
                  f"The disk resource 'projects/{PROJECT}/zones/{ZONE}/disks/ml-data' is already being used by "
                  f"'projects/{PROJECT}/zones/{ZONE}/instances/gpu-1'")  # fmt: skip
    assert fresh.compute("GET", f"zones/{ZONE}/disks/gpu-2")[0] == 404  # nothing half-created
    status, result = fresh.compute("DELETE", f"zones/{ZONE}/disks/ml-data")
    compute_error(status, result, 400, "resourceInUseByAnotherResource", "is already being used by")

    # detach and attach again
    fresh.ok("POST", f"zones/{ZONE}/instances/gpu-1/detachDisk?deviceName=data")
    detached = fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")
    assert "users" not in detached and detached["lastDetachTimestamp"]
    fresh.ok("POST", f"zones/{ZONE}/instances/gpu-1/attachDisk", {"source": disk["selfLink"], "deviceName": "data"})
    assert fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")["users"] == [inst["selfLink"]]

    # deleting the instance deletes its autoDelete boot disk and frees the data disk
    op = fresh.ok("DELETE", f"zones/{ZONE}/instances/gpu-1")
    assert op["operationType"] == "delete" and op["targetLink"] == inst["selfLink"] and op["targetId"] == inst["id"]
    assert fresh.compute("GET", f"zones/{ZONE}/disks/gpu-1")[0] == 404
    assert "users" not in fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")
    op = fresh.ok("DELETE", f"zones/{ZONE}/disks/ml-data")
    assert op["operationType"] == "delete" and op["status"] == "DONE" and op["targetLink"] == disk["selfLink"]
    assert fresh.ok("GET", f"zones/{ZONE}/operations/{op['name']}")["targetId"] == disk["id"]


@pytest.mark.parametrize(
    "overrides, status, message",
    [
        ({"guestAccelerators": [accel("nvidia-tesla-t4")]}, 400,
         "[a2-highgpu-1g, nvidia-tesla-t4] features are not compatible for creating instance."),
        ({"guestAccelerators": [accel("nvidia-tesla-a100", 2)]}, 400,
         "Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '2'. Machine type a2-highgpu-1g "
         "comes with 1 nvidia-tesla-a100 accelerator; the count must be 1."),
        ({"machineType": f"zones/{ZONE}/machineTypes/n1-standard-8", "guestAccelerators": [accel("nvidia-tesla-t4", 3)]},
         400, "Accelerator count 3 is not valid for nvidia-tesla-t4; valid counts are 1, 2, 4."),
        ({"machineType": f"zones/{ZONE}/machineTypes/e2-standard-4"}, 400,
         "[e2-standard-4, nvidia-tesla-a100] features are not compatible for creating instance."),
        ({"scheduling": {"onHostMaintenance": "MIGRATE"}}, 400,
         "Invalid value for field 'resource.scheduling.onHostMaintenance': 'MIGRATE'. Instances with guest "
         "accelerators do not support live migration."),
        ({"scheduling": {}}, 400, "Instances with guest accelerators do not support live migration."),
        ({"scheduling": {"onHostMaintenance": "TERMINATE", "preemptible": True, "automaticRestart": True}}, 400,
         "Invalid value for field 'resource.scheduling.preemptible': 'true'. Scheduling must have preemptible be "
         "false when AutomaticRestart is true."),
        ({"scheduling": {"onHostMaintenance": "TERMINATE", "provisioningModel": "SPOT", "automaticRestart": True}}, 400,
         "Scheduling must have preemptible be false when AutomaticRestart is true."),
        ({"machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-3g"}, 400,
         "Machine type with name 'a2-highgpu-3g' does not exist in zone 'us-central1-a'."),
        ({"machineType": "a2-highgpu-1g"}, 400,
         "Invalid value for field 'resource.machineType': 'a2-highgpu-1g'. The URL is malformed."),
        ({"guestAccelerators": [accel("nvidia-h200", 1)]}, 400, "Accelerator type 'nvidia-h200' does not exist in zone"),
        ({"disks": [{"boot": True, "initializeParams": {
            "sourceImage": "projects/deeplearning-platform-release/global/images/family/tensorflow-latest-gpu"}}]},
         404, "The resource 'projects/deeplearning-platform-release/global/images/family/tensorflow-latest-gpu' was not found"),
        ({"disks": [{"boot": True, "initializeParams": {"diskSizeGb": 20, "sourceImage":
            "projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu"}}]},
         400, "Requested disk size cannot be smaller than the image size (50 GB)"),
        ({"labels": {"Env": "twin"}}, 400, "Label key 'Env' violates format constraints."),
        ({"serviceAccounts": [{"email": f"ghost@{PROJECT}.iam.gserviceaccount.com", "scopes": []}]}, 400,
         f"The user does not have access to service account 'ghost@{PROJECT}.iam.gserviceaccount.com'"),
    ],
    ids=["gpu-type-for-a2", "gpu-count-for-a2", "gpu-count-for-n1", "gpu-on-e2", "gpu-migrate", "gpu-default-migrate",
         "preemptible-restart", "spot-restart", "unknown-machine-type", "bare-machine-type", "unknown-gpu",
         "unknown-image-family", "disk-smaller-than-image", "bad-label", "unknown-service-account"],
)  # fmt: skip
def test_instance_insert_is_checked_server_side(fresh, overrides, status, message):
    make_network(fresh)
    code, body = fresh.compute("POST", f"zones/{ZONE}/instances", instance_body(**overrides))
    reason = {400: "invalid", 404: "notFound"}[status]
    compute_error(code, body, status, reason, message)
    assert fresh.compute("GET", f"zones/{ZONE}/instances/gpu-1")[0] == 404
    assert "items" not in fresh.ok("GET", f"zones/{ZONE}/disks")  # no boot disk left behind


def test_fingerprints_power_and_operations(fresh):
    make_network(fresh)
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body())
    inst = fresh.ok("GET", f"zones/{ZONE}/instances/gpu-1")
    base = f"zones/{ZONE}/instances/gpu-1"

    status, body = fresh.compute("POST", f"{base}/setLabels", {"labels": {"env": "prod"}, "labelFingerprint": "c3RhbGU="})
    compute_error(status, body, 412, "conditionNotMet", "Labels fingerprint either invalid or resource labels have changed")
    op = fresh.ok("POST", f"{base}/setLabels", {"labels": {"env": "prod"}, "labelFingerprint": inst["labelFingerprint"]})
    assert op["operationType"] == "setLabels" and op["status"] == "DONE"
    after = fresh.ok("GET", base)
    assert after["labels"] == {"env": "prod"} and after["labelFingerprint"] != inst["labelFingerprint"]

    status, body = fresh.compute("POST", f"{base}/setMetadata", {"items": [], "fingerprint": "c3RhbGU="})
    compute_error(status, body, 412, "conditionNotMet", "Supplied fingerprint does not match current metadata fingerprint.")
    fresh.ok("POST", f"{base}/setMetadata", {"items": [{"key": "a", "value": "1"}], "fingerprint": inst["metadata"]["fingerprint"]})
    after = fresh.ok("GET", base)
    assert after["metadata"]["items"] == [{"key": "a", "value": "1"}]
    assert after["metadata"]["fingerprint"] != inst["metadata"]["fingerprint"]

    status, body = fresh.compute("POST", f"{base}/setTags", {"items": ["x"], "fingerprint": "c3RhbGU="})
    compute_error(status, body, 412, "conditionNotMet", "fingerprint")
    fresh.ok("POST", f"{base}/setTags", {"items": ["gpu", "ssh"], "fingerprint": inst["tags"]["fingerprint"]})
    assert fresh.ok("GET", base)["tags"]["items"] == ["gpu", "ssh"]

    status, body = fresh.compute("POST", f"{base}/setMachineType", {"machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-2g"})
    compute_error(status, body, 400, "resourceNotReady", "must be stopped")
    op = fresh.ok("POST", f"{base}/stop")
    stopped = fresh.ok("GET", base)
    assert stopped["status"] == "TERMINATED" and "natIP" not in stopped["networkInterfaces"][0]["accessConfigs"][0]
    fresh.ok("POST", f"{base}/setMachineType", {"machineType": f"zones/{ZONE}/machineTypes/a2-highgpu-2g"})
    assert fresh.ok("GET", base)["guestAccelerators"] == [accel("nvidia-tesla-a100", 2)]
    fresh.ok("POST", f"{base}/start")
    started = fresh.ok("GET", base)
    assert started["status"] == "RUNNING" and ipaddress.ip_address(started["networkInterfaces"][0]["accessConfigs"][0]["natIP"]) in NAT
    # zone operations: GET and POST .../wait answer the DONE operation
    got = fresh.ok("GET", f"zones/{ZONE}/operations/{op['name']}")
    assert got == op and got["operationType"] == "stop" and got["targetLink"] == inst["selfLink"]
    assert fresh.ok("POST", f"zones/{ZONE}/operations/{op['name']}/wait") == op

    fresh.ok("POST", f"{base}/setDeletionProtection?deletionProtection=true")
    status, body = fresh.compute("DELETE", base)
    assert status == 400 and "protected against deletion" in body["error"]["message"]
    fresh.ok("POST", f"{base}/setDeletionProtection?deletionProtection=false")
    fresh.ok("DELETE", base)


def test_aggregated_list_and_filters(fresh):
    make_network(fresh)
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body("gpu-1"))
    fresh.ok("POST", f"zones/{ZONE}/instances", instance_body("gpu-2", labels={"env": "dev", "role": "gpu"}))
    fresh.ok("POST", "global/networks", {"name": "east", "autoCreateSubnetworks": True})
    fresh.ok("POST", "zones/us-east1-b/instances", instance_body(
        "cpu-east", machineType="zones/us-east1-b/machineTypes/n1-standard-4", guestAccelerators=[], scheduling={},
        labels={"env": "twin"}, networkInterfaces=[{"network": "global/networks/east"}]))  # fmt: skip
    agg = fresh.ok("GET", "aggregated/instances")
    assert agg["kind"] == "compute#instanceAggregatedList"
    names = {z: [i["name"] for i in v.get("instances", [])] for z, v in agg["items"].items()}
    assert names[f"zones/{ZONE}"] == ["gpu-1", "gpu-2"] and names["zones/us-east1-b"] == ["cpu-east"]
    assert agg["items"]["zones/europe-west4-a"]["warning"]["code"] == "NO_RESULTS_ON_PAGE"
    filtered = fresh.ok("GET", "aggregated/instances?filter=" + urllib.request.quote("labels.env = twin"))
    assert {i["name"] for v in filtered["items"].values() for i in v.get("instances", [])} == {"gpu-1", "cpu-east"}
    both = "(labels.env = twin) (zone = us-central1-a)"
    filtered = fresh.ok("GET", "aggregated/instances?filter=" + urllib.request.quote(both))
    assert {i["name"] for v in filtered["items"].values() for i in v.get("instances", [])} == {"gpu-1"}
    listed = fresh.ok("GET", f"zones/{ZONE}/instances?filter=" + urllib.request.quote("name != gpu-1"))
    assert [i["name"] for i in listed["items"]] == ["gpu-2"]
    listed = fresh.ok("GET", f"zones/{ZONE}/instances?filter=" + urllib.request.quote("labels.env:* AND status = RUNNING"))
    assert len(listed["items"]) == 2
    paged = fresh.ok("GET", f"zones/{ZONE}/instances?maxResults=1")
    assert [i["name"] for i in paged["items"]] == ["gpu-1"] and paged["nextPageToken"]
    paged = fresh.ok("GET", f"zones/{ZONE}/instances?maxResults=1&pageToken={paged['nextPageToken']}")
    assert [i["name"] for i in paged["items"]] == ["gpu-2"] and "nextPageToken" not in paged
    status, body = fresh.compute("GET", "aggregated/instances?filter=" + urllib.request.quote("labels.env = (twin"))
    compute_error(status, body, 400, "invalid", "Invalid list filter expression.")
    disks = fresh.ok("GET", "aggregated/disks")
    assert [d["name"] for d in disks["items"]["zones/us-east1-b"]["disks"]] == ["cpu-east"]


def test_catalogue_images_machine_and_accelerator_types(fresh):
    for family in ("pytorch-latest-gpu", "pytorch-2-7-cu128-ubuntu-2204-nvidia-570"):
        status, image = fresh.api("GET", f"/compute/v1/projects/deeplearning-platform-release/global/images/family/{family}")
        assert status == 200 and image["kind"] == "compute#image" and image["family"] == family
        assert image["status"] == "READY" and image["diskSizeGb"] == "50"
        by_name = fresh.api("GET", f"/compute/v1/projects/deeplearning-platform-release/global/images/{image['name']}")[1]
        assert by_name == image and image["selfLink"].endswith(f"/global/images/{image['name']}")
    status, debian = fresh.api("GET", "/compute/v1/projects/debian-cloud/global/images/family/debian-12")
    assert status == 200 and debian["name"].startswith("debian-12-bookworm-") and debian["diskSizeGb"] == "10"
    status, body = fresh.api("GET", "/compute/v1/projects/debian-cloud/global/images/family/debian-9")
    compute_error(status, body, 404, "notFound", "The resource 'projects/debian-cloud/global/images/family/debian-9' was not found")

    mt = fresh.ok("GET", f"zones/{ZONE}/machineTypes/a2-highgpu-4g")
    assert mt["kind"] == "compute#machineType" and mt["guestCpus"] == 48 and mt["zone"] == ZONE
    assert mt["accelerators"] == [{"guestAcceleratorType": "nvidia-tesla-a100", "guestAcceleratorCount": 4}]
    assert fresh.ok("GET", f"zones/{ZONE}/machineTypes/g2-standard-24")["accelerators"][0]["guestAcceleratorCount"] == 2
    assert "accelerators" not in fresh.ok("GET", f"zones/{ZONE}/machineTypes/n1-standard-8")
    names = [m["name"] for m in fresh.ok("GET", f"zones/{ZONE}/machineTypes")["items"]]
    assert {"a2-ultragpu-8g", "g2-standard-96", "n1-standard-4"} <= set(names)
    status, body = fresh.compute("GET", f"zones/{ZONE}/machineTypes/a2-highgpu-3g")
    compute_error(status, body, 404, "notFound", "machineTypes/a2-highgpu-3g' was not found")
    acc = fresh.ok("GET", f"zones/{ZONE}/acceleratorTypes/nvidia-a100-80gb")
    assert acc["kind"] == "compute#acceleratorType" and acc["maximumCardsPerInstance"] == 8
    assert acc["selfLink"] == accel("nvidia-a100-80gb")["acceleratorType"]
    assert {a["name"] for a in fresh.ok("GET", "zones/europe-west4-b/acceleratorTypes")["items"]} == set(gcp_api.ACCELERATOR_TYPES)
    assert [z["name"] for z in fresh.ok("GET", "zones")["items"]] == list(gcp_api.ZONE_REGION)


# ------------------------------------------------------------------------------------------
# IAM and Resource Manager
# ------------------------------------------------------------------------------------------


def test_service_accounts(fresh):
    iam = "iam.googleapis.com"
    coll = f"/v1/projects/{PROJECT}/serviceAccounts"
    status, sa = fresh.api("POST", coll, {"accountId": "trainer", "serviceAccount": {"displayName": "Trainer",
                                                                                     "description": "GPU jobs"}}, host=iam)  # fmt: skip
    email = f"trainer@{PROJECT}.iam.gserviceaccount.com"
    assert status == 200 and sa["email"] == email and sa["name"] == f"projects/{PROJECT}/serviceAccounts/{email}"
    assert sa["projectId"] == PROJECT and sa["uniqueId"].isdigit() and len(sa["uniqueId"]) == 21
    assert sa["displayName"] == "Trainer" and sa["description"] == "GPU jobs" and sa["etag"]
    assert sa["oauth2ClientId"] == sa["uniqueId"]
    assert fresh.api("GET", f"{coll}/{email}", host=iam) == (200, sa)
    assert fresh.api("GET", f"/v1/projects/-/serviceAccounts/{sa['uniqueId']}", host=iam) == (200, sa)
    status, body = fresh.api("POST", coll, {"accountId": "trainer"}, host=iam)
    assert status == 409 and body["error"] == {"code": 409, "status": "ALREADY_EXISTS",
                                               "message": f"Service account trainer already exists within project projects/{PROJECT}."}  # fmt: skip
    status, body = fresh.api("POST", coll, {"accountId": "x"}, host=iam)
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT" and "Invalid account ID 'x'" in body["error"]["message"]
    status, body = fresh.api("GET", f"{coll}/ghost@{PROJECT}.iam.gserviceaccount.com", host=iam)
    assert status == 404 and body["error"] == {"code": 404, "message": "Unknown service account", "status": "NOT_FOUND"}
    status, patched = fresh.api("PATCH", f"{coll}/{email}", {"serviceAccount": {"displayName": "GPU trainer"},
                                                            "updateMask": "displayName"}, host=iam)  # fmt: skip
    assert status == 200 and patched["displayName"] == "GPU trainer" and patched["description"] == "GPU jobs"
    assert patched["etag"] != sa["etag"]
    # google.cloud's gcp_iam_service_account would PUT {accountId, serviceAccount}: the API refuses that
    status, body = fresh.api("PUT", f"{coll}/{email}", {"accountId": "trainer", "serviceAccount": {}}, host=iam)
    assert status == 400 and 'Unknown name "accountId"' in body["error"]["message"]
    fresh.api("POST", coll, {"accountId": "another"}, host=iam)
    status, listed = fresh.api("GET", f"{coll}?pageSize=1", host=iam)
    assert [a["email"] for a in listed["accounts"]] == [f"another@{PROJECT}.iam.gserviceaccount.com"] and listed["nextPageToken"]
    assert fresh.api("GET", f"/v1/projects/empty-proj/serviceAccounts", host=iam) == (200, {})


def test_project_iam_policy_etag_and_deleted_members(fresh):
    crm = "cloudresourcemanager.googleapis.com"
    url = f"/v1/projects/{PROJECT}"
    status, policy = fresh.api("POST", f"{url}:getIamPolicy", {"options": {"requestedPolicyVersion": 3}}, host=crm)
    assert status == 200 and policy["version"] == 1 and policy["etag"].startswith("Bw")
    assert policy["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]}]
    member = f"serviceAccount:trainer@{PROJECT}.iam.gserviceaccount.com"
    new = {"bindings": policy["bindings"] + [{"role": "roles/storage.objectViewer", "members": [member]}], "etag": policy["etag"]}
    status, body = fresh.api("POST", f"{url}:setIamPolicy", {"policy": new}, host=crm)
    assert status == 400 and body["error"]["message"] == f"Service account trainer@{PROJECT}.iam.gserviceaccount.com does not exist."
    status, sa = fresh.api("POST", f"/v1/projects/{PROJECT}/serviceAccounts", {"accountId": "trainer"}, host="iam.googleapis.com")
    status, written = fresh.api("POST", f"{url}:setIamPolicy", {"policy": new, "updateMask": "bindings,etag"}, host=crm)
    assert status == 200 and written["etag"] != policy["etag"]
    assert written["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]},
                                   {"role": "roles/storage.objectViewer", "members": [member]}]  # fmt: skip
    # the old etag is stale now: 409 ABORTED, the policy unchanged
    status, body = fresh.api("POST", f"{url}:setIamPolicy", {"policy": dict(new, bindings=[])}, host=crm)
    assert status == 409 and body["error"]["status"] == "ABORTED"
    assert body["error"]["message"].startswith("There were concurrent policy changes.")
    assert fresh.api("POST", f"{url}:getIamPolicy", {}, host=crm)[1] == written
    # conditional bindings need version 3; a version-1 read gets _withcond_ roles
    cond = {"title": "until 2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}
    conditional = {"bindings": written["bindings"] + [{"role": "roles/viewer", "members": ["user:a@example.com"], "condition": cond}],
                   "etag": written["etag"]}  # fmt: skip
    status, body = fresh.api("POST", f"{url}:setIamPolicy", {"policy": conditional}, host=crm)
    assert status == 400 and "version 3" in body["error"]["message"]
    status, v3 = fresh.api("POST", f"{url}:setIamPolicy", {"policy": dict(conditional, version=3)}, host=crm)
    assert status == 200 and v3["version"] == 3
    v1 = fresh.api("POST", f"{url}:getIamPolicy", {"options": {"requestedPolicyVersion": 1}}, host=crm)[1]
    assert v1["version"] == 1 and any(b["role"].startswith("roles/viewer_withcond_") and "condition" not in b for b in v1["bindings"])
    # deleting the service account keeps its binding, as a deleted: member
    assert fresh.api("DELETE", f"/v1/projects/{PROJECT}/serviceAccounts/{sa['email']}", host="iam.googleapis.com") == (200, {})
    after = fresh.api("POST", f"{url}:getIamPolicy", {"options": {"requestedPolicyVersion": 3}}, host=crm)[1]
    viewer = next(b for b in after["bindings"] if b["role"] == "roles/storage.objectViewer")
    assert viewer["members"] == [f"deleted:{member}?uid={sa['uniqueId']}"] and after["etag"] != v3["etag"]
    status, project = fresh.api("GET", url, host=crm)
    assert status == 200 and project["projectId"] == PROJECT and project["lifecycleState"] == "ACTIVE"


def test_oauth_token_endpoint(fresh):
    req = urllib.request.Request(fresh.url + "/token", method="POST", data=b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                 b"grant-type%3Ajwt-bearer&assertion=x.y.z",
                                 headers={"X-Twin-Original-Host": "oauth2.googleapis.com"})  # fmt: skip
    with OPENER.open(req, timeout=10) as resp:
        token = json.loads(resp.read())
    assert token["token_type"] == "Bearer" and token["access_token"].startswith("ya29.") and token["expires_in"] > 0
    status, body = http("POST", fresh.url + "/token", {})
    assert status == 400 and body["error"] == "unsupported_grant_type"
    assert fresh.stats()["by_service"] == {"oauth2": 2}


def test_stats_count_requests_and_reset_restores_the_initial_state(fresh):
    assert fresh.stats() == {"requests": 0, "by_service": {}}
    fresh.ok("GET", "global/networks")
    fresh.api("GET", f"/v1/projects/{PROJECT}/serviceAccounts", host="iam.googleapis.com")
    fresh.api("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {}, host="cloudresourcemanager.googleapis.com")
    http("GET", fresh.url + "/_twin/health")  # not counted
    assert fresh.stats() == {"requests": 3, "by_service": {"cloudresourcemanager": 1, "compute": 1, "iam": 1}}
    crm = "cloudresourcemanager.googleapis.com"
    policy = fresh.api("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {}, host=crm)[1]
    fresh.api("POST", f"/v1/projects/{PROJECT}:setIamPolicy", {"policy": {"bindings": [], "etag": policy["etag"]}}, host=crm)
    make_network(fresh)
    assert http("POST", fresh.url + "/_twin/stats/reset")[1] == {"requests": 0, "by_service": {}}
    assert http("POST", fresh.url + "/_twin/reset") == (200, {"reset": True})
    assert fresh.stats()["requests"] == 0
    assert "items" not in fresh.ok("GET", "global/networks")
    restored = fresh.api("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {}, host=crm)[1]
    assert restored["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]}]


def test_list_filter_expressions():
    inst = {"name": "gpu-1", "status": "RUNNING", "labels": {"env": "twin"}, "scheduling": {"preemptible": True},
            "zone": f"{LINK}projects/p/zones/{ZONE}", "tags": {"items": ["gpu", "ssh"]}}  # fmt: skip
    matches = lambda expr: gcp_api.compile_filter(expr)(inst)  # noqa: E731
    assert matches("") and matches("name = gpu-1") and matches("name = gpu-*") and matches('labels.env = "twin"')
    assert matches(f"zone = {ZONE}") and matches("scheduling.preemptible = true") and matches("tags.items = ssh")
    assert matches("name eq gpu-.*") and matches("name ne cpu-.*") and matches("labels.env:*")
    assert matches("(labels.env = twin) (status = RUNNING)") and matches("labels.env = dev OR name = gpu-1")
    assert not matches("labels.env = dev") and not matches("labels.owner:*") and not matches("NOT status = RUNNING")
    assert not matches("(labels.env = twin) AND (status = TERMINATED)")


# ------------------------------------------------------------------------------------------
# The redirect (twin/gcp_redirect/sitecustomize.py)
# ------------------------------------------------------------------------------------------


def run_python(code: str, twin_url: str | None, extra_path: list[Path] | None = None, python: str = PYTHON,
               extra_env: dict | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_GCP", "GCP_", "GOOGLE_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [REDIRECT_DIR, *(extra_path or [])])
    if twin_url is not None:
        env["TWIN_GCP_URL"] = twin_url
    env.update(extra_env or {})
    return subprocess.run([python, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60)


REDIRECT_PROBE = """
    import json, requests
    from google.oauth2 import credentials, service_account
    from google.auth.transport.requests import AuthorizedSession
    out = {}
    session = AuthorizedSession(credentials.Credentials("fake-access-token"))
    r = session.get("https://compute.googleapis.com/compute/v1/projects/twin-proj/zones/us-central1-a/disks/nope")
    out["compute"] = [r.status_code, r.json()["error"]["message"], r.url]
    r = session.post("https://cloudresourcemanager.googleapis.com/v1/projects/twin-proj:getIamPolicy", json={})
    out["crm"] = [r.status_code, r.json()["bindings"][0]["role"]]
    creds = service_account.Credentials.from_service_account_file(KEYFILE, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    r = AuthorizedSession(creds).get("https://iam.googleapis.com/v1/projects/twin-proj/serviceAccounts")
    out["service_account_auth"] = [r.status_code, creds.token.startswith("ya29.")]
    try:
        requests.get("https://example.com/", timeout=5)
        out["example"] = "not refused"
    except requests.exceptions.ConnectionError as e:
        out["example"] = str(e)
    out["loopback"] = requests.get(TWIN + "/_twin/health", timeout=5).json()["service"]
    print(json.dumps(out))
"""


def service_account_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "twin", "private_key": pem.decode(),
        "client_email": f"deployer@{PROJECT}.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))  # fmt: skip
    return path


def test_redirect_sends_googleapis_calls_to_the_twin_and_refuses_other_hosts(fresh, tmp_path):
    keyfile = service_account_key(tmp_path / "key.json")
    code = f"KEYFILE = {str(keyfile)!r}\nTWIN = {fresh.url!r}\n" + textwrap.dedent(REDIRECT_PROBE)
    # a proxy that does not exist: redirected and loopback requests must not use it
    proc = run_python(code, fresh.url, extra_env={"HTTPS_PROXY": "http://192.0.2.1:9", "HTTP_PROXY": "http://192.0.2.1:9"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["compute"] == [404, f"The resource 'projects/{PROJECT}/zones/{ZONE}/disks/nope' was not found",
                              f"{fresh.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/disks/nope"]  # fmt: skip
    assert out["crm"] == [200, "roles/owner"]
    assert out["service_account_auth"] == [200, True]
    assert out["example"] == ("twin GCP redirect: refusing example.com: only *.googleapis.com (redirected to the twin) "
                              "and loopback are allowed")  # fmt: skip
    assert out["loopback"] == "mlinfra-twin-gcp"
    # the original hosts arrived (X-Twin-Original-Host): counted per service (google-auth may also have
    # looked up the service account's access boundary on iamcredentials, in a background thread)
    by_service = fresh.stats()["by_service"]
    by_service.pop("iamcredentials", None)
    assert by_service == {"cloudresourcemanager": 1, "compute": 1, "iam": 1, "oauth2": 1}


def test_redirect_does_nothing_without_twin_gcp_url():
    proc = run_python("""
        import sys
        hooks = [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path]
        import requests
        print(hooks, getattr(requests.adapters.HTTPAdapter.send, "_twin_gcp_redirect", False))
    """, None)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    hooks, patched = proc.stdout.strip().rsplit(" ", 1)
    assert "_RequestsHook" not in hooks and "PathFinder" in hooks and patched == "False"
    proc = run_python("""
        import sys
        hooks = [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path]
        import requests
        print("_RequestsHook" in hooks, requests.adapters.HTTPAdapter.send._twin_gcp_redirect,
              "_RequestsHook" in [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path])
    """, "http://127.0.0.1:1")  # fmt: skip
    assert proc.stdout.split() == ["True", "True", "False"], proc.stderr  # hooked, patched at import, hook gone


@pytest.mark.parametrize("twin_url", ["http://192.0.2.10:7000", "https://127.0.0.1:7000", "http://twin.example:7000"])
def test_redirect_refuses_everything_when_the_twin_url_is_not_loopback_http(twin_url):
    proc = run_python("""
        import requests
        for url in ("https://compute.googleapis.com/compute/v1/projects/p/global/networks", "http://127.0.0.1:1/"):
            try:
                requests.get(url, timeout=5)
                print("not refused")
            except requests.exceptions.ConnectionError as e:
                print(e)
    """, twin_url)  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stdout + proc.stderr
    assert all(line.startswith(f"twin GCP redirect: TWIN_GCP_URL={twin_url!r} is not a loopback http URL") for line in lines)


def test_redirect_chain_loads_a_shadowed_sitecustomize_and_survives_without_requests(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['SHADOWED_SITECUSTOMIZE_RAN'] = 'yes'\n")
    proc = run_python("import os, sys; print(os.environ.get('SHADOWED_SITECUSTOMIZE_RAN'), sys.modules['sitecustomize'].__file__)",
                      "http://127.0.0.1:1", extra_path=[tmp_path])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["yes", str(REDIRECT_DIR / "sitecustomize.py")]
    # an interpreter without requests starts normally; importing requests fails as usual
    without = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if Path(p).exists()), None)
    check = run_python("import importlib.util; print(importlib.util.find_spec('requests') is None)", "http://127.0.0.1:1",
                       python=without) if without else None  # fmt: skip
    if check is None or check.stdout.strip() != "True":
        pytest.skip("no Python without requests on this machine")
    proc = run_python("""
        try:
            import requests
        except ImportError as e:
            print(type(e).__name__)
    """, "http://127.0.0.1:1", python=without)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "ModuleNotFoundError" and proc.stderr == "", proc.stderr


# ------------------------------------------------------------------------------------------
# The real callers: google.cloud modules, gcp_project_iam_member, the gcp_compute inventory
# ------------------------------------------------------------------------------------------

PRESENT = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: bad member
      mlinfra.gpu_platform.gcp_project_iam_member:
        role: roles/storage.objectViewer
        member: "trainer@{{ project }}.iam.gserviceaccount.com"
      ignore_errors: true
    - name: network
      google.cloud.gcp_compute_network:
        name: ml-net
        auto_create_subnetworks: false
        routing_config: {routing_mode: REGIONAL}
      register: network
    - name: subnetwork
      google.cloud.gcp_compute_subnetwork:
        name: ml-subnet
        region: us-central1
        network: "{{ network }}"
        ip_cidr_range: 10.20.0.0/24
        private_ip_google_access: true
      register: subnetwork
    - name: firewall
      google.cloud.gcp_compute_firewall:
        name: ml-ssh
        network: "{{ network }}"
        allowed: [{ip_protocol: tcp, ports: ["22"]}]
        source_ranges: [35.235.240.0/20]
        target_tags: [gpu]
    - name: disk
      google.cloud.gcp_compute_disk:
        name: ml-data
        zone: us-central1-a
        size_gb: 100
        labels: {env: twin}
      register: disk
    - name: service account
      google.cloud.gcp_iam_service_account:
        name: "trainer@{{ project }}.iam.gserviceaccount.com"
        display_name: Trainer
      register: sa
    - name: grant
      mlinfra.gpu_platform.gcp_project_iam_member:
        role: roles/storage.objectViewer
        member: "serviceAccount:{{ sa.email }}"
    - name: instance
      google.cloud.gcp_compute_instance:
        name: gpu-1
        zone: us-central1-a
        machine_type: a2-highgpu-1g
        guest_accelerators:
          - accelerator_type: "https://www.googleapis.com/compute/v1/projects/{{ project }}/zones/us-central1-a/acceleratorTypes/nvidia-tesla-a100"
            accelerator_count: 1
        scheduling: {on_host_maintenance: TERMINATE, automatic_restart: false, preemptible: true}
        disks:
          - boot: true
            auto_delete: true
            initialize_params:
              source_image: projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu
              disk_size_gb: 200
          - source: "{{ disk }}"
            auto_delete: false
            device_name: data
        network_interfaces:
          - network: "{{ network }}"
            subnetwork: "{{ subnetwork }}"
            access_configs: [{name: External NAT, type: ONE_TO_ONE_NAT}]
        service_accounts: [{email: "{{ sa.email }}", scopes: ["https://www.googleapis.com/auth/cloud-platform"]}]
        labels: {env: twin, role: gpu}
        metadata: {startup-script: "echo hi"}
        tags: {items: [gpu]}
    - name: instances
      google.cloud.gcp_compute_instance_info:
        zone: us-central1-a
        filters: ["labels.role = gpu"]
"""

ABSENT = """
- hosts: localhost
  gather_facts: false
  vars:
    network: {selfLink: "https://www.googleapis.com/compute/v1/projects/{{ project }}/global/networks/ml-net"}
  tasks:
    - name: instance
      google.cloud.gcp_compute_instance: {name: gpu-1, zone: us-central1-a, state: absent}
    - name: grant
      mlinfra.gpu_platform.gcp_project_iam_member:
        role: roles/storage.objectViewer
        member: "serviceAccount:trainer@{{ project }}.iam.gserviceaccount.com"
        state: absent
    - name: service account
      google.cloud.gcp_iam_service_account: {name: "trainer@{{ project }}.iam.gserviceaccount.com", state: absent}
    - name: disk
      google.cloud.gcp_compute_disk: {name: ml-data, zone: us-central1-a, state: absent}
    - name: firewall
      google.cloud.gcp_compute_firewall: {name: ml-ssh, state: absent}
    - name: subnetwork
      google.cloud.gcp_compute_subnetwork:
        {name: ml-subnet, region: us-central1, network: "{{ network }}", ip_cidr_range: 10.20.0.0/24, state: absent}
    - name: network
      google.cloud.gcp_compute_network: {name: ml-net, state: absent}
"""

INVENTORY = f"""
plugin: google.cloud.gcp_compute
projects: [{PROJECT}]
auth_kind: accesstoken
access_token: {TOKEN}
filters: ["labels.env = twin"]
hostnames: [name]
keyed_groups:
  - key: labels.role
    prefix: role
compose:
  ansible_host: networkInterfaces[0].accessConfigs[0].natIP
"""


def unwrap(value):
    """ansible-inventory marks untrusted strings as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def test_google_cloud_modules_are_idempotent_and_the_inventory_finds_the_instance(fresh, tmp_path):
    (tmp_path / "present.yml").write_text(PRESENT)
    (tmp_path / "absent.yml").write_text(ABSENT)
    (tmp_path / "twin.gcp.yml").write_text(INVENTORY)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCP_", "TWIN_GCP", "GOOGLE_"))}
    env.update(PYTHONPATH=str(REDIRECT_DIR), TWIN_GCP_URL=fresh.url, GCP_AUTH_KIND="accesstoken", GCP_ACCESS_TOKEN=TOKEN,
               GCP_PROJECT=PROJECT, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), HOME=str(tmp_path))  # fmt: skip

    def play(name: str) -> dict:
        proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(tmp_path / name), "-e", f"project={PROJECT}"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
        try:
            output = json.JSONDecoder().raw_decode(proc.stdout)[0]
        except ValueError:
            pytest.fail(f"ansible-playbook gave no JSON (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results = {t["task"]["name"]: t["hosts"]["localhost"] for t in output["plays"][0]["tasks"]}
        for task, res in results.items():
            if task != "bad member":
                assert not res.get("failed"), f"{task}: {res.get('msg')}"
        return results

    first = play("present.yml")
    # bad input is refused by the module before any API call: only the grant's get + set reached Resource Manager
    assert first["bad member"]["failed"] and "must start with one of user:, serviceAccount:" in first["bad member"]["msg"]
    assert fresh.stats()["by_service"]["cloudresourcemanager"] == 2
    assert {t: r["changed"] for t, r in first.items() if t not in ("bad member", "instances")} == dict.fromkeys(
        ["network", "subnetwork", "firewall", "disk", "service account", "grant", "instance"], True)  # fmt: skip
    [listed] = first["instances"]["resources"]
    assert listed["name"] == "gpu-1" and listed["labels"] == {"env": "twin", "role": "gpu"}

    inst = fresh.ok("GET", f"zones/{ZONE}/instances/gpu-1")
    assert inst["guestAccelerators"] == [accel("nvidia-tesla-a100")]
    assert inst["scheduling"]["preemptible"] is True and inst["scheduling"]["automaticRestart"] is False
    assert inst["scheduling"]["onHostMaintenance"] == "TERMINATE"
    assert [(d["deviceName"], d["boot"]) for d in inst["disks"]] == [("persistent-disk-0", True), ("data", False)]
    assert fresh.ok("GET", f"zones/{ZONE}/disks/ml-data")["users"] == [inst["selfLink"]]
    assert fresh.ok("GET", f"zones/{ZONE}/disks/gpu-1")["sizeGb"] == "200"
    sa_email = f"trainer@{PROJECT}.iam.gserviceaccount.com"
    assert inst["serviceAccounts"][0]["email"] == sa_email
    policy = fresh.api("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {}, host="cloudresourcemanager.googleapis.com")[1]
    assert {b["role"]: b["members"] for b in policy["bindings"]} == {
        "roles/owner": ["user:owner@example.com"], "roles/storage.objectViewer": [f"serviceAccount:{sa_email}"]}  # fmt: skip

    crm_before = fresh.stats()["by_service"]["cloudresourcemanager"]
    second = play("present.yml")
    changed = {t: r["changed"] for t, r in second.items() if r.get("changed")}
    assert changed == {}, f"second run changed {changed}"
    assert fresh.stats()["by_service"]["cloudresourcemanager"] == crm_before + 1  # getIamPolicy, no setIamPolicy

    proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(tmp_path / "twin.gcp.yml"), "--list"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    inventory = unwrap(json.loads(proc.stdout))
    assert inventory["role_gpu"]["hosts"] == ["gpu-1"]
    host = inventory["_meta"]["hostvars"]["gpu-1"]
    assert host["labels"] == {"env": "twin", "role": "gpu"} and host["zone"] == ZONE
    assert host["machineType"] == "a2-highgpu-1g" and host["project"] == PROJECT
    assert host["ansible_host"] == inst["networkInterfaces"][0]["accessConfigs"][0]["natIP"]
    assert ipaddress.ip_address(host["ansible_host"]) in NAT
    assert host["networkInterfaces"][0]["networkIP"] == inst["networkInterfaces"][0]["networkIP"]

    gone = play("absent.yml")
    assert all(r["changed"] for r in gone.values()), {t: r["changed"] for t, r in gone.items()}
    for rel in ("global/networks", "global/firewalls", f"regions/{REGION}/subnetworks", f"zones/{ZONE}/disks",
                f"zones/{ZONE}/instances"):  # fmt: skip
        assert "items" not in fresh.ok("GET", rel), rel
    policy = fresh.api("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {}, host="cloudresourcemanager.googleapis.com")[1]
    assert policy["bindings"] == [{"role": "roles/owner", "members": ["user:owner@example.com"]}]
    again = play("absent.yml")
    assert not any(r["changed"] for r in again.values())


# ------------------------------------------------------------------------------------------
# twinctl runs the GCP API beside moto and the k8s API
# ------------------------------------------------------------------------------------------


def twinctl(*args: str, port: int, state_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TWIN_K8S", "TWIN_GCP"))}
    env.update(TWIN_AWS_PORT=str(port), TWIN_STATE_DIR=str(state_dir), TWIN_PYTHON=PYTHON)
    return subprocess.run([str(ROOT / "twin" / "twinctl"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_twinctl_runs_the_gcp_api(tmp_path):
    port = free_port()
    while port > 63535:
        port = free_port()
    gcp_url = f"http://127.0.0.1:{port + 2000}"
    try:
        up = twinctl("up", port=port, state_dir=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"twin: started on http://127.0.0.1:{port}" in up.stdout
        assert f"twin: GCP API started on {gcp_url}" in up.stdout
        assert (tmp_path / f"gcp-api-{port + 2000}.pid").exists() and (tmp_path / f"gcp-api-{port + 2000}.log").exists()
        again = twinctl("up", port=port, state_dir=tmp_path)
        assert again.returncode == 0 and again.stdout.strip() == f"twin: already running on http://127.0.0.1:{port}"
        assert f"GCP API already running on {gcp_url}" in again.stderr
        status = twinctl("status", port=port, state_dir=tmp_path)
        assert status.returncode == 0 and status.stdout.strip() == f"http://127.0.0.1:{port}"
        assert f"twin: GCP API {gcp_url}" in status.stderr
        gcp = Gcp(gcp_url)
        make_network(gcp)
        stats = json.loads(twinctl("stats", port=port, state_dir=tmp_path).stdout)
        assert stats["by_service"] == {} and stats["gcp"] == {"requests": 2, "by_service": {"compute": 2}}
        assert twinctl("reset", port=port, state_dir=tmp_path).returncode == 0
        assert "items" not in gcp.ok("GET", "global/networks") and gcp.stats()["requests"] == 1
    finally:
        down = twinctl("down", port=port, state_dir=tmp_path)
    assert down.returncode == 0 and down.stdout.strip() == "twin: stopped", down.stdout + down.stderr
    assert f"GCP API stopped ({gcp_url})" in down.stderr
    assert not (tmp_path / f"gcp-api-{port + 2000}.pid").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port + 2000), timeout=1).close()
    status = twinctl("status", port=port, state_dir=tmp_path)
    assert status.returncode == 3 and f"GCP API not running ({gcp_url})" in status.stderr


def test_twinctl_up_refuses_a_gcp_port_taken_by_something_else(tmp_path):
    port = free_port()
    while port > 63535:
        port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port + 2000))
        listener.listen(5)
        try:
            up = twinctl("up", port=port, state_dir=tmp_path)
        finally:
            down = twinctl("down", port=port, state_dir=tmp_path)
    assert up.returncode == 1
    assert f"port {port + 2000} on 127.0.0.1 (the GCP API) is in use" in up.stderr and "TWIN_GCP_PORT" in up.stderr
    assert not (tmp_path / f"gcp-api-{port + 2000}.pid").exists()
    assert down.returncode == 0
