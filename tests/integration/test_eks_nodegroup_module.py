# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional check of mlinfra.gpu_platform.eks_nodegroup against the twin's AWS emulator.

Starts the twin (``twin/twinctl up``: moto with the twin's patches, among them
patch_eks_nodegroup_updates, which makes DescribeUpdate report nodegroup updates) on a free
loopback port with its state in a temporary directory, creates the VPC, subnets, IAM roles and
the EKS cluster with boto3, runs the module through the ``ansible`` ad-hoc CLI from the
repository root and reads the node group back with boto3 after every step. ``twin/twinctl down``
stops the twin at the end.

Run: cd /work/main && .venv/bin/python -m pytest tests/integration/test_eks_nodegroup_module.py -q
"""

from __future__ import annotations

import json
import uuid

import pytest

import platform_harness

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from botocore.exceptions import ClientError  # noqa: E402

MODULE = "mlinfra.gpu_platform.eks_nodegroup"
REGION = "us-west-2"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}


def _trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@pytest.fixture(scope="module")
def endpoint(own_twin):
    return own_twin.url


@pytest.fixture(scope="module")
def aws(own_twin):
    clients = {name: own_twin.client(name) for name in ("ec2", "iam", "eks")}
    ec2, iam = clients["ec2"], clients["iam"]
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    clients["subnets"] = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.61.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    cluster_role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=_trust_policy("eks.amazonaws.com"))
    clients["node_role"] = iam.create_role(
        RoleName="eks-node", AssumeRolePolicyDocument=_trust_policy("ec2.amazonaws.com")
    )["Role"]["Arn"]
    clients["cluster"] = f"ml-{uuid.uuid4().hex[:6]}"
    clients["eks"].create_cluster(
        name=clients["cluster"],
        version="1.33",
        roleArn=cluster_role["Role"]["Arn"],
        resourcesVpcConfig={"subnetIds": clients["subnets"]},
    )
    return clients


run_module = platform_harness.module_runner(MODULE)


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def describe(aws, name):
    return aws["eks"].describe_nodegroup(clusterName=aws["cluster"], nodegroupName=name)["nodegroup"]


def gone(aws, name) -> bool:
    try:
        describe(aws, name)
    except ClientError as e:
        return e.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def update_of(aws, name, update_id):
    return aws["eks"].describe_update(name=aws["cluster"], nodegroupName=name, updateId=update_id)["update"]


def test_lifecycle(endpoint, aws):
    name = f"gpu-{uuid.uuid4().hex[:6]}"
    args = dict(
        cluster_name=aws["cluster"],
        name=name,
        node_role=aws["node_role"],
        subnets=aws["subnets"],
        instance_types=["g5.xlarge", "g5.2xlarge"],
        capacity_type="SPOT",
        ami_type="AL2023_x86_64_NVIDIA",
        disk_size=200,
        scaling_config={"min_size": 0, "max_size": 4, "desired_size": 1},
        update_config={"max_unavailable_percentage": 25},
        labels={"nvidia.com/gpu.present": "true", "workload": "training"},
        taints=[GPU_TAINT],
        tags={"team": "ml"},
    )

    # check mode creates nothing
    result = run_module(endpoint, args, check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["diff"]["after"]["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert gone(aws, name)

    # create
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["updates"] == []
    nodegroup = describe(aws, name)
    assert nodegroup["amiType"] == "AL2023_x86_64_NVIDIA"
    assert nodegroup["capacityType"] == "SPOT"
    assert nodegroup["instanceTypes"] == ["g5.xlarge", "g5.2xlarge"]
    assert nodegroup["diskSize"] == 200
    assert nodegroup["nodeRole"] == aws["node_role"]
    assert sorted(nodegroup["subnets"]) == sorted(aws["subnets"])
    assert nodegroup["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 1}
    assert nodegroup["updateConfig"] == {"maxUnavailablePercentage": 25}
    assert nodegroup["labels"] == {"nvidia.com/gpu.present": "true", "workload": "training"}
    assert nodegroup["taints"] == [GPU_TAINT]
    assert nodegroup["tags"] == {"team": "ml"}
    returned = result["nodegroup"]
    assert returned["nodegroup_arn"] == nodegroup["nodegroupArn"] and returned["status"] == "ACTIVE"
    assert returned["labels"] == nodegroup["labels"] and returned["taints"] == [GPU_TAINT]
    assert returned["tags"] == {"team": "ml"}
    assert result["diff"]["before"] == {} and result["diff"]["after"]["taints"] == [GPU_TAINT]

    # second run: no change
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    assert result["updates"] == []

    # labels, taints and scaling: three updates, one after the other; check mode first
    changed = dict(
        args,
        labels={"nvidia.com/gpu.present": "true", "workload": "inference"},
        taints=[dict(GPU_TAINT, value="present"), {"key": "spot", "effect": "PREFER_NO_SCHEDULE"}],
        scaling_config={"min_size": 1, "max_size": 8, "desired_size": 2},
    )
    result = run_module(endpoint, changed, check=True)
    assert_ok(result)
    assert result["changed"] is True and result["updates"] == []
    assert describe(aws, name)["labels"]["workload"] == "training"
    result = run_module(endpoint, changed, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert len(result["updates"]) == 3
    updates = [update_of(aws, name, u) for u in result["updates"]]
    assert [(u["type"], u["status"]) for u in updates] == [("ConfigUpdate", "Successful")] * 3
    assert [sorted(p["type"] for p in u["params"]) for u in updates] == [
        ["LabelsToAdd"],
        ["TaintsToAdd"],
        ["DesiredSize", "MaxSize", "MinSize"],
    ]
    nodegroup = describe(aws, name)
    assert nodegroup["labels"] == {"nvidia.com/gpu.present": "true", "workload": "inference"}
    assert sorted(nodegroup["taints"], key=lambda t: t["key"]) == [
        dict(GPU_TAINT, value="present"),
        {"key": "spot", "effect": "PREFER_NO_SCHEDULE"},
    ]
    assert nodegroup["scalingConfig"] == {"minSize": 1, "maxSize": 8, "desiredSize": 2}
    assert result["diff"]["before"]["labels"]["workload"] == "training"
    assert result["diff"]["after"]["labels"]["workload"] == "inference"
    result = run_module(endpoint, changed)
    assert_ok(result)
    assert result["changed"] is False

    # labels and taints removed, a tag changed
    args = dict(changed, labels={"workload": "inference"}, taints=[], tags={"team": "ml", "cost": "gpu"})
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is True
    assert [sorted(p["type"] for p in update_of(aws, name, u)["params"]) for u in result["updates"]] == [
        ["LabelsToRemove"],
        ["TaintsToRemove"],
    ]
    nodegroup = describe(aws, name)
    assert nodegroup["labels"] == {"workload": "inference"}
    assert nodegroup["taints"] == []
    assert nodegroup["tags"] == {"team": "ml", "cost": "gpu"}

    # the cluster autoscaler scales to 5: with ignore_desired_size_changes only the bounds change
    aws["eks"].update_nodegroup_config(clusterName=aws["cluster"], nodegroupName=name, scalingConfig={"desiredSize": 5})
    args = dict(args, ignore_desired_size_changes=True)
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    args["scaling_config"] = {"min_size": 1, "max_size": 12, "desired_size": 2}
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is True
    assert describe(aws, name)["scalingConfig"] == {"minSize": 1, "maxSize": 12, "desiredSize": 5}

    # refused before anything changes: other instance types, capacity type, AMI type
    bad = dict(
        args,
        instance_types=["p5.48xlarge"],
        capacity_type="ON_DEMAND",
        ami_type="BOTTLEROCKET_x86_64_NVIDIA",
        labels={"changed": "no"},
    )
    result = run_module(endpoint, bad)
    assert result.get("failed") is True
    assert "EKS cannot change" in result["msg"]
    for key in ("instance_types", "capacity_type", "ami_type"):
        assert key in result["msg"]
    assert describe(aws, name)["labels"] == {"workload": "inference"}

    # absent, then absent again
    absent = dict(cluster_name=aws["cluster"], name=name, state="absent")
    result = run_module(endpoint, absent, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["diff"]["before"]["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert gone(aws, name)
    result = run_module(endpoint, absent)
    assert_ok(result)
    assert result["changed"] is False
    # a cluster that does not exist has no node group either
    result = run_module(endpoint, dict(absent, cluster_name="no-such-cluster"))
    assert_ok(result)
    assert result["changed"] is False
