"""Bad input fails in the first seconds, before any API call, saying what to fix."""

from __future__ import annotations

import json
import re

import pytest

from platform_harness import run_playbook

def node_groups(**changes):
    """The default cpu/gpu node groups, one of them changed: -e for platform_eks_node_groups."""
    groups = [
        {"name": "cpu-nodes", "capacity_type": "ON_DEMAND", "instance_types": ["m6i.xlarge"],
         "min_size": 2, "max_size": 10, "desired_size": 2, "ami_type": "AL2023_x86_64_STANDARD",
         "labels": {"workload": "cpu", "role": "general"}},
        {"name": "gpu-nodes", "capacity_type": "SPOT", "instance_types": ["g5.xlarge"],
         "min_size": 0, "max_size": 10, "desired_size": 0, "ami_type": "AL2023_x86_64_NVIDIA",
         "labels": {"workload": "gpu", "nvidia.com/gpu": "true"},
         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]},
    ]
    groups[1].update(changes)
    return ["-e", "env=local", "-e", json.dumps({"platform_eks_node_groups": groups})]


CASES = {
    "node group min > max": (node_groups(min_size=5, max_size=2, desired_size=3), "gpu-nodes"),
    "desired outside min..max": (node_groups(desired_size=11), "gpu-nodes"),
    "unknown capacity type": (node_groups(capacity_type="RESERVED"), "RESERVED"),
    "GPU node group without a GPU instance type": (
        node_groups(instance_types=["m6i.xlarge"], ami_type="AL2023_x86_64_STANDARD"), "gpu-nodes"),
    "instance type the region does not offer": (["-e", "env=local", "-e", "platform_gpu_instance_type=p3.2xlarge"],
                                                "Instance type 'p3.2xlarge' is not offered in us-west-2"),
    "EKS version not supported": (["-e", "env=local", "-e", "platform_eks_version=1.28"],
                                  "Kubernetes version 1.28 is not supported"),
    "empty public endpoint allow-list in prod": (["-e", "env=prod"],
                                                 "aws_eks_public_access_cidrs is empty"),
    "missing env": ([], "No environment given: run with -e env=NAME, where NAME is one of local, dev, staging, prod"),
    "unknown env": (["-e", "env=qa"], "Unknown environment qa"),
    "invalid VPC CIDR": (["-e", "env=local", "-e", "platform_vpc_cidr=10.0.0.0/33"], "is not a valid VPC CIDR"),
    "VPC CIDR with host bits": (["-e", "env=local", "-e", "platform_vpc_cidr=10.0.0.1/16"], "is not a valid VPC CIDR"),
    "subnet outside the VPC": (
        ["-e", "env=local", "-e", json.dumps({"platform_public_subnet_cidrs": ["10.0.1.0/24", "10.9.2.0/24"]})],
        "Subnet CIDR '10.9.2.0/24' must be an IPv4 network address (prefix /16 to /28) inside the VPC 10.0.0.0/16"),
    "overlapping subnets": (
        ["-e", "env=local", "-e", json.dumps({"platform_private_subnet_cidrs": ["10.0.10.0/24", "10.0.10.128/25"]})],
        "Subnets 10.0.10.0/24 and 10.0.10.128/25 overlap"),
    "one AZ in prod": (
        ["-e", "env=prod", "-e", json.dumps({"platform_aws_azs": ["us-west-2a"], "platform_aws_min_azs": 1,
                                             "platform_public_subnet_cidrs": ["10.0.1.0/24"],
                                             "platform_private_subnet_cidrs": ["10.0.10.0/24"]})],
        "platform_aws_azs must list at least 2 distinct availability zones"),
    "bucket prefix S3 refuses": (["-e", "env=local", "-e", "platform_bucket_prefix=ML_Platform"],
                                 "would make bucket names S3 refuses"),
    "bucket prefix too long": (["-e", "env=local", "-e", "platform_bucket_prefix=" + "a" * 41],
                               "at most 40 characters"),
    "local on a real endpoint": (
        ["-e", "env=local", "-e", "platform_aws_endpoint_url=https://ec2.us-west-2.amazonaws.com"],
        "env=local is the twin: platform_aws_endpoint_url must be a loopback URL"),
    "dev on the twin's endpoint": (["-e", "env=dev", "-e", "platform_aws_endpoint_url=http://127.0.0.1:5000"],
                                   "env=dev must not reach the twin"),
    # GCP (enabled in env=local): checked with the other settings, before any request.
    "GCP GPU type not offered with the machine type": (
        ["-e", "env=local", "-e", "platform_gcp_accelerator_type=nvidia-l4"],
        "GPU type 'nvidia-l4' is not offered with machine type 'a2-highgpu-1g'"),
    "GCP GPU count the machine type does not allow": (
        ["-e", "env=local", "-e", "platform_gcp_accelerator_count=2"],
        "Machine type 'a2-highgpu-1g' does not allow 2 nvidia-tesla-a100 GPU(s)"),
    "GCP zone not in the region": (
        ["-e", "env=local", "-e", "platform_gcp_zone=us-east1-b"], "Zone 'us-east1-b' is not in region us-central1"),
    "GCP preemptible with automatic restart": (
        ["-e", "env=local", "-e", "platform_gcp_provisioning=preemptible", "-e", '{"gcp_compute_automatic_restart": true}'],
        "Spot and preemptible VMs cannot restart automatically"),
    "GCP SSH from anywhere": (
        ["-e", "env=local", "-e", json.dumps({"platform_gcp_ssh_source_ranges": ["0.0.0.0/0"]})],
        "SSH to GPU VMs from the whole internet is refused"),
    "GCP without a project": (
        ["-e", "env=dev", "-e", json.dumps({"platform_gcp_enabled": True})], "set platform_gcp_project to the project ID"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_any_api_call(twin, case):
    args, message = CASES[case]
    before, gcp_before = twin.requests(), twin.gcp_requests()
    # env=local on this test's twin, so that its counters would see a request.
    local = ["-e", f"platform_aws_endpoint_url={twin.url}"] \
        if "env=local" in args and not any("platform_aws_endpoint_url" in a for a in args) else []
    run = run_playbook("site.yml", *args, *local)
    assert run.rc != 0
    assert message in " ".join(run.output.split()), run.output[-2000:]
    assert re.search(r"mlinfra\.gpu_platform\.(platform|aws_eks|gcp_\w+) : (Validat|Require|Refuse)", run.output), \
        "failed in validation"
    assert run.seconds < 30
    assert twin.requests() == before, "no request reached the twin"
    assert twin.gcp_requests() == gcp_before, "no request reached the twin's GCP API"


def test_prod_cannot_reach_the_twin_through_the_environment(twin):
    before = twin.requests()
    run = run_playbook("site.yml", "-e", "env=prod", env={"AWS_ENDPOINT_URL": twin.url})
    assert run.rc != 0
    assert "env=prod must not reach the twin" in " ".join(run.output.split())
    assert twin.requests() == before


def test_a_real_env_cannot_reach_the_twins_gcp_api(twin):
    gcp_before = twin.gcp_requests()
    run = run_playbook("site.yml", "-e", "env=dev", "-e",
                       json.dumps({"platform_gcp_enabled": True, "platform_gcp_project": "my-ml-project"}),
                       env={"TWIN_GCP_URL": twin.gcp_url})
    assert run.rc != 0
    assert "env=dev must reach the real Google APIs: unset TWIN_GCP_URL" in " ".join(run.output.split())
    assert twin.gcp_requests() == gcp_before


def test_teardown_of_a_real_env_needs_the_name_typed_back(twin):
    before = twin.requests()
    run = run_playbook("teardown.yml", "-e", "env=staging")
    assert run.rc != 0
    assert "Teardown of env=staging not confirmed" in " ".join(run.output.split())
    assert twin.requests() == before
