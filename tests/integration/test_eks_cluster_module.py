# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional check of mlinfra.gpu_platform.eks_cluster against the twin's AWS emulator.

Starts the twin (``twin/twinctl up``: moto with the twin's patches, which add the EKS update
actions moto 5.2.5 lacks) on a free loopback port with its state in a temporary directory,
creates the VPC, subnets, IAM role and KMS key with boto3, runs the module through the
``ansible`` ad-hoc CLI from the repository root and reads the cluster back with boto3 after
every step. ``twin/twinctl down`` stops the twin at the end.

Run: cd /work/main && .venv/bin/python -m pytest tests/integration/test_eks_cluster_module.py -q
"""

from __future__ import annotations

import json
import uuid

import pytest

import platform_harness

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from botocore.exceptions import ClientError  # noqa: E402

MODULE = "mlinfra.gpu_platform.eks_cluster"
REGION = "us-west-2"
ALL_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}

TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


@pytest.fixture(scope="module")
def endpoint(own_twin):
    return own_twin.url


@pytest.fixture(scope="module")
def aws(own_twin):
    clients = {name: own_twin.client(name) for name in ("ec2", "iam", "kms", "eks")}
    ec2 = clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    clients["subnets"] = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    clients["role"] = clients["iam"].create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=TRUST_POLICY)["Role"][
        "Arn"
    ]
    clients["key"] = clients["kms"].create_key(Description="eks secrets")["KeyMetadata"]["Arn"]
    clients["key2"] = clients["kms"].create_key(Description="other")["KeyMetadata"]["Arn"]
    return clients


run_module = platform_harness.module_runner(MODULE)


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def describe(aws, name):
    return aws["eks"].describe_cluster(name=name)["cluster"]


def log_types(cluster, enabled):
    return {t for entry in cluster["logging"]["clusterLogging"] if entry["enabled"] is enabled for t in entry["types"]}


def gone(aws, name) -> bool:
    try:
        describe(aws, name)
    except ClientError as e:
        return e.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_lifecycle(endpoint, aws):
    name = f"gpu-{uuid.uuid4().hex[:6]}"
    args = dict(
        name=name,
        version="1.32",
        role_arn=aws["role"],
        subnets=aws["subnets"],
        endpoint_private_access=True,
        endpoint_public_access=True,
        public_access_cidrs=["203.0.113.0/24"],
        encryption_key_arn=aws["key"],
        logging=["api", "audit"],
        authentication_mode="API_AND_CONFIG_MAP",
        tags={"Name": name, "env": "test"},
    )

    # create
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["updates"] == []
    cluster = describe(aws, name)
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": aws["key"]}}]
    assert log_types(cluster, True) == {"api", "audit"}
    assert log_types(cluster, False) == ALL_LOGS - {"api", "audit"}
    vpc_config = cluster["resourcesVpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True and vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert sorted(vpc_config["subnetIds"]) == sorted(aws["subnets"])
    assert cluster["version"] == "1.32"
    assert cluster["tags"] == {"Name": name, "env": "test"}
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    returned = result["cluster"]
    assert returned["arn"] == cluster["arn"] and returned["status"] == "ACTIVE"
    assert returned["endpoint"] == cluster["endpoint"]
    assert returned["certificate_authority"]["data"] == cluster["certificateAuthority"]["data"]
    assert returned["identity"]["oidc"]["issuer"] == cluster["identity"]["oidc"]["issuer"]
    assert returned["encryption_config"][0]["provider"]["key_arn"] == aws["key"]
    assert result["diff"]["before"] == {} and result["diff"]["after"]["logging"] == ["api", "audit"]

    # second run: no change
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    assert result["updates"] == []

    # logging update
    args["logging"] = ["api", "audit", "authenticator"]
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert len(result["updates"]) == 1
    update = aws["eks"].describe_update(name=name, updateId=result["updates"][0])["update"]
    assert (update["type"], update["status"]) == ("LoggingUpdate", "Successful")
    cluster = describe(aws, name)
    assert log_types(cluster, True) == {"api", "audit", "authenticator"}
    assert log_types(cluster, False) == {"controllerManager", "scheduler"}
    assert result["diff"]["before"]["logging"] == ["api", "audit"]
    assert result["diff"]["after"]["logging"] == ["api", "audit", "authenticator"]

    # public access CIDRs update (the subnets and other settings stay)
    args["public_access_cidrs"] = ["203.0.113.0/24", "198.51.100.0/24"]
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is True
    update = aws["eks"].describe_update(name=name, updateId=result["updates"][0])["update"]
    assert update["type"] == "EndpointAccessUpdate"
    vpc_config = describe(aws, name)["resourcesVpcConfig"]
    assert sorted(vpc_config["publicAccessCidrs"]) == ["198.51.100.0/24", "203.0.113.0/24"]
    assert vpc_config["endpointPrivateAccess"] is True and vpc_config["endpointPublicAccess"] is True
    assert sorted(vpc_config["subnetIds"]) == sorted(aws["subnets"])
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False

    # version one minor step up, tags and the authentication mode in the same run
    args.update(version="1.33", tags={"Name": name, "owner": "ml"}, authentication_mode="API")
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is True
    types = [aws["eks"].describe_update(name=name, updateId=u)["update"]["type"] for u in result["updates"]]
    assert types == ["AccessConfigUpdate", "VersionUpdate"]
    cluster = describe(aws, name)
    assert cluster["version"] == "1.33"
    assert cluster["tags"] == {"Name": name, "owner": "ml"}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False

    # refused before anything changes: a two-step upgrade, another KMS key
    for bad, expected in (
        (dict(args, version="1.35", logging=["api"]), "one minor version at a time"),
        (dict(args, encryption_key_arn=aws["key2"]), "cannot change or remove the encryption key"),
    ):
        result = run_module(endpoint, bad)
        assert result.get("failed") is True
        assert expected in result["msg"]
    cluster = describe(aws, name)
    assert cluster["version"] == "1.33" and log_types(cluster, True) == {"api", "audit", "authenticator"}

    # absent, then absent again
    result = run_module(endpoint, dict(name=name, state="absent"), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["diff"]["before"]["version"] == "1.33"
    assert gone(aws, name)
    result = run_module(endpoint, dict(name=name, state="absent"))
    assert_ok(result)
    assert result["changed"] is False


def test_check_mode_encryption_association_and_nodegroup_guard(endpoint, aws):
    name = f"cm-{uuid.uuid4().hex[:6]}"
    args = dict(name=name, version="1.32", role_arn=aws["role"], subnets=aws["subnets"], logging=[])

    # check mode creates nothing
    result = run_module(endpoint, dict(args, encryption_key_arn=aws["key"]), check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert gone(aws, name)

    # created without encryption, then encryption associated in place
    result = run_module(endpoint, args)
    assert_ok(result)
    assert describe(aws, name)["encryptionConfig"] == []
    result = run_module(endpoint, dict(args, encryption_key_arn=aws["key"]), check=True)
    assert_ok(result)
    assert result["changed"] is True and result["updates"] == []
    assert describe(aws, name)["encryptionConfig"] == []
    result = run_module(endpoint, dict(args, encryption_key_arn=aws["key"]))
    assert_ok(result)
    assert result["changed"] is True
    update = aws["eks"].describe_update(name=name, updateId=result["updates"][0])["update"]
    assert update["type"] == "AssociateEncryptionConfig"
    assert describe(aws, name)["encryptionConfig"][0]["provider"]["keyArn"] == aws["key"]

    # a nodegroup blocks the deletion (and is named)
    aws["eks"].create_nodegroup(clusterName=name, nodegroupName="gpu", nodeRole=aws["role"], subnets=aws["subnets"])
    result = run_module(endpoint, dict(name=name, state="absent"))
    assert result.get("failed") is True
    assert "nodegroups gpu" in result["msg"]
    assert not gone(aws, name)
    aws["eks"].delete_nodegroup(clusterName=name, nodegroupName="gpu")

    result = run_module(endpoint, dict(name=name, state="absent"), check=True)
    assert_ok(result)
    assert result["changed"] is True
    assert not gone(aws, name)
    result = run_module(endpoint, dict(name=name, state="absent"))
    assert_ok(result)
    assert result["changed"] is True
    assert gone(aws, name)
