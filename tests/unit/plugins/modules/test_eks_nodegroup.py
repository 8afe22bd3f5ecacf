# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.eks_nodegroup (no network: the EKS client is a MagicMock)."""

from __future__ import annotations

import copy
import datetime
from unittest.mock import ANY
from unittest.mock import MagicMock

import botocore.exceptions
import pytest

from ansible_collections.mlinfra.gpu_platform.plugins.modules import eks_nodegroup

import module_harness

CLUSTER = "ml-platform-test-eks"
NAME = "gpu-spot"
ARN = f"arn:aws:eks:us-west-2:123456789012:nodegroup/{CLUSTER}/{NAME}/0123abcd"
ROLE = "arn:aws:iam::123456789012:role/eks-node"
OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
SUBNETS = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
LABELS = {"nvidia.com/gpu.present": "true", "workload": "training"}

WRITE_CALLS = (
    "create_nodegroup",
    "delete_nodegroup",
    "update_nodegroup_config",
    "update_nodegroup_version",
    "tag_resource",
    "untag_resource",
)



@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    module_harness.no_sleep(monkeypatch, eks_nodegroup)


def not_found(message=f"No node group found for name: {NAME}.", operation="DescribeNodegroup"):
    return botocore.exceptions.ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": message}}, operation
    )


def make_nodegroup(
    instance_types=("g5.xlarge", "g5.2xlarge"),
    capacity="SPOT",
    ami="AL2023_x86_64_NVIDIA",
    disk=100,
    scaling=(0, 4, 1),
    update_config=None,
    labels=None,
    taints=(GPU_TAINT,),
    tags=None,
    status="ACTIVE",
    role=ROLE,
    subnets=SUBNETS,
):
    """A DescribeNodegroup result as AWS returns it."""
    return {
        "nodegroupName": NAME,
        "nodegroupArn": ARN,
        "clusterName": CLUSTER,
        "version": "1.33",
        "releaseVersion": "1.33.0-20250704",
        "createdAt": datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
        "modifiedAt": datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
        "status": status,
        "capacityType": capacity,
        "scalingConfig": {"minSize": scaling[0], "maxSize": scaling[1], "desiredSize": scaling[2]},
        "instanceTypes": list(instance_types),
        "subnets": list(subnets),
        "amiType": ami,
        "nodeRole": role,
        "labels": dict(LABELS if labels is None else labels),
        "taints": [dict(t) for t in taints],
        "resources": {"autoScalingGroups": [{"name": "eks-gpu-spot-0123abcd"}]},
        "diskSize": disk,
        "health": {"issues": []},
        "updateConfig": dict(update_config or {"maxUnavailable": 1}),
        "tags": dict(tags or {}),
    }


class FakeEks:
    """What DescribeNodegroup / DescribeCluster report: None (missing) or a dict."""

    def __init__(self, mock, nodegroup=None, cluster_status="ACTIVE"):
        self.nodegroup = nodegroup
        self.cluster = {"name": CLUSTER, "status": cluster_status}
        self.update_count = 0
        mock.describe_nodegroup.side_effect = self.describe
        mock.describe_cluster.side_effect = self.describe_cluster
        mock.update_nodegroup_config.side_effect = self.start_update

    def describe(self, clusterName, nodegroupName):
        assert (clusterName, nodegroupName) == (CLUSTER, NAME)
        if self.cluster is None:
            raise not_found(f"No cluster found for name: {CLUSTER}.")
        if self.nodegroup is None:
            raise not_found()
        return {"nodegroup": copy.deepcopy(self.nodegroup)}

    def describe_cluster(self, name):
        assert name == CLUSTER
        if self.cluster is None:
            raise not_found(f"No cluster found for name: {CLUSTER}.", "DescribeCluster")
        return {"cluster": dict(self.cluster)}

    def start_update(self, **kwargs):
        self.update_count += 1
        return {"update": {"id": f"update-{self.update_count}", "status": "InProgress", "type": "ConfigUpdate"}}


@pytest.fixture
def client():
    """The raw (mocked) boto3 EKS client; by default the cluster exists and the node group does not."""
    mock = MagicMock(name="eks")
    mock.describe_update.return_value = {"update": {"id": "x", "status": "Successful", "errors": []}}
    mock.fake = FakeEks(mock)
    return mock


def run_module(client, args, check_mode=False, diff=True):
    """Run main() with `args`; returns (result dict, failed flag)."""
    module_args = dict(args)
    module_args.setdefault("cluster_name", CLUSTER)
    module_args.setdefault("name", NAME)
    return module_harness.run_module(eks_nodegroup, "eks", client, module_args, check_mode, diff)


def assert_no_writes(client):
    module_harness.assert_no_writes(client, WRITE_CALLS)


def update_calls(client):
    """The kwargs of every UpdateNodegroupConfig, in order (without the request token)."""
    calls = []
    for call in client.update_nodegroup_config.call_args_list:
        kwargs = dict(call.kwargs)
        assert kwargs.pop("clientRequestToken")
        assert kwargs.pop("clusterName") == CLUSTER and kwargs.pop("nodegroupName") == NAME
        calls.append(kwargs)
    return calls


def waits(client):
    return [c.args[0] for c in client.get_waiter.call_args_list]


# Options matching make_nodegroup()'s defaults: a re-run with them changes nothing.
ARGS = {
    "node_role": ROLE,
    "subnets": SUBNETS,
    "instance_types": ["g5.xlarge", "g5.2xlarge"],
    "capacity_type": "SPOT",
    "ami_type": "AL2023_x86_64_NVIDIA",
    "disk_size": 100,
    "scaling_config": {"min_size": 0, "max_size": 4, "desired_size": 1},
    "labels": LABELS,
    "taints": [GPU_TAINT],
}


# ---------------------------------------------------------------------------
# state=present: create
# ---------------------------------------------------------------------------


def test_create(client):
    created = make_nodegroup(tags={"team": "ml"}, update_config={"maxUnavailablePercentage": 25}, status="CREATING")

    def _create(**kwargs):
        client.fake.nodegroup = dict(created, status="ACTIVE")
        return {"nodegroup": created}

    client.create_nodegroup.side_effect = _create
    result, failed = run_module(
        client,
        dict(ARGS, update_config={"max_unavailable_percentage": 25}, tags={"team": "ml"}, version="1.33"),
    )

    assert not failed, result
    assert result["changed"] is True
    client.create_nodegroup.assert_called_once_with(
        clusterName=CLUSTER,
        nodegroupName=NAME,
        nodeRole=ROLE,
        subnets=SUBNETS,
        instanceTypes=["g5.xlarge", "g5.2xlarge"],
        capacityType="SPOT",
        amiType="AL2023_x86_64_NVIDIA",
        diskSize=100,
        version="1.33",
        scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 1},
        updateConfig={"maxUnavailablePercentage": 25},
        labels=LABELS,
        taints=[GPU_TAINT],
        tags={"team": "ml"},
        clientRequestToken=ANY,
    )
    assert waits(client) == ["nodegroup_active"]
    client.get_waiter.return_value.wait.assert_called_once_with(
        clusterName=CLUSTER, nodegroupName=NAME, WaiterConfig={"Delay": 30, "MaxAttempts": 60}
    )
    client.describe_cluster.assert_called_once_with(name=CLUSTER)
    nodegroup = result["nodegroup"]
    assert nodegroup["status"] == "ACTIVE"
    assert nodegroup["nodegroup_arn"] == ARN
    assert nodegroup["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert nodegroup["labels"] == LABELS  # keys kept as they are
    assert nodegroup["taints"] == [GPU_TAINT]
    assert nodegroup["tags"] == {"team": "ml"}
    assert nodegroup["scaling_config"] == {"min_size": 0, "max_size": 4, "desired_size": 1}
    assert nodegroup["update_config"] == {"max_unavailable_percentage": 25}
    assert nodegroup["created_at"] == "2026-01-01T12:00:00+00:00"
    assert result["updates"] == []
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["taints"] == [GPU_TAINT]
    assert update_calls(client) == []


def test_create_desired_defaults_to_min_and_without_wait(client):
    client.create_nodegroup.return_value = {"nodegroup": make_nodegroup(status="CREATING")}

    result, failed = run_module(
        client,
        {
            "node_role": ROLE,
            "subnets": SUBNETS,
            "instance_types": ["g5.xlarge"],
            "scaling_config": {"min_size": 2, "max_size": 4},
            "taints": [{"key": "dedicated", "effect": "NO_EXECUTE"}],
            "wait": False,
        },
    )

    assert not failed, result
    kwargs = client.create_nodegroup.call_args.kwargs
    assert kwargs["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert kwargs["taints"] == [{"key": "dedicated", "effect": "NO_EXECUTE"}]  # no value sent
    for unset in ("capacityType", "amiType", "diskSize", "labels", "tags", "updateConfig", "version", "launchTemplate"):
        assert unset not in kwargs
    client.get_waiter.assert_not_called()
    assert result["nodegroup"]["status"] == "CREATING"


def test_create_without_role_or_subnets_fails(client):
    result, failed = run_module(client, {"instance_types": ["g5.xlarge"]})

    assert failed
    assert "node_role and subnets required" in result["msg"]
    assert_no_writes(client)


def test_create_in_missing_cluster_fails(client):
    client.fake.cluster = None

    result, failed = run_module(client, ARGS)

    assert failed
    assert f"EKS cluster {CLUSTER} does not exist" in result["msg"]
    assert_no_writes(client)


def test_create_waits_for_a_cluster_that_is_not_active_yet(client):
    client.fake.cluster["status"] = "CREATING"
    client.create_nodegroup.return_value = {"nodegroup": make_nodegroup(status="CREATING")}

    result, failed = run_module(client, ARGS)

    assert not failed, result
    assert waits(client) == ["cluster_active", "nodegroup_active"]
    assert client.get_waiter.return_value.wait.call_args_list[0].kwargs == {
        "name": CLUSTER,
        "WaiterConfig": {"Delay": 30, "MaxAttempts": 60},
    }


def test_check_mode_create_makes_no_write_call(client):
    result, failed = run_module(client, dict(ARGS, tags={"team": "ml"}), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    client.get_waiter.assert_not_called()
    nodegroup = result["nodegroup"]
    assert "nodegroup_arn" not in nodegroup
    assert nodegroup["nodegroup_name"] == NAME
    assert nodegroup["status"] == "CREATING"
    assert nodegroup["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert nodegroup["labels"] == LABELS
    assert nodegroup["tags"] == {"team": "ml"}
    assert result["updates"] == []
    assert result["diff"] == {
        "before": {},
        "after": {
            "cluster_name": CLUSTER,
            "name": NAME,
            "node_role": ROLE,
            "subnets": SUBNETS,
            "instance_types": ["g5.2xlarge", "g5.xlarge"],
            "capacity_type": "SPOT",
            "ami_type": "AL2023_x86_64_NVIDIA",
            "disk_size": 100,
            "scaling_config": {"min_size": 0, "max_size": 4, "desired_size": 1},
            "labels": LABELS,
            "taints": [GPU_TAINT],
            "tags": {"team": "ml"},
        },
    }


@pytest.mark.parametrize("ami_type", ["AL2023_x86_64_NVIDIA", "AL2023_x86_64_STANDARD", "BOTTLEROCKET_x86_64_NVIDIA"])
def test_current_ami_types_accepted(client, ami_type):
    client.create_nodegroup.return_value = {"nodegroup": make_nodegroup(ami=ami_type)}

    result, failed = run_module(client, dict(ARGS, ami_type=ami_type, wait=False))

    assert not failed, result
    assert client.create_nodegroup.call_args.kwargs["amiType"] == ami_type


def test_ami_types_of_a_newer_botocore_accepted(client, monkeypatch):
    session = MagicMock()
    session.get_service_model.return_value.shape_for.return_value.enum = ["AL2023_x86_64_FUTURE"]
    monkeypatch.setattr(eks_nodegroup.botocore.session, "get_session", lambda: session)
    client.create_nodegroup.return_value = {"nodegroup": make_nodegroup(ami="AL2023_x86_64_FUTURE")}

    result, failed = run_module(client, dict(ARGS, ami_type="AL2023_x86_64_FUTURE", wait=False))

    assert not failed, result
    session.get_service_model.assert_called_once_with("eks")
    session.get_service_model.return_value.shape_for.assert_called_once_with("AMITypes")


def test_unknown_ami_type_refused_before_any_call(client):
    result, failed = run_module(client, dict(ARGS, ami_type="AL2023_x86_64_GPU"))

    assert failed
    assert "'AL2023_x86_64_GPU' is not an EKS AMI type" in result["msg"]
    assert "AL2023_x86_64_NVIDIA" in result["msg"]
    assert client.method_calls == []


# ---------------------------------------------------------------------------
# state=present: existing node group
# ---------------------------------------------------------------------------


def test_noop(client):
    client.fake.nodegroup = make_nodegroup(tags={"team": "ml"})

    result, failed = run_module(
        client,
        dict(
            ARGS,
            subnets=list(reversed(SUBNETS)),  # order does not matter
            instance_types=["g5.2xlarge", "g5.xlarge"],
            update_config={"max_unavailable": 1},
            tags={"team": "ml"},
            version="1.33",
            release_version="1.33.0-20250704",
        ),
    )

    assert not failed, result
    assert result["changed"] is False
    assert result["updates"] == []
    assert_no_writes(client)
    client.get_waiter.assert_not_called()
    client.describe_cluster.assert_not_called()
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["nodegroup"]["nodegroup_arn"] == ARN


def test_unmanaged_settings_are_not_compared(client):
    """labels, taints, scaling, update config, capacity, AMI type, disk size and tags unset: left alone."""
    client.fake.nodegroup = make_nodegroup(tags={"x": "y"}, scaling=(1, 9, 5))

    result, failed = run_module(client, {"instance_types": ["g5.xlarge", "g5.2xlarge"]})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_label_add_remove(client):
    client.fake.nodegroup = make_nodegroup(labels={"keep": "1", "change": "old", "drop": "x"})

    result, failed = run_module(client, dict(ARGS, labels={"keep": "1", "change": "new", "add": "y"}))

    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [
        {"labels": {"addOrUpdateLabels": {"change": "new", "add": "y"}, "removeLabels": ["drop"]}}
    ]
    client.describe_update.assert_called_once_with(name=CLUSTER, nodegroupName=NAME, updateId="update-1")
    assert result["updates"] == ["update-1"]
    assert waits(client) == ["nodegroup_active"]  # at the end
    assert result["diff"]["before"]["labels"] == {"keep": "1", "change": "old", "drop": "x"}
    assert result["diff"]["after"]["labels"] == {"keep": "1", "change": "new", "add": "y"}


def test_all_labels_removed(client):
    client.fake.nodegroup = make_nodegroup(labels={"a": "1", "b": "2"})

    result, failed = run_module(client, dict(ARGS, labels={}))

    assert not failed, result
    assert update_calls(client) == [{"labels": {"removeLabels": ["a", "b"]}}]


def test_taint_change(client):
    client.fake.nodegroup = make_nodegroup(
        taints=[
            GPU_TAINT,
            {"key": "dedicated", "value": "ml", "effect": "NO_SCHEDULE"},
            {"key": "spot", "effect": "PREFER_NO_SCHEDULE"},
        ]
    )

    result, failed = run_module(
        client,
        dict(
            ARGS,
            taints=[
                dict(GPU_TAINT, value="present"),  # same key and effect: updated, not removed
                {"key": "dedicated", "value": "ml", "effect": "NO_EXECUTE"},  # another effect: a new taint
            ],
        ),
    )

    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [
        {
            "taints": {
                "addOrUpdateTaints": [
                    {"key": "dedicated", "value": "ml", "effect": "NO_EXECUTE"},
                    {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
                ],
                "removeTaints": [
                    {"key": "dedicated", "value": "ml", "effect": "NO_SCHEDULE"},
                    {"key": "spot", "effect": "PREFER_NO_SCHEDULE"},
                ],
            }
        }
    ]
    assert result["updates"] == ["update-1"]
    assert result["diff"]["after"]["taints"] == [
        {"key": "dedicated", "value": "ml", "effect": "NO_EXECUTE"},
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
    ]


def test_taint_without_value_matches_one_without_value(client):
    client.fake.nodegroup = make_nodegroup(taints=[{"key": "spot", "effect": "NO_SCHEDULE"}])

    result, failed = run_module(client, dict(ARGS, taints=[{"key": "spot", "effect": "NO_SCHEDULE"}]))

    assert not failed, result
    assert result["changed"] is False


def test_scaling_change(client):
    client.fake.nodegroup = make_nodegroup(scaling=(0, 4, 1))

    result, failed = run_module(client, dict(ARGS, scaling_config={"min_size": 1, "max_size": 8, "desired_size": 2}))

    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [{"scalingConfig": {"minSize": 1, "maxSize": 8, "desiredSize": 2}}]
    assert result["diff"]["after"]["scaling_config"] == {"min_size": 1, "max_size": 8, "desired_size": 2}


def test_ignore_desired_size_changes(client):
    # the autoscaler has scaled the node group to 3
    client.fake.nodegroup = make_nodegroup(scaling=(0, 4, 3))

    # only the desired size differs: nothing to do
    result, failed = run_module(client, dict(ARGS, ignore_desired_size_changes=True))
    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)

    # without the option, the desired size would be set back to 1
    result, failed = run_module(client, ARGS, check_mode=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["scaling_config"]["desired_size"] == 1

    # a new maximum: only the bounds are sent, the desired size stays 3
    result, failed = run_module(
        client,
        dict(ARGS, scaling_config={"min_size": 0, "max_size": 16, "desired_size": 1}, ignore_desired_size_changes=True),
    )
    assert not failed, result
    assert result["changed"] is True
    assert update_calls(client) == [{"scalingConfig": {"minSize": 0, "maxSize": 16}}]
    assert result["diff"]["after"]["scaling_config"] == {"min_size": 0, "max_size": 16, "desired_size": 3}


def test_ignored_desired_size_outside_new_bounds_refused(client):
    client.fake.nodegroup = make_nodegroup(scaling=(0, 8, 6))

    result, failed = run_module(
        client,
        dict(ARGS, scaling_config={"min_size": 0, "max_size": 4, "desired_size": 1}, ignore_desired_size_changes=True),
    )

    assert failed
    assert "desired size 6 is outside the wanted min_size 0 .. max_size 4" in result["msg"]
    assert "ignore_desired_size_changes=true" in result["msg"]
    assert_no_writes(client)


def test_update_config_change(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, dict(ARGS, update_config={"max_unavailable_percentage": 33}))

    assert not failed, result
    assert update_calls(client) == [{"updateConfig": {"maxUnavailablePercentage": 33}}]
    assert result["diff"]["before"]["update_config"] == {"max_unavailable": 1}
    assert result["diff"]["after"]["update_config"] == {"max_unavailable_percentage": 33}


def test_several_updates_run_one_at_a_time(client):
    """Each update is waited for (DescribeUpdate, then the node group ACTIVE) before the next starts."""
    client.fake.nodegroup = make_nodegroup()
    polls = iter(["InProgress", "Successful", "Successful", "InProgress", "Successful", "Successful"])
    client.describe_update.side_effect = lambda **kw: {"update": {"id": kw["updateId"], "status": next(polls)}}

    result, failed = run_module(
        client,
        dict(
            ARGS,
            labels={"workload": "inference"},
            taints=[],
            scaling_config={"min_size": 0, "max_size": 6, "desired_size": 1},
            update_config={"max_unavailable": 2},
            tags={"team": "ml"},
        ),
    )

    assert not failed, result
    assert [list(c) for c in update_calls(client)] == [["labels"], ["taints"], ["scalingConfig"], ["updateConfig"]]
    assert update_calls(client)[1] == {"taints": {"removeTaints": [GPU_TAINT]}}
    assert result["updates"] == ["update-1", "update-2", "update-3", "update-4"]
    order = [
        c[0] if c[0] != "describe_update" else f"describe_update:{c[2]['updateId']}"
        for c in client.method_calls
        if c[0] in WRITE_CALLS or c[0] in ("describe_update", "get_waiter")
    ]
    assert order == [
        "tag_resource",
        "update_nodegroup_config",
        "describe_update:update-1",
        "describe_update:update-1",
        "get_waiter",
        "update_nodegroup_config",
        "describe_update:update-2",
        "get_waiter",
        "update_nodegroup_config",
        "describe_update:update-3",
        "describe_update:update-3",
        "get_waiter",
        "update_nodegroup_config",
        "describe_update:update-4",
        "get_waiter",
    ]
    assert waits(client) == ["nodegroup_active"] * 4


def test_without_wait_the_last_update_is_not_waited_for(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, dict(ARGS, labels={}, taints=[], wait=False))

    assert not failed, result
    assert result["updates"] == ["update-1", "update-2"]
    client.describe_update.assert_called_once_with(name=CLUSTER, nodegroupName=NAME, updateId="update-1")
    assert waits(client) == ["nodegroup_active"]  # between the two


def test_failed_update_is_reported(client):
    client.fake.nodegroup = make_nodegroup()
    client.describe_update.return_value = {
        "update": {
            "id": "update-1",
            "status": "Failed",
            "errors": [{"errorCode": "NodeCreationFailure", "errorMessage": "Instances failed to join"}],
        }
    }

    result, failed = run_module(client, dict(ARGS, labels={}, taints=[]))

    assert failed
    assert "update-1 (labels)" in result["msg"] and "ended Failed" in result["msg"]
    assert "NodeCreationFailure: Instances failed to join" in result["msg"]
    assert result["updates"] == ["update-1"]
    assert client.update_nodegroup_config.call_count == 1


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"instance_types": ["g6.xlarge"]}, "instance_types (is [g5.2xlarge, g5.xlarge], [g6.xlarge] was asked)"),
        ({"capacity_type": "ON_DEMAND"}, "capacity_type (is SPOT, ON_DEMAND was asked)"),
        ({"ami_type": "BOTTLEROCKET_x86_64_NVIDIA"}, "ami_type (is AL2023_x86_64_NVIDIA"),
        ({"subnets": SUBNETS[:1]}, "subnets (is"),
        ({"disk_size": 200}, "disk_size (is 100, 200 was asked)"),
        ({"node_role": OTHER_ROLE}, f"node_role (is {ROLE}, {OTHER_ROLE} was asked)"),
    ],
)
def test_immutable_change_refused(client, change, expected):
    client.fake.nodegroup = make_nodegroup()

    # labels and tags also differ: nothing at all may be changed when a setting is refused
    result, failed = run_module(client, dict(ARGS, labels={"new": "label"}, tags={"new": "tag"}, **change))

    assert failed
    assert "EKS cannot change" in result["msg"] and expected in result["msg"]
    assert "does not replace node groups" in result["msg"]
    assert result["updates"] == []
    assert_no_writes(client)


def test_all_immutable_changes_named_at_once(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(
        client, dict(ARGS, capacity_type="ON_DEMAND", disk_size=50, instance_types=["p5.48xlarge"])
    )

    assert failed
    for name in ("instance_types", "capacity_type", "disk_size"):
        assert name in result["msg"]


def test_version_change_refused(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, dict(ARGS, version="1.34"))

    assert failed
    assert "version (is 1.33, 1.34 was asked)" in result["msg"]
    assert "UpdateNodegroupVersion" in result["msg"]
    assert_no_writes(client)


def test_tags_update(client):
    client.fake.nodegroup = make_nodegroup(tags={"keep": "1", "change": "old", "drop": "x"})

    result, failed = run_module(client, dict(ARGS, tags={"keep": "1", "change": "new", "add": "y"}))

    assert not failed, result
    assert result["changed"] is True
    client.untag_resource.assert_called_once_with(resourceArn=ARN, tagKeys=["drop"])
    client.tag_resource.assert_called_once_with(resourceArn=ARN, tags={"change": "new", "add": "y"})
    assert update_calls(client) == []
    assert result["diff"]["after"]["tags"] == {"keep": "1", "change": "new", "add": "y"}


def test_check_mode_update_makes_no_write_call(client):
    client.fake.nodegroup = make_nodegroup(tags={"a": "1"})

    result, failed = run_module(
        client,
        dict(
            ARGS,
            labels={"workload": "inference"},
            taints=[],
            scaling_config={"min_size": 1, "max_size": 6, "desired_size": 2},
            tags={"b": "2"},
        ),
        check_mode=True,
    )

    assert not failed, result
    assert result["changed"] is True
    assert result["updates"] == []
    assert_no_writes(client)
    client.describe_update.assert_not_called()
    client.get_waiter.assert_not_called()
    nodegroup = result["nodegroup"]
    assert nodegroup["labels"] == {"workload": "inference"}
    assert nodegroup["taints"] == []
    assert nodegroup["scaling_config"] == {"min_size": 1, "max_size": 6, "desired_size": 2}
    assert nodegroup["tags"] == {"b": "2"}
    assert result["diff"]["before"]["labels"] == LABELS


def test_not_active_without_wait_fails(client):
    client.fake.nodegroup = make_nodegroup(status="UPDATING")

    result, failed = run_module(client, dict(ARGS, labels={}, tags={"a": "b"}, wait=False))

    assert failed
    assert "is UPDATING, not ACTIVE" in result["msg"]
    assert_no_writes(client)
    client.get_waiter.assert_not_called()


# ---------------------------------------------------------------------------
# Validation: before any AWS call
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scaling,expected",
    [
        ({"min_size": 3, "max_size": 2, "desired_size": 2}, "min_size 3 is greater than max_size 2"),
        ({"min_size": 0, "max_size": 2, "desired_size": 3}, "desired_size 3 is outside min_size 0 .. max_size 2"),
        ({"min_size": 2, "max_size": 4, "desired_size": 1}, "desired_size 1 is outside"),
        ({"min_size": -1, "max_size": 2}, "min_size must be 0 or more"),
        ({"min_size": 0, "max_size": 0, "desired_size": 0}, "max_size must be 1 or more"),
    ],
)
def test_invalid_scaling_refused_before_any_call(client, scaling, expected):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, dict(ARGS, scaling_config=scaling))

    assert failed
    assert expected in result["msg"]
    assert client.method_calls == []


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"labels": {"-bad": "x"}}, "'-bad' is not a valid label key"),
        ({"labels": {"Example.COM/gpu": "x"}}, "is not a lower case DNS subdomain"),
        ({"labels": {"k" * 64: "x"}}, "longer than 63 characters"),
        ({"labels": {"gpu": True}}, 'quote it in YAML ("true")'),
        ({"labels": {"gpu": ""}}, "is not a valid label value: it is empty"),
        ({"labels": {"gpu": "a b"}}, "is not a valid label value"),
        ({"taints": [{"key": "bad key", "effect": "NO_SCHEDULE"}]}, "'bad key' is not a valid taint key"),
        ({"taints": [{"key": "gpu", "value": "x" * 64, "effect": "NO_SCHEDULE"}]}, "not a valid taint value"),
        ({"taints": [{"key": "gpu", "effect": "NoSchedule"}]}, "NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE"),
        ({"taints": [GPU_TAINT, dict(GPU_TAINT, value="x")]}, "given twice"),
        ({"taints": [{"key": f"k{i}", "effect": "NO_SCHEDULE"} for i in range(51)]}, "at most 50 taints"),
        ({"instance_types": []}, "instance_types must name at least one instance type"),
        ({"instance_types": None}, "instance_types must name at least one instance type"),
        ({"launch_template": {"name": "gpu"}, "instance_types": None}, "disk_size cannot be used with launch_template"),
        ({"update_config": {"max_unavailable": 1, "max_unavailable_percentage": 5}}, "mutually exclusive"),
        ({"update_config": {"max_unavailable_percentage": 101}}, "between 1 and 100"),
        ({"version": "1.3"}, "quote it in YAML"),
        ({"wait_timeout": 0}, "wait_timeout must be a positive number"),
    ],
)
def test_invalid_options_refused_before_any_call(client, change, expected):
    client.fake.nodegroup = make_nodegroup()
    args = {k: v for k, v in dict(ARGS, **change).items() if v is not None}

    result, failed = run_module(client, args)

    assert failed
    assert expected in result["msg"]
    assert client.method_calls == []


def test_launch_template_node_group(client):
    created = make_nodegroup(disk=None, ami="CUSTOM")
    created["launchTemplate"] = {"id": "lt-0123", "name": "gpu", "version": "3"}
    client.create_nodegroup.return_value = {"nodegroup": created}
    args = dict(ARGS, launch_template={"name": "gpu", "version": "3"}, ami_type=None, disk_size=None)
    args = {k: v for k, v in args.items() if v is not None}

    result, failed = run_module(client, dict(args, wait=False))
    assert not failed, result
    assert client.create_nodegroup.call_args.kwargs["launchTemplate"] == {"name": "gpu", "version": "3"}

    client.fake.nodegroup = created
    result, failed = run_module(client, args)
    assert not failed, result
    assert result["changed"] is False

    result, failed = run_module(client, dict(args, launch_template={"name": "gpu", "version": "4"}))
    assert failed
    assert "launch_template version (is 3, 4 was asked)" in result["msg"]
    result, failed = run_module(client, dict(args, launch_template={"name": "other"}))
    assert failed
    assert "launch_template name (is gpu, other was asked)" in result["msg"]


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def test_absent_delete(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is True
    client.delete_nodegroup.assert_called_once_with(clusterName=CLUSTER, nodegroupName=NAME)
    assert waits(client) == ["nodegroup_deleted"]
    client.get_waiter.return_value.wait.assert_called_once_with(
        clusterName=CLUSTER, nodegroupName=NAME, WaiterConfig={"Delay": 30, "MaxAttempts": 60}
    )
    assert result["nodegroup"] == {}
    assert result["diff"]["before"]["labels"] == LABELS
    assert result["diff"]["after"] == {}


def test_absent_check_mode(client):
    client.fake.nodegroup = make_nodegroup()

    result, failed = run_module(client, {"state": "absent"}, check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    client.get_waiter.assert_not_called()


def test_absent_noop(client):
    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is False
    assert result["nodegroup"] == {}
    assert_no_writes(client)


def test_absent_noop_when_cluster_missing(client):
    client.fake.cluster = None

    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_absent_already_deleting(client):
    client.fake.nodegroup = make_nodegroup(status="DELETING")

    result, failed = run_module(client, {"state": "absent"})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)
    assert waits(client) == ["nodegroup_deleted"]


def test_waiter_failure_is_reported(client):
    client.fake.nodegroup = make_nodegroup()
    client.get_waiter.return_value.wait.side_effect = botocore.exceptions.WaiterError(
        name="NodegroupDeleted", reason="Max attempts exceeded", last_response={}
    )

    result, failed = run_module(client, {"state": "absent", "wait_timeout": 60})

    assert failed
    assert "up to 60s" in result["msg"] and "to be deleted" in result["msg"]
    client.get_waiter.return_value.wait.assert_called_once_with(
        clusterName=CLUSTER, nodegroupName=NAME, WaiterConfig={"Delay": 30, "MaxAttempts": 2}
    )
