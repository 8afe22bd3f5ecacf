"""Every manifest roles/k8s_gpu can render, validated offline in strict mode against the
Kubernetes schemas of each EKS version the platform supports; bad input rejected before
any call to the cluster."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from platform_harness import REPO
from platform_harness import run_playbook

RENDER = "tests/integration/playbooks/k8s_gpu_render.yml"
APPLY = "tests/integration/playbooks/k8s_gpu_apply.yml"
PLATFORM = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())
EKS_VERSIONS = PLATFORM["platform_eks_supported_versions"]

VARIANTS = {
    "default": {},
    "time-sliced inference with feature discovery": {
        "k8s_gpu_time_slicing": {"enabled": True, "replicas": 4, "node_groups": ["inference-nodes"]},
        "k8s_gpu_feature_discovery": True,
    },
    "every GPU group time-sliced, extra toleration": {
        "k8s_gpu_time_slicing": {"enabled": True, "replicas": 2, "node_groups": ["gpu-nodes", "inference-nodes"]},
        "k8s_gpu_extra_tolerations": [{"key": "workload", "operator": "Equal", "value": "inference", "effect": "NoSchedule"}],
    },
}


def render(tmp_path, **values) -> tuple[object, dict]:
    out = tmp_path / "rendered.json"
    run = run_playbook(RENDER, "-e", "env=local", "-e", f"k8s_gpu_render_out={out}", "-e", json.dumps(values))
    return run, (json.loads(out.read_text()) if out.exists() else {})


@pytest.fixture(scope="module", params=list(VARIANTS))
def rendered(request, tmp_path_factory):
    run, result = render(tmp_path_factory.mktemp("render"), **VARIANTS[request.param])
    assert run.rc == 0, run.output[-3000:]
    return result


@pytest.mark.parametrize("version", EKS_VERSIONS)
def test_every_manifest_is_valid_in_strict_mode(rendered, version):
    docs = rendered["manifests"] + [rendered["smoke_test_job"]]
    assert docs
    for doc in docs:
        # Raises ValidationError (e.g. a misspelled field in strict mode) or an unknown version.
        kubernetes_validate.validate(doc, version, strict=True)


def test_daemonsets_are_pinned_critical_and_bound_to_gpu_nodes(rendered):
    groups = {g["name"]: g for g in PLATFORM["platform_eks_node_groups"]}
    for ds in (d for d in rendered["manifests"] if d["kind"] == "DaemonSet"):
        spec = ds["spec"]["template"]["spec"]
        assert spec["priorityClassName"] == "system-node-critical"
        assert spec["containers"][0]["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.19.0"
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        # Every term selects exactly one GPU node group by all of its labels, and its taints are tolerated.
        for term in terms:
            labels = {e["key"]: e["values"][0] for e in term["matchExpressions"]}
            [group] = [g for g in groups.values() if g.get("labels") == labels]
            assert group["ami_type"].endswith("NVIDIA")
            for taint in group.get("taints", []):
                assert {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": "NoSchedule"} \
                    in spec["tolerations"]
        assert "cpu-nodes" not in json.dumps(terms) and '"cpu"' not in json.dumps(terms)


def test_helm_values_carry_the_same_settings(rendered):
    by_name = {d["metadata"]["name"]: d for d in rendered["manifests"] if d["kind"] == "DaemonSet"}
    for name, values in rendered["helm_values"].items():
        spec = by_name[name]["spec"]["template"]["spec"]
        assert values["tolerations"] == spec["tolerations"]
        assert values["affinity"] == spec["affinity"]
        assert values["priorityClassName"] == spec["priorityClassName"]
        assert f"{values['image']['repository']}:{values['image']['tag']}" == spec["containers"][0]["image"]


BAD = {
    "device plugin version not supported": ({"k8s_gpu_device_plugin_version": "0.14.0"},
                                            "k8s_gpu_device_plugin_version '0.14.0' is not supported: use one of 0.18.1, 0.18.2, 0.19.0"),
    "time-slicing replicas < 1": ({"k8s_gpu_time_slicing": {"enabled": True, "replicas": 0, "node_groups": ["inference-nodes"]}},
                                  "k8s_gpu_time_slicing.replicas must be a whole number >= 1 (got '0')"),
    "time-slicing a CPU node group": ({"k8s_gpu_time_slicing": {"enabled": True, "replicas": 2, "node_groups": ["cpu-nodes"]}},
                                      "its node_groups must be GPU node groups (gpu-nodes, inference-nodes; got cpu-nodes)"),
    "toleration matching no taint": ({"k8s_gpu_extra_tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]},
                                     'The toleration {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"} matches no taint'),
    "toleration with the wrong value": ({"k8s_gpu_extra_tolerations": [{"key": "workload", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]},
                                        "matches no taint of the node groups"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_rejected_before_any_call_to_the_cluster(case, tmp_path):
    values, message = BAD[case]
    # A kubeconfig whose server nothing listens on: any call would fail with a connection error.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "unused"}}],
    }))
    run = run_playbook(APPLY, "-e", "env=local", "-e", json.dumps({**values, "k8s_gpu_kubeconfig": str(kubeconfig)}))
    flat = " ".join(run.output.split())
    assert run.rc != 0
    assert message in flat, flat[-2000:]
    assert "127.0.0.1:9" not in flat and "Connection refused" not in flat, "the cluster was called"
