# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.eks_cluster (no network: the EKS client is a MagicMock)."""

from __future__ import annotations

import copy
import datetime
from unittest.mock import ANY
from unittest.mock import MagicMock

import botocore.exceptions
import pytest

from ansible_collections.mlinfra.gpu_platform.plugins.modules import eks_cluster

import module_harness

NAME = "ml-platform-test-eks"
ARN = f"arn:aws:eks:us-west-2:123456789012:cluster/{NAME}"
ROLE = "arn:aws:iam::123456789012:role/eks-cluster"
OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
SUBNETS = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
OTHER_SUBNET = "subnet-0000000000000000c"
SG = "sg-0000000000000000a"
KEY = "arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY = "arn:aws:kms:us-west-2:123456789012:key/99999999-2222-3333-4444-555555555555"
CIDRS = ["203.0.113.0/24"]
ALL_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

WRITE_CALLS = (
    "create_cluster",
    "delete_cluster",
    "update_cluster_config",
    "update_cluster_version",
    "associate_encryption_config",
    "tag_resource",
    "untag_resource",
)



@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    module_harness.no_sleep(monkeypatch, eks_cluster)


def not_found(operation="DescribeCluster"):
    return botocore.exceptions.ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": f"No cluster found for name: {NAME}."}}, operation
    )


def make_cluster(
    version="1.32",
    logs=(),
    private=True,
    public=True,
    cidrs=CIDRS,
    key=None,
    tags=None,
    subnets=SUBNETS,
    security_groups=(),
    mode="CONFIG_MAP",
    status="ACTIVE",
    role=ROLE,
):
    """A DescribeCluster result as AWS returns it."""
    enabled = [t for t in ALL_LOGS if t in logs]
    disabled = [t for t in ALL_LOGS if t not in logs]
    cluster_logging = []
    if enabled:
        cluster_logging.append({"types": enabled, "enabled": True})
    if disabled:
        cluster_logging.append({"types": disabled, "enabled": False})
    return {
        "name": NAME,
        "arn": ARN,
        "createdAt": datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
        "version": version,
        "endpoint": "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com",
        "roleArn": role,
        "resourcesVpcConfig": {
            "subnetIds": list(subnets),
            "securityGroupIds": list(security_groups),
            "clusterSecurityGroupId": "sg-0fedcba9876543210",
            "vpcId": "vpc-0123456789abcdef0",
            "endpointPublicAccess": public,
            "endpointPrivateAccess": private,
            "publicAccessCidrs": list(cidrs),
        },
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "logging": {"clusterLogging": cluster_logging},
        "identity": {"oidc": {"issuer": "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF"}},
        "status": status,
        "certificateAuthority": {"data": "LS0tLS1CRUdJTi"},
        "platformVersion": "eks.5",
        "tags": dict(tags or {}),
        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": key}}] if key else [],
        "accessConfig": {"bootstrapClusterCreatorAdminPermissions": True, "authenticationMode": mode},
    }


class FakeEks:
    """What DescribeCluster reports: None (no cluster) or a cluster dict."""

    def __init__(self, mock, cluster=None):
        self.cluster = cluster
        self.update_count = 0
        mock.describe_cluster.side_effect = self.describe
        for name in ("update_cluster_config", "update_cluster_version", "associate_encryption_config"):
            getattr(mock, name).side_effect = self.start_update

    def describe(self, name):
        assert name == NAME
        if self.cluster is None:
            raise not_found()
        return {"cluster": copy.deepcopy(self.cluster)}

    def start_update(self, **kwargs):
        self.update_count += 1
        return {"update": {"id": f"update-{self.update_count}", "status": "InProgress"}}


@pytest.fixture
def client():
    """The raw (mocked) boto3 EKS client; by default the cluster does not exist."""
    mock = MagicMock(name="eks")
    mock.describe_update.return_value = {"update": {"id": "x", "status": "Successful", "errors": []}}
    mock.list_nodegroups.return_value = {"nodegroups": []}
    mock.list_fargate_profiles.return_value = {"fargateProfileNames": []}
    mock.fake = FakeEks(mock)
    return mock


def run_module(client, args, check_mode=False, diff=True):
    """Run main() with `args`; returns (result dict, failed flag)."""
    module_args = dict(args)
    module_args.setdefault("name", NAME)
    return module_harness.run_module(eks_cluster, "eks", client, module_args, check_mode, diff)


def assert_no_writes(client):
    module_harness.assert_no_writes(client, WRITE_CALLS)


def update_calls(client):
    """(method, kwargs) of every update started, in order."""
    names = ("update_cluster_config", "update_cluster_version", "associate_encryption_config")
    return [(c[0], c[2]) for c in client.method_calls if c[0] in names]


def waits(client):
    return [c.args[0] for c in client.get_waiter.call_args_list]


# Options matching make_cluster()'s defaults: a re-run with them changes nothing.
ARGS = {
    "version": "1.32",
    "role_arn": ROLE,
    "subnets": SUBNETS,
    "public_access_cidrs": CIDRS,
    "logging": [],
}


# ---------------------------------------------------------------------------
# state=present: create
# ---------------------------------------------------------------------------


def test_create(client):
    created = make_cluster(logs=["api", "audit"], key=KEY, tags={"Name": "eks"}, mode="API", status="CREATING")

    def _create(**kwargs):
        client.fake.cluster = dict(created, status="ACTIVE")
        return {"cluster": created}

    client.create_cluster.side_effect = _create
    result, failed = run_module(
        client,
        dict(
            ARGS,
            logging=["audit", "api"],
            encryption_key_arn=KEY,
            authentication_mode="API",
            security_groups=[SG],
            tags={"Name": "eks"},
        ),
    )

    assert not failed, result
    assert result["changed"] is True
    client.create_cluster.assert_called_once_with(
        name=NAME,
        version="1.32",
        roleArn=ROLE,
        resourcesVpcConfig={
            "subnetIds": SUBNETS,
            "securityGroupIds": [SG],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": CIDRS,
        },
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        logging={
            "clusterLogging": [
                {"types": ["api", "audit"], "enabled": True},
                {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
            ]
        },
        tags={"Name": "eks"},
        accessConfig={"authenticationMode": "API"},
        clientRequestToken=ANY,
    )
    assert "kubernetesNetworkConfig" not in client.create_cluster.call_args.kwargs
    assert waits(client) == ["cluster_active"]
    client.get_waiter.return_value.wait.assert_called_once_with(
        name=NAME, WaiterConfig={"Delay": 30, "MaxAttempts": 40}
    )
    cluster = result["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"].startswith("https://")
    assert cluster["certificate_authority"]["data"] == "LS0tLS1CRUdJTi"
    assert cluster["identity"]["oidc"]["issuer"].startswith("https://oidc.eks.")
    assert cluster["resources_vpc_config"]["public_access_cidrs"] == CIDRS
    assert cluster["encryption_config"] == [{"resources": ["secrets"], "provider": {"key_arn": KEY}}]
    assert cluster["logging"]["cluster_logging"][0] == {"types": ["api", "audit"], "enabled": True}
    assert cluster["tags"] == {"Name": "eks"}
    assert cluster["created_at"] == "2026-01-01T12:00:00+00:00"
    assert result["updates"] == []
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["logging"] == ["api", "audit"]
    assert update_calls(client) == []


def test_create_without_role_or_subnets_fails(client):
    result, failed = run_module(client, {"version": "1.32"})

    assert failed
    assert "role_arn and subnets required" in result["msg"]
    assert_no_writes(client)


def test_create_without_wait_and_without_logging(client):
    client.create_cluster.return_value = {"cluster": make_cluster(status="CREATING")}

    result, failed = run_module(
        client, {"role_arn": ROLE, "subnets": SUBNETS, "endpoint_public_access": False, "wait": False}
    )

    assert not failed, result
    kwargs = client.create_cluster.call_args.kwargs
    assert "logging" not in kwargs and "version" not in kwargs and "encryptionConfig" not in kwargs
    assert "tags" not in kwargs and "accessConfig" not in kwargs
    # public endpoint off: no CIDRs sent
    assert kwargs["resourcesVpcConfig"] == {
        "subnetIds": SUBNETS,
        "endpointPublicAccess": False,
        "endpointPrivateAccess": True,
    }
    client.get_waiter.assert_not_called()
    assert result["cluster"]["status"] == "CREATING"


def test_check_mode_create_makes_no_write_call(client):
    result, failed = run_module(
        client, dict(ARGS, logging=["api"], encryption_key_arn=KEY, tags={"Name": "eks"}), check_mode=True
    )

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    client.get_waiter.assert_not_called()
    cluster = result["cluster"]
    assert "arn" not in cluster
    assert cluster["name"] == NAME
    assert cluster["version"] == "1.32"
    assert cluster["resources_vpc_config"]["subnet_ids"] == SUBNETS
    assert cluster["encryption_config"][0]["provider"]["key_arn"] == KEY
    assert cluster["tags"] == {"Name": "eks"}
    assert result["updates"] == []
    assert result["diff"] == {
        "before": {},
        "after": {
            "name": NAME,
            "version": "1.32",
            "role_arn": ROLE,
            "subnets": SUBNETS,
            "security_groups": [],
            "endpoint_private_access": True,
            "endpoint_public_access": True,
            "public_access_cidrs": CIDRS,
            "encryption_key_arn": KEY,
            "logging": ["api"],
            "tags": {"Name": "eks"},
        },
    }


# ---------------------------------------------------------------------------
# state=present: existing cluster
# ---------------------------------------------------------------------------


def test_noop(client):
    client.fake.cluster = make_cluster(logs=["api"], key=KEY, tags={"Name": "eks"}, mode="API")

    result, failed = run_module(
        client,
        dict(
            ARGS,
            subnets=list(reversed(SUBNETS)),  # order does not matter
            logging=["api"],
            encryption_key_arn=KEY,
            authentication_mode="API",
            tags={"Name": "eks"},
        ),
    )

    assert not failed, result
    assert result["changed"] is False
    assert result["updates"] == []
    assert_no_writes(client)
    client.get_waiter.assert_not_called()
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["cluster"]["arn"] == ARN


def test_unmanaged_settings_are_not_compared(client):
    """logging, security_groups, version, encryption, authentication mode and tags unset: left alone."""
    client.fake.cluster = make_cluster(logs=["audit"], key=KEY, tags={"x": "y"}, security_groups=[SG], mode="API")

    result, failed = run_module(client, {"public_access_cidrs": CIDRS})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_logging_change(client):
    client.fake.cluster = make_cluster(logs=["api", "scheduler"])

    result, failed = run_module(client, dict(ARGS, logging=["api", "audit"]))

    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [
        (
            "update_cluster_config",
            {
                "clientRequestToken": ANY,
                "name": NAME,
                "logging": {
                    "clusterLogging": [
                        {"types": ["audit"], "enabled": True},
                        {"types": ["scheduler"], "enabled": False},
                    ]
                },
            },
        )
    ]
    client.describe_update.assert_called_once_with(name=NAME, updateId="update-1")
    assert result["updates"] == ["update-1"]
    assert result["diff"]["before"]["logging"] == ["api", "scheduler"]
    assert result["diff"]["after"]["logging"] == ["api", "audit"]


def test_endpoint_and_cidr_change(client):
    client.fake.cluster = make_cluster(private=False, cidrs=["0.0.0.0/0"])

    result, failed = run_module(client, dict(ARGS, public_access_cidrs=["198.51.100.0/24", "203.0.113.0/24"]))

    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [
        (
            "update_cluster_config",
            {
                "clientRequestToken": ANY,
                "name": NAME,
                "resourcesVpcConfig": {
                    "endpointPublicAccess": True,
                    "endpointPrivateAccess": True,
                    "publicAccessCidrs": ["198.51.100.0/24", "203.0.113.0/24"],
                },
            },
        )
    ]
    assert result["diff"]["before"]["endpoint_private_access"] is False
    assert result["diff"]["after"]["public_access_cidrs"] == ["198.51.100.0/24", "203.0.113.0/24"]


def test_private_only_endpoint_does_not_compare_cidrs(client):
    client.fake.cluster = make_cluster(public=False, cidrs=["0.0.0.0/0"])

    result, failed = run_module(client, dict(ARGS, endpoint_public_access=False))

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_both_endpoints_disabled_is_refused(client):
    result, failed = run_module(client, dict(ARGS, endpoint_public_access=False, endpoint_private_access=False))

    assert failed
    assert "at least one of endpoint_private_access and endpoint_public_access" in result["msg"]
    client.describe_cluster.assert_not_called()


def test_invalid_cidr_is_refused(client):
    result, failed = run_module(client, dict(ARGS, public_access_cidrs=["10.0.0.1/8"]))

    assert failed
    assert "'10.0.0.1/8' is not a valid CIDR block" in result["msg"]


def test_subnets_and_security_groups_change(client):
    client.fake.cluster = make_cluster(security_groups=[SG])

    result, failed = run_module(client, dict(ARGS, subnets=[SUBNETS[0], OTHER_SUBNET]))

    assert not failed, result
    assert update_calls(client) == [
        (
            "update_cluster_config",
            {
                "clientRequestToken": ANY,
                "name": NAME,
                # security_groups not given: the current ones are kept
                "resourcesVpcConfig": {"subnetIds": [SUBNETS[0], OTHER_SUBNET], "securityGroupIds": [SG]},
            },
        )
    ]


def test_version_one_step_up(client):
    client.fake.cluster = make_cluster(version="1.32")

    result, failed = run_module(client, dict(ARGS, version="1.33"))

    assert not failed, result
    assert result["changed"] is True
    client.update_cluster_version.assert_called_once_with(name=NAME, version="1.33", clientRequestToken=ANY)
    assert result["updates"] == ["update-1"]
    assert waits(client) == ["cluster_active"]
    assert result["diff"]["after"]["version"] == "1.33"


@pytest.mark.parametrize(
    "current,wanted,expected",
    [
        ("1.31", "1.33", "more than one minor version above the cluster's 1.31"),
        ("1.31", "2.0", "more than one minor version above"),
        ("1.33", "1.32", "EKS cannot downgrade a cluster"),
    ],
)
def test_version_jump_and_downgrade_refused(client, current, wanted, expected):
    client.fake.cluster = make_cluster(version=current, logs=["api"])

    # logging also differs: nothing at all may be changed when a setting is refused
    result, failed = run_module(client, dict(ARGS, version=wanted, tags={"new": "tag"}))

    assert failed
    assert expected in result["msg"]
    assert result["updates"] == []
    assert_no_writes(client)


def test_unquoted_float_version_gets_a_hint(client):
    result, failed = run_module(client, dict(ARGS, version="1.3"))

    assert failed
    assert "quote it in YAML" in result["msg"]
    client.describe_cluster.assert_not_called()


def test_encryption_associate(client):
    client.fake.cluster = make_cluster()

    result, failed = run_module(client, dict(ARGS, encryption_key_arn=KEY))

    assert not failed, result
    assert result["changed"] is True
    client.associate_encryption_config.assert_called_once_with(
        clusterName=NAME,
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
        clientRequestToken=ANY,
    )
    assert result["updates"] == ["update-1"]
    assert result["diff"]["before"].get("encryption_key_arn") is None
    assert result["diff"]["after"]["encryption_key_arn"] == KEY


def test_encryption_key_change_refused(client):
    client.fake.cluster = make_cluster(key=KEY)

    result, failed = run_module(client, dict(ARGS, encryption_key_arn=OTHER_KEY))

    assert failed
    assert KEY in result["msg"] and OTHER_KEY in result["msg"]
    assert "cannot change or remove the encryption key" in result["msg"]
    assert_no_writes(client)


def test_role_change_refused(client):
    client.fake.cluster = make_cluster()

    result, failed = run_module(client, dict(ARGS, role_arn=OTHER_ROLE))

    assert failed
    assert "role_arn cannot be changed" in result["msg"]
    assert_no_writes(client)


def test_authentication_mode_forward_and_back(client):
    client.fake.cluster = make_cluster(mode="API_AND_CONFIG_MAP")

    result, failed = run_module(client, dict(ARGS, authentication_mode="CONFIG_MAP"))
    assert failed
    assert "cannot go back from API_AND_CONFIG_MAP to CONFIG_MAP" in result["msg"]
    assert_no_writes(client)

    result, failed = run_module(client, dict(ARGS, authentication_mode="API"))
    assert not failed, result
    client.update_cluster_config.assert_called_once_with(
        name=NAME, accessConfig={"authenticationMode": "API"}, clientRequestToken=ANY
    )


def test_tags_update(client):
    client.fake.cluster = make_cluster(tags={"keep": "1", "change": "old", "drop": "x"})

    result, failed = run_module(client, dict(ARGS, tags={"keep": "1", "change": "new", "add": "y"}))

    assert not failed, result
    assert result["changed"] is True
    client.untag_resource.assert_called_once_with(resourceArn=ARN, tagKeys=["drop"])
    client.tag_resource.assert_called_once_with(resourceArn=ARN, tags={"change": "new", "add": "y"})
    assert update_calls(client) == []
    assert result["updates"] == []
    assert result["diff"]["after"]["tags"] == {"keep": "1", "change": "new", "add": "y"}


def test_tags_without_purge(client):
    client.fake.cluster = make_cluster(tags={"keep": "1"})

    result, failed = run_module(client, dict(ARGS, tags={"add": "y"}, purge_tags=False))

    assert not failed, result
    client.untag_resource.assert_not_called()
    client.tag_resource.assert_called_once_with(resourceArn=ARN, tags={"add": "y"})


def test_several_updates_run_one_at_a_time(client):
    """Each update is waited for (DescribeUpdate, then the cluster ACTIVE) before the next starts."""
    client.fake.cluster = make_cluster(version="1.32", private=False)
    polls = iter(["InProgress", "Successful", "Successful", "InProgress", "InProgress", "Successful", "Successful"])
    client.describe_update.side_effect = lambda **kw: {"update": {"id": kw["updateId"], "status": next(polls)}}

    result, failed = run_module(
        client, dict(ARGS, version="1.33", logging=["audit"], encryption_key_arn=KEY, tags={"a": "b"})
    )

    assert not failed, result
    assert [c[0] for c in update_calls(client)] == [
        "update_cluster_config",  # logging
        "update_cluster_config",  # endpoint access
        "associate_encryption_config",
        "update_cluster_version",  # last
    ]
    assert result["updates"] == ["update-1", "update-2", "update-3", "update-4"]
    order = [
        c[0] if c[0] != "describe_update" else f"describe_update:{c[2]['updateId']}"
        for c in client.method_calls
        if c[0] in ("tag_resource", "describe_update") or c[0] in WRITE_CALLS
    ]
    assert order == [
        "tag_resource",
        "update_cluster_config",
        "describe_update:update-1",
        "describe_update:update-1",
        "update_cluster_config",
        "describe_update:update-2",
        "associate_encryption_config",
        "describe_update:update-3",
        "describe_update:update-3",
        "describe_update:update-3",
        "update_cluster_version",
        "describe_update:update-4",
    ]
    # ACTIVE before each update after the first, and at the end
    assert waits(client) == ["cluster_active"] * 4


def test_without_wait_the_last_update_is_not_waited_for(client):
    client.fake.cluster = make_cluster(version="1.32")

    result, failed = run_module(client, dict(ARGS, version="1.33", logging=["api"], wait=False))

    assert not failed, result
    assert result["updates"] == ["update-1", "update-2"]
    # the first (logging) is waited for, the last (version) is not
    client.describe_update.assert_called_once_with(name=NAME, updateId="update-1")
    assert waits(client) == ["cluster_active"]


def test_failed_update_is_reported(client):
    client.fake.cluster = make_cluster()
    client.describe_update.return_value = {
        "update": {
            "id": "update-1",
            "status": "Failed",
            "errors": [{"errorCode": "AccessDenied", "errorMessage": "kms:CreateGrant denied"}],
        }
    }

    result, failed = run_module(client, dict(ARGS, encryption_key_arn=KEY, version="1.33"))

    assert failed
    assert "AssociateEncryptionConfig update-1" in result["msg"]
    assert "AccessDenied: kms:CreateGrant denied" in result["msg"]
    assert result["updates"] == ["update-1"]
    client.update_cluster_version.assert_not_called()


def test_update_wait_times_out(client, monkeypatch):
    client.fake.cluster = make_cluster()
    client.describe_update.return_value = {"update": {"id": "update-1", "status": "InProgress"}}
    clock = iter(range(0, 10000, 10))
    monkeypatch.setattr(eks_cluster.time, "monotonic", lambda: next(clock))

    result, failed = run_module(client, dict(ARGS, logging=["api"], wait_timeout=60))

    assert failed
    assert "Timed out after 60s waiting for LoggingUpdate update-1" in result["msg"]
    assert result["updates"] == ["update-1"]
    assert client.describe_update.call_count == 6


def test_cluster_not_active_without_wait_fails(client):
    client.fake.cluster = make_cluster(status="CREATING")

    # tags could be changed at once, but nothing is changed when the run cannot complete
    result, failed = run_module(client, dict(ARGS, logging=["api"], tags={"a": "b"}, wait=False))

    assert failed
    assert "is CREATING, not ACTIVE" in result["msg"]
    assert_no_writes(client)
    client.get_waiter.assert_not_called()


def test_cluster_not_active_is_waited_for(client):
    client.fake.cluster = make_cluster(status="UPDATING")

    result, failed = run_module(client, dict(ARGS, logging=["api"]))

    assert not failed, result
    assert waits(client) == ["cluster_active", "cluster_active"]  # before the update, and at the end
    assert result["updates"] == ["update-1"]


def test_check_mode_update_makes_no_write_call(client):
    client.fake.cluster = make_cluster(tags={"a": "1"})

    result, failed = run_module(
        client,
        dict(ARGS, version="1.33", logging=["api"], encryption_key_arn=KEY, tags={"b": "2"}),
        check_mode=True,
    )

    assert not failed, result
    assert result["changed"] is True
    assert result["updates"] == []
    assert_no_writes(client)
    client.describe_update.assert_not_called()
    client.get_waiter.assert_not_called()
    cluster = result["cluster"]
    assert cluster["version"] == "1.33"
    assert cluster["tags"] == {"b": "2"}
    assert cluster["encryption_config"][0]["provider"]["key_arn"] == KEY
    assert cluster["logging"]["cluster_logging"][0] == {"types": ["api"], "enabled": True}
    assert result["diff"]["before"]["version"] == "1.32"
    assert result["diff"]["after"]["version"] == "1.33"


def test_update_error_reports_started_updates(client):
    client.fake.cluster = make_cluster(version="1.32")
    client.update_cluster_version.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "InvalidParameterException", "Message": "Unsupported Kubernetes minor version"}},
        "UpdateClusterVersion",
    )

    result, failed = run_module(client, dict(ARGS, version="1.33", logging=["api"]))

    assert failed
    assert "Failed to start VersionUpdate" in result["msg"]
    assert result["updates"] == ["update-1"]


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def test_absent_with_nodegroups_refused(client):
    client.fake.cluster = make_cluster()
    client.list_nodegroups.return_value = {"nodegroups": ["gpu", "cpu"]}
    client.list_fargate_profiles.return_value = {"fargateProfileNames": ["kube-system"]}

    result, failed = run_module(client, {"state": "absent"})

    assert failed
    assert "nodegroups cpu, gpu" in result["msg"]
    assert "Fargate profiles kube-system" in result["msg"]
    assert result["nodegroups"] == ["cpu", "gpu"]
    assert result["fargate_profiles"] == ["kube-system"]
    assert_no_writes(client)


def test_absent_lists_all_pages(client):
    client.fake.cluster = make_cluster()
    client.list_nodegroups.side_effect = [
        {"nodegroups": ["a"], "nextToken": "t"},
        {"nodegroups": ["b"]},
    ]

    result, failed = run_module(client, {"state": "absent"})

    assert failed
    assert "nodegroups a, b" in result["msg"]
    assert client.list_nodegroups.call_args_list[1].kwargs == {"clusterName": NAME, "nextToken": "t"}


def test_absent_delete(client):
    client.fake.cluster = make_cluster(logs=["api"])

    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is True
    client.delete_cluster.assert_called_once_with(name=NAME)
    assert waits(client) == ["cluster_deleted"]
    assert result["cluster"] == {}
    assert result["diff"]["before"]["logging"] == ["api"]
    assert result["diff"]["after"] == {}


def test_absent_check_mode(client):
    client.fake.cluster = make_cluster()

    result, failed = run_module(client, {"state": "absent"}, check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    client.get_waiter.assert_not_called()


def test_absent_noop(client):
    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is False
    assert result["cluster"] == {}
    assert_no_writes(client)
    client.list_nodegroups.assert_not_called()


def test_absent_already_deleting(client):
    client.fake.cluster = make_cluster(status="DELETING")

    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)
    assert waits(client) == ["cluster_deleted"]


def test_waiter_failure_is_reported(client):
    client.fake.cluster = make_cluster()
    client.get_waiter.return_value.wait.side_effect = botocore.exceptions.WaiterError(
        name="ClusterDeleted", reason="Max attempts exceeded", last_response={}
    )

    result, failed = run_module(client, {"state": "absent", "wait_timeout": 60})

    assert failed
    assert "up to 60s" in result["msg"] and "to be deleted" in result["msg"]
    client.get_waiter.return_value.wait.assert_called_once_with(name=NAME, WaiterConfig={"Delay": 30, "MaxAttempts": 2})
