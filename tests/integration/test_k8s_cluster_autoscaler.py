"""roles/k8s_cluster_autoscaler: every manifest validated offline in strict mode against each
supported EKS version; the settings carried into the objects; bad input rejected before any
call to the cluster. (The objects on the twin's cluster and the IRSA role are read back in
test_platform.py.)"""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from platform_harness import REPO
from platform_harness import run_playbook

RENDER = "tests/integration/playbooks/k8s_cluster_autoscaler_render.yml"
PLATFORM = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())
EKS_VERSIONS = PLATFORM["platform_eks_supported_versions"]
ROLE_ARN = "arn:aws:iam::123456789012:role/ml-platform-eks-cluster-autoscaler"
BASE = {
    "k8s_cluster_autoscaler_cluster_name": "ml-platform-eks",
    "k8s_cluster_autoscaler_role_arn": ROLE_ARN,
    "k8s_cluster_autoscaler_region": "eu-west-1",
}


def render(tmp_path, **values):
    out = tmp_path / "rendered.json"
    run = run_playbook(RENDER, "-e", f"k8s_cluster_autoscaler_render_out={out}", "-e", json.dumps({**BASE, **values}))
    return run, (json.loads(out.read_text()) if out.exists() else None)


@pytest.fixture(scope="module", params=EKS_VERSIONS)
def rendered(request, tmp_path_factory):
    run, objects = render(tmp_path_factory.mktemp("render"), k8s_cluster_autoscaler_kubernetes_version=request.param,
                          k8s_cluster_autoscaler_node_selector={"workload": "cpu"})
    assert run.rc == 0, run.output[-3000:]
    return request.param, objects


def test_every_manifest_is_valid_in_strict_mode(rendered):
    version, objects = rendered
    assert [o["kind"] for o in objects] == ["ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Deployment"]
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_release_matches_the_cluster_and_settings_reach_the_deployment(rendered):
    version, objects = rendered
    by_kind = {o["kind"]: o for o in objects}
    assert by_kind["ServiceAccount"]["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    spec = by_kind["Deployment"]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["image"].startswith(f"registry.k8s.io/autoscaling/cluster-autoscaler:v{version}.")
    assert "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/ml-platform-eks" \
        in container["command"]
    assert "--expander=least-waste" in container["command"]
    assert container["env"] == [{"name": "AWS_REGION", "value": "eu-west-1"}]
    assert spec["serviceAccountName"] == by_kind["ServiceAccount"]["metadata"]["name"]
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["nodeSelector"] == {"workload": "cpu"}
    assert spec["securityContext"]["runAsNonRoot"] is True
    # Leader election and status need exactly these; nothing cluster-wide is writable but events/endpoints/nodes.
    rules = by_kind["ClusterRole"]["rules"]
    writes = {r for rule in rules for r in rule["resources"] if set(rule["verbs"]) & {"create", "update", "patch", "delete"}}
    assert writes == {"events", "endpoints", "pods/eviction", "pods/status", "nodes", "leases"}


def test_extra_args_are_added(tmp_path):
    run, objects = render(tmp_path, k8s_cluster_autoscaler_extra_args={"max-node-provision-time": "20m"})
    assert run.rc == 0, run.output[-3000:]
    command = [o for o in objects if o["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--max-node-provision-time=20m" in command


BAD = {
    "release of another minor version": (
        {"k8s_cluster_autoscaler_version": "1.33.5", "k8s_cluster_autoscaler_kubernetes_version": "1.34"},
        "minor version must match the cluster's Kubernetes version 1.34"),
    "unsupported cluster version": (
        {"k8s_cluster_autoscaler_kubernetes_version": "1.29"},
        "must match the cluster's Kubernetes version 1.29"),
    "no IRSA role": ({"k8s_cluster_autoscaler_role_arn": ""}, "k8s_cluster_autoscaler_role_arn the ARN of its IRSA role"),
    "a user ARN instead of a role": (
        {"k8s_cluster_autoscaler_role_arn": "arn:aws:iam::123456789012:user/ci"}, "got 'arn:aws:iam::123456789012:user/ci'"),
    "overriding the discovery flag": (
        {"k8s_cluster_autoscaler_extra_args": {"node-group-auto-discovery": "asg:tag=x"}}, "other than cloud-provider and"),
    "unknown expander": ({"k8s_cluster_autoscaler_expander": "cheapest"}, "value of k8s_cluster_autoscaler_expander must be one of"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_rejected(case, tmp_path):
    values, message = BAD[case]
    run, objects = render(tmp_path, **values)
    flat = " ".join(run.output.split())
    assert run.rc != 0 and objects is None
    assert message in flat, flat[-2000:]
