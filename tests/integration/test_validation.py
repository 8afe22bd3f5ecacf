"""Bad input fails in the first seconds, before any API call, saying what to fix."""

from __future__ import annotations

import json

import pytest

from platform_harness import run_playbook

CASES = {
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
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_any_api_call(twin, case):
    args, message = CASES[case]
    before = twin.requests()
    run = run_playbook("site.yml", *args)
    assert run.rc != 0
    assert message in " ".join(run.output.split()), run.output[-2000:]
    assert "mlinfra.gpu_platform.platform : " in run.output, "failed in the validation role"
    assert run.seconds < 30
    assert twin.requests() == before, "no request reached the twin"


def test_prod_cannot_reach_the_twin_through_the_environment(twin):
    before = twin.requests()
    run = run_playbook("site.yml", "-e", "env=prod", env={"AWS_ENDPOINT_URL": twin.url})
    assert run.rc != 0
    assert "env=prod must not reach the twin" in " ".join(run.output.split())
    assert twin.requests() == before


def test_teardown_of_a_real_env_needs_the_name_typed_back(twin):
    before = twin.requests()
    run = run_playbook("teardown.yml", "-e", "env=staging")
    assert run.rc != 0
    assert "Teardown of env=staging not confirmed" in " ".join(run.output.split())
    assert twin.requests() == before
