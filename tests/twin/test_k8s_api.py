"""Tests of the twin's Kubernetes API (twin/k8s_api.py), the EKS endpoint in env=local.

Most tests start the emulator directly on a free loopback port (module fixture `k8s`); the
last ones run the whole twin through `twin/twinctl up` (moto + k8s API) and check the wiring:
an EKS cluster's endpoint is the k8s API and its managed node groups' nodes register there.
Clients: the `kubernetes` Python client and ansible-playbook with kubernetes.core.k8s/k8s_info.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import kubernetes
import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = os.environ.get("TWIN_PYTHON", str(VENV_BIN / "python"))
sys.path.insert(0, str(ROOT / "twin"))
import k8s_api  # noqa: E402
from emulator import free_port, http, running  # noqa: E402



class K8s:
    def __init__(self, url: str):
        self.url = url
        self.token = k8s_api.eks_token("twin-test")

    def api_client(self, token: str | None = None) -> kubernetes.client.ApiClient:
        conf = kubernetes.client.Configuration()
        conf.host = self.url
        if token is not False:
            conf.api_key = {"authorization": f"Bearer {token or self.token}"}
        return kubernetes.client.ApiClient(conf)

    def dynamic(self) -> DynamicClient:
        return DynamicClient(self.api_client())

    def admin(self, method: str, path: str, body=None):
        return http(method, self.url + path, body)


@pytest.fixture(scope="module")
def k8s():
    with running("k8s_api.py") as url:
        yield K8s(url)


@pytest.fixture
def fresh(k8s):
    assert k8s.admin("POST", "/_twin/reset")[0] == 200
    return k8s


DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "nvidia-device-plugin", "namespace": "kube-system", "labels": {"app": "nvidia-device-plugin"}},
    "spec": {
        "selector": {"matchLabels": {"app": "nvidia-device-plugin"}},
        "template": {
            "metadata": {"labels": {"app": "nvidia-device-plugin"}},
            "spec": {
                "priorityClassName": "system-node-critical",
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "eks.amazonaws.com/nodegroup", "operator": "In", "values": ["gpu"]}]}
                            ]
                        }
                    }
                },
                "containers": [{"name": "plugin", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}],
            },
        },
    },
}

GPU_NODEGROUP = {
    "nodegroupName": "gpu",
    "instanceTypes": ["g5.xlarge"],
    "capacityType": "SPOT",
    "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 2},
    "labels": {"mlinfra.io/accelerator": "nvidia-a10g"},
    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
}
CPU_NODEGROUP = {"nodegroupName": "system", "instanceTypes": ["m5.large"], "scalingConfig": {"desiredSize": 1}}


# ------------------------------------------------------------------------------------------
# Auth, discovery, /version
# ------------------------------------------------------------------------------------------


def test_token_is_an_eks_presigned_sts_url():
    token = k8s_api.eks_token("demo", "us-west-2")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    payload = token[len("k8s-aws-v1.") :]
    url = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert url.startswith("https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity")
    assert "x-k8s-aws-id" in url
    assert k8s_api.check_token(f"Bearer {token}") is None


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer not-a-token",
        "Basic dGVzdDp0ZXN0",
        "Bearer k8s-aws-v1." + base64.urlsafe_b64encode(b"https://example.com/?Action=GetCallerIdentity").decode(),
        # presigned, but without the x-k8s-aws-id signed header
        "Bearer k8s-aws-v1."
        + base64.urlsafe_b64encode(
            boto3.client("sts", region_name="us-west-2", aws_access_key_id="t", aws_secret_access_key="t")
            .generate_presigned_url("get_caller_identity")
            .encode()
        ).decode(),
    ],
)
def test_requests_without_a_proper_token_get_401(k8s, header):
    status, body = http("GET", k8s.url + "/api/v1/namespaces", headers={"Authorization": header} if header else {})
    assert status == 401
    assert body["kind"] == "Status" and body["code"] == 401 and body["reason"] == "Unauthorized"
    with pytest.raises(ApiException) as exc:
        kubernetes.client.CoreV1Api(k8s.api_client(token=False)).list_node()
    assert exc.value.status == 401


def test_an_expired_token_is_refused():
    token = k8s_api.eks_token("demo")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=16)
    assert k8s_api.check_token(f"Bearer {token}", now=later) == "token expired"


def test_version_and_discovery(k8s):
    status, version = http("GET", k8s.url + "/version")  # anonymous, as on EKS
    assert status == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.34.")
    client = k8s.dynamic()
    assert client.version["kubernetes"]["minor"] == "34"
    for api_version, kind in [
        ("v1", "Node"), ("v1", "Namespace"), ("v1", "ConfigMap"), ("apps/v1", "DaemonSet"), ("apps/v1", "Deployment"),
        ("batch/v1", "Job"), ("scheduling.k8s.io/v1", "PriorityClass"), ("node.k8s.io/v1", "RuntimeClass"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("policy/v1", "PodDisruptionBudget"),
        ("coordination.k8s.io/v1", "Lease"),
    ]:  # fmt: skip
        assert client.resources.get(api_version=api_version, kind=kind).kind == kind
    assert http("POST", k8s.url + "/_twin/cluster", {"version": "1.33"})[0] == 200
    try:
        assert http("GET", k8s.url + "/version")[1]["gitVersion"].startswith("v1.33.")
    finally:
        http("POST", k8s.url + "/_twin/cluster", {"version": "1.34"})


def test_refuses_to_bind_a_routable_address():
    with pytest.raises(ValueError):
        k8s_api.make_server("0.0.0.0", free_port())
    proc = subprocess.run([PYTHON, str(ROOT / "twin" / "k8s_api.py"), "--host", "0.0.0.0", "--port", "1"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "non-loopback" in proc.stderr


# ------------------------------------------------------------------------------------------
# Objects with the kubernetes client
# ------------------------------------------------------------------------------------------


def test_daemonset_crud_dry_run_and_metadata(fresh):
    ds = fresh.dynamic().resources.get(api_version="apps/v1", kind="DaemonSet")
    dry = ds.create(body=DAEMONSET, namespace="kube-system", dry_run="All").to_dict()
    assert dry["metadata"]["name"] == "nvidia-device-plugin"
    assert ds.get(namespace="kube-system").items == []  # dryRun=All stored nothing

    created = ds.create(body=DAEMONSET, namespace="kube-system").to_dict()
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and meta["generation"] == 1 and meta["resourceVersion"]
    read = ds.get(name="nvidia-device-plugin", namespace="kube-system").to_dict()
    pod_spec = read["spec"]["template"]["spec"]
    assert pod_spec["priorityClassName"] == "system-node-critical"
    assert pod_spec["tolerations"] == DAEMONSET["spec"]["template"]["spec"]["tolerations"]
    assert pod_spec["affinity"] == DAEMONSET["spec"]["template"]["spec"]["affinity"]

    with pytest.raises(ApiException) as exc:
        ds.create(body=DAEMONSET, namespace="kube-system")
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "AlreadyExists"

    # a patch that changes nothing keeps resourceVersion and generation
    same = ds.patch(body=DAEMONSET, name="nvidia-device-plugin", namespace="kube-system",
                    content_type="application/strategic-merge-patch+json").to_dict()  # fmt: skip
    assert same["metadata"]["resourceVersion"] == meta["resourceVersion"] and same["metadata"]["generation"] == 1

    # strategic merge: containers merge by name; dry run changes nothing
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "plugin", "image": "plugin:v2"}]}}}}
    ds.patch(body=patch, name="nvidia-device-plugin", namespace="kube-system",
             content_type="application/strategic-merge-patch+json", dry_run="All")  # fmt: skip
    assert ds.get(name="nvidia-device-plugin", namespace="kube-system").metadata.resourceVersion == meta["resourceVersion"]
    changed = ds.patch(body=patch, name="nvidia-device-plugin", namespace="kube-system",
                       content_type="application/strategic-merge-patch+json").to_dict()  # fmt: skip
    assert changed["spec"]["template"]["spec"]["containers"] == [{"name": "plugin", "image": "plugin:v2"}]
    assert changed["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    assert int(changed["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert changed["metadata"]["generation"] == 2 and changed["metadata"]["uid"] == meta["uid"]

    # merge patch with null removes a key; stale resourceVersion on replace: 409
    removed = ds.patch(body={"metadata": {"labels": {"app": None}}}, name="nvidia-device-plugin",
                       namespace="kube-system", content_type="application/merge-patch+json").to_dict()  # fmt: skip
    assert "app" not in (removed["metadata"].get("labels") or {})
    stale = dict(DAEMONSET, metadata=dict(DAEMONSET["metadata"], resourceVersion=meta["resourceVersion"]))
    with pytest.raises(ApiException) as exc:
        ds.replace(body=stale, name="nvidia-device-plugin", namespace="kube-system")
    assert exc.value.status == 409

    ds.delete(name="nvidia-device-plugin", namespace="kube-system", dry_run="All")
    assert ds.get(name="nvidia-device-plugin", namespace="kube-system")
    ds.delete(name="nvidia-device-plugin", namespace="kube-system", body={"propagationPolicy": "Foreground"})
    with pytest.raises(ApiException) as exc:
        ds.get(name="nvidia-device-plugin", namespace="kube-system")
    assert exc.value.status == 404 and json.loads(exc.value.body)["kind"] == "Status"


def test_server_side_apply_and_errors(fresh):
    client = fresh.dynamic()
    cm = client.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}}
    first = cm.server_side_apply(body=body, name="c", namespace="default", field_manager="twin-test").to_dict()
    second = cm.server_side_apply(body=body, name="c", namespace="default", field_manager="twin-test").to_dict()
    assert first["data"] == {"a": "1"} and second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert first["metadata"]["managedFields"][0]["manager"] == "twin-test"
    with pytest.raises(ApiException) as exc:  # no such namespace
        cm.create(body=dict(body, metadata={"name": "c", "namespace": "nope"}), namespace="nope")
    assert exc.value.status == 404
    with pytest.raises(ApiException) as exc:
        cm.create(body=dict(body, metadata={"name": "Bad_Name"}), namespace="default")
    assert exc.value.status == 422 and json.loads(exc.value.body)["reason"] == "Invalid"
    # label and field selectors
    cm.create(body={"metadata": {"name": "l", "labels": {"tier": "gpu"}}, "data": {}}, namespace="default")
    names = lambda **kw: sorted(i.metadata.name for i in cm.get(namespace="default", **kw).items)  # noqa: E731
    assert names(label_selector="tier=gpu") == ["l"]
    assert names(label_selector="tier in (gpu, cpu)") == ["l"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=c") == ["c"]
    listing = fresh.admin("GET", "/api/v1/namespaces/default/configmaps")
    assert listing[0] == 401  # even lists need the token
    status, lst = http("GET", fresh.url + "/api/v1/namespaces/default/configmaps",
                       headers={"Authorization": f"Bearer {fresh.token}"})  # fmt: skip
    assert status == 200 and lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"


def test_namespace_create_read_delete(fresh):
    ns = fresh.dynamic().resources.get(api_version="v1", kind="Namespace")
    created = ns.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}}).to_dict()
    assert created["status"]["phase"] == "Active"
    assert ns.get(name="ml").metadata.labels["kubernetes.io/metadata.name"] == "ml"
    cm = fresh.dynamic().resources.get(api_version="v1", kind="ConfigMap")
    cm.create(body={"metadata": {"name": "x"}}, namespace="ml")
    ns.delete(name="ml")
    with pytest.raises(ApiException):
        ns.get(name="ml")
    assert cm.get(namespace="ml").items == []


# ------------------------------------------------------------------------------------------
# Nodes of EKS managed node groups
# ------------------------------------------------------------------------------------------


def test_nodegroups_register_gpu_nodes_with_labels_taints_and_gpus(fresh):
    status, result = fresh.admin("POST", "/_twin/nodes", {"cluster": "ml", "region": "us-west-2",
                                                          "nodegroups": [GPU_NODEGROUP, CPU_NODEGROUP]})  # fmt: skip
    assert status == 200 and len(result["created"]) == 3
    v1 = kubernetes.client.CoreV1Api(fresh.api_client())
    gpu_nodes = v1.list_node(label_selector="eks.amazonaws.com/nodegroup=gpu").items
    assert len(gpu_nodes) == 2
    for node in gpu_nodes:
        labels = node.metadata.labels
        assert labels["eks.amazonaws.com/capacityType"] == "SPOT"
        assert labels["node.kubernetes.io/instance-type"] == "g5.xlarge"
        assert labels["topology.kubernetes.io/zone"].startswith("us-west-2")
        assert labels["kubernetes.io/os"] == "linux" and labels["mlinfra.io/accelerator"] == "nvidia-a10g"
        assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [("nvidia.com/gpu", "true", "NoSchedule")]
        assert node.status.capacity["nvidia.com/gpu"] == node.status.allocatable["nvidia.com/gpu"] == "1"
        assert node.status.capacity["cpu"] == "4"
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    cpu = v1.list_node(label_selector="eks.amazonaws.com/nodegroup=system").items
    assert len(cpu) == 1 and "nvidia.com/gpu" not in cpu[0].status.capacity and not cpu[0].spec.taints

    # same again: nothing changes; scale to 1 and drop the CPU group: one GPU node left
    assert fresh.admin("POST", "/_twin/nodes", {"cluster": "ml", "nodegroups": [GPU_NODEGROUP, CPU_NODEGROUP]})[1][
        "unchanged"
    ]  # fmt: skip
    smaller = dict(GPU_NODEGROUP, scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 1})
    result = fresh.admin("POST", "/_twin/nodes", {"cluster": "ml", "nodegroups": [smaller]})[1]
    assert len(result["deleted"]) == 2
    assert [n.metadata.labels["eks.amazonaws.com/nodegroup"] for n in v1.list_node().items] == ["gpu"]


def test_nodegroup_data_from_ec2_describe_instance_types():
    info = k8s_api.instance_info(
        "p5.48xlarge",
        {"VCpuInfo": {"DefaultVCpus": 192}, "MemoryInfo": {"SizeInMiB": 2097152},
         "GpuInfo": {"Gpus": [{"Count": 8, "Manufacturer": "NVIDIA"}]}},
    )  # fmt: skip
    assert info == {"vcpus": 192, "memoryMiB": 2097152, "gpus": 8, "arch": "amd64"}


# ------------------------------------------------------------------------------------------
# kubernetes.core with ansible-playbook: check mode, idempotence, delete
# ------------------------------------------------------------------------------------------

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/kubernetes.core.k8s:
      host: "{{ k8s_url }}"
      api_key: "{{ k8s_token }}"
  tasks:
    - name: daemonset
      kubernetes.core.k8s:
        state: "{{ ds_state }}"
        definition: "{{ daemonset }}"
    - name: read
      kubernetes.core.k8s_info:
        kind: DaemonSet
        namespace: kube-system
        name: nvidia-device-plugin
    - name: gpu nodes
      kubernetes.core.k8s_info:
        kind: Node
        label_selectors: ["eks.amazonaws.com/nodegroup=gpu"]
"""


@pytest.fixture
def playbook(fresh, tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_NOCOLOR="1", HOME=str(tmp_path))  # fmt: skip

    def run(state: str = "present", check: bool = False, daemonset: dict = DAEMONSET) -> dict:
        extra = {"k8s_url": fresh.url, "k8s_token": fresh.token, "ds_state": state, "daemonset": daemonset}
        (tmp_path / "vars.json").write_text(json.dumps(extra))
        cmd = [str(VENV_BIN / "ansible-playbook"), str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"]
        proc = subprocess.run(cmd + (["--check"] if check else []), cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)  # fmt: skip
        try:
            output = json.JSONDecoder().raw_decode(proc.stdout)[0]
        except ValueError:
            pytest.fail(f"ansible-playbook gave no JSON (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results = {t["task"]["name"]: t["hosts"]["localhost"] for t in output["plays"][0]["tasks"]}
        for name, res in results.items():
            assert not res.get("failed"), f"{name}: {res.get('msg')}"
        return results

    return run


def test_kubernetes_core_check_mode_idempotence_and_delete(fresh, playbook):
    fresh.admin("POST", "/_twin/nodes", {"cluster": "ml", "nodegroups": [GPU_NODEGROUP]})
    rv = lambda: fresh.admin("GET", "/_twin/health")[1]["resourceVersion"]  # noqa: E731

    before = rv()
    plan = playbook(check=True)
    assert plan["daemonset"]["changed"] is True and plan["read"]["resources"] == []
    assert rv() == before  # check mode (dryRun=All) changed nothing

    first = playbook()
    assert first["daemonset"]["changed"] is True
    [ds] = first["read"]["resources"]
    assert ds["spec"]["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert ds["spec"]["template"]["spec"]["priorityClassName"] == "system-node-critical"
    assert len(first["gpu nodes"]["resources"]) == 2
    assert first["gpu nodes"]["resources"][0]["status"]["allocatable"]["nvidia.com/gpu"] == "1"

    after_first = rv()
    assert playbook()["daemonset"]["changed"] is False
    assert rv() == after_first  # the second apply changed nothing

    changed_image = json.loads(json.dumps(DAEMONSET))
    changed_image["spec"]["template"]["spec"]["containers"][0]["image"] = "plugin:v2"
    plan = playbook(check=True, daemonset=changed_image)
    assert plan["daemonset"]["changed"] is True and rv() == after_first
    assert plan["read"]["resources"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == DAEMONSET["spec"][
        "template"
    ]["spec"]["containers"][0]["image"]  # fmt: skip

    plan = playbook(state="absent", check=True)
    assert plan["daemonset"]["changed"] is True and len(plan["read"]["resources"]) == 1 and rv() == after_first

    gone = playbook(state="absent")
    assert gone["daemonset"]["changed"] is True and gone["read"]["resources"] == []
    assert playbook(state="absent")["daemonset"]["changed"] is False


# ------------------------------------------------------------------------------------------
# The whole twin: twinctl starts both; moto's EKS endpoint is the k8s API and syncs nodes
# ------------------------------------------------------------------------------------------


def twinctl(*args: str, port: int, state_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TWIN_K8S"))}
    env.update(TWIN_AWS_PORT=str(port), TWIN_STATE_DIR=str(state_dir), TWIN_PYTHON=PYTHON)
    return subprocess.run([str(ROOT / "twin" / "twinctl"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_twinctl_runs_the_k8s_api_and_eks_points_at_it(tmp_path):
    port = free_port()
    while port > 64535:
        port = free_port()
    k8s_url = f"http://127.0.0.1:{port + 1000}"
    try:
        up = twinctl("up", port=port, state_dir=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"twin: started on http://127.0.0.1:{port}" in up.stdout
        assert f"twin: k8s API started on {k8s_url}" in up.stdout
        assert (tmp_path / f"k8s-api-{port + 1000}.pid").exists()
        again = twinctl("up", port=port, state_dir=tmp_path)
        assert again.returncode == 0 and again.stdout.strip() == f"twin: already running on http://127.0.0.1:{port}"
        status = twinctl("status", port=port, state_dir=tmp_path)
        assert status.returncode == 0 and status.stdout.strip() == f"http://127.0.0.1:{port}"
        assert k8s_url in status.stderr

        session = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-west-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        ec2, eks, iam = boto3.client("ec2", **session), boto3.client("eks", **session), boto3.client("iam", **session)
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-west-2b")["Subnet"]["SubnetId"]
        role = iam.create_role(RoleName="k8s-twin", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        cluster = eks.create_cluster(name="ml", version="1.33", roleArn=role, resourcesVpcConfig={"subnetIds": [subnet]})
        assert cluster["cluster"]["endpoint"] == k8s_url
        assert eks.describe_cluster(name="ml")["cluster"]["endpoint"] == k8s_url
        assert http("GET", k8s_url + "/version")[1]["gitVersion"].startswith("v1.33.")

        eks.create_nodegroup(
            clusterName="ml", nodegroupName="gpu", nodeRole=role, subnets=[subnet], instanceTypes=["g5.12xlarge"],
            scalingConfig={"minSize": 0, "maxSize": 3, "desiredSize": 2}, labels={"role": "gpu"},
            taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        )  # fmt: skip
        v1 = kubernetes.client.CoreV1Api(K8s(k8s_url).api_client())
        nodes = v1.list_node(label_selector="eks.amazonaws.com/nodegroup=gpu").items
        assert len(nodes) == 2
        assert {n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes} == {"us-west-2b"}
        assert nodes[0].status.capacity["nvidia.com/gpu"] == "4" and nodes[0].metadata.labels["role"] == "gpu"
        assert nodes[0].spec.taints[0].effect == "NoSchedule"

        eks.update_nodegroup_config(clusterName="ml", nodegroupName="gpu", scalingConfig={"desiredSize": 3})
        assert len(v1.list_node().items) == 3
        eks.delete_nodegroup(clusterName="ml", nodegroupName="gpu")
        assert v1.list_node().items == []

        reset = twinctl("reset", port=port, state_dir=tmp_path)
        assert reset.returncode == 0
    finally:
        down = twinctl("down", port=port, state_dir=tmp_path)
    assert down.returncode == 0 and down.stdout.strip() == "twin: stopped", down.stdout + down.stderr
    assert not (tmp_path / f"k8s-api-{port + 1000}.pid").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port + 1000), timeout=1).close()
    again = twinctl("down", port=port, state_dir=tmp_path)
    assert again.stdout.strip() == "twin: not running"
