# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional check of mlinfra.gpu_platform.ec2_vpc_flow_log against the twin's AWS emulator.

Starts the twin (``twin/twinctl up``, fixture own_twin in tests/conftest.py) on a free loopback
port with its state in a temporary directory, creates the VPC, log group and IAM role with boto3,
runs the module through the ``ansible`` ad-hoc CLI from the repository root and reads the state
back with boto3 after every step.

Run: cd /work/main && .venv/bin/python -m pytest tests/integration/test_flow_log_module.py -q
"""

from __future__ import annotations

import json

import pytest

import platform_harness

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

MODULE = "mlinfra.gpu_platform.ec2_vpc_flow_log"

TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def endpoint(own_twin):
    return own_twin.url


@pytest.fixture(scope="module")
def aws(own_twin):
    clients = {name: own_twin.client(name) for name in ("ec2", "logs", "iam")}
    role = clients["iam"].create_role(RoleName="vpc-flow-logs", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    role2 = clients["iam"].create_role(RoleName="vpc-flow-logs-2", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    clients["role"] = role
    clients["role2"] = role2
    return clients


def new_vpc(aws, cidr):
    return aws["ec2"].create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def new_log_group(aws, name):
    aws["logs"].create_log_group(logGroupName=name)
    return name


def flow_logs_on(aws, vpc_id):
    return aws["ec2"].describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def tags_of(flow_log):
    return {t["Key"]: t["Value"] for t in flow_log.get("Tags") or []}


run_module = platform_harness.module_runner(MODULE)


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def test_lifecycle(endpoint, aws):
    vpc = new_vpc(aws, "10.10.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/lifecycle")
    args = dict(
        resource_id=vpc,
        log_group_name=group,
        deliver_logs_permission_arn=aws["role"],
        tags={"Name": "lifecycle", "env": "test"},
    )

    # create
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    fl_id = result["flow_log"]["flow_log_id"]
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [fl_id]
    assert actual[0]["LogGroupName"] == group
    assert actual[0]["DeliverLogsPermissionArn"] == aws["role"]
    assert actual[0]["TrafficType"] == "ALL"
    assert actual[0]["MaxAggregationInterval"] == 600
    # moto 5.2.5 honours TagSpecifications (ResourceType vpc-flow-log) and returns Tags
    assert tags_of(actual[0]) == {"Name": "lifecycle", "env": "test"}
    assert result["flow_log"]["tags"] == {"Name": "lifecycle", "env": "test"}

    # re-run: idempotent
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    assert result["flow_log"]["flow_log_id"] == fl_id
    assert [fl["FlowLogId"] for fl in flow_logs_on(aws, vpc)] == [fl_id]

    # tags updated in place (same flow log ID)
    result = run_module(endpoint, dict(args, tags={"Name": "lifecycle", "owner": "ml"}))
    assert_ok(result)
    assert result["changed"] is True
    assert result["replaced"] is False
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [fl_id]
    assert tags_of(actual[0]) == {"Name": "lifecycle", "owner": "ml"}
    result = run_module(endpoint, dict(args, tags={"Name": "lifecycle", "owner": "ml"}))
    assert_ok(result)
    assert result["changed"] is False

    # deliver role differs: replaced (new ID), tags carried over when not given
    replace_args = dict(args, deliver_logs_permission_arn=aws["role2"])
    del replace_args["tags"]
    result = run_module(endpoint, replace_args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["replaced"] is True
    assert result["replaced_flow_log_id"] == fl_id
    assert result["replaced_because"] == ["deliver_logs_permission_arn"]
    new_id = result["flow_log"]["flow_log_id"]
    assert new_id != fl_id
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [new_id]
    assert actual[0]["DeliverLogsPermissionArn"] == aws["role2"]
    assert tags_of(actual[0]) == {"Name": "lifecycle", "owner": "ml"}
    result = run_module(endpoint, replace_args)
    assert_ok(result)
    assert result["changed"] is False

    # absent
    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["deleted_flow_log_ids"] == [new_id]
    assert flow_logs_on(aws, vpc) == []

    # absent again: no-op (by resource and by the old ID)
    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group))
    assert_ok(result)
    assert result["changed"] is False
    result = run_module(endpoint, dict(state="absent", flow_log_id=new_id))
    assert_ok(result)
    assert result["changed"] is False


def test_check_mode_create_creates_nothing(endpoint, aws):
    vpc = new_vpc(aws, "10.20.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/check-mode")
    args = dict(resource_id=vpc, log_group_name=group, deliver_logs_permission_arn=aws["role"], tags={"Name": "cm"})

    result = run_module(endpoint, args, check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert "flow_log_id" not in result["flow_log"]
    assert flow_logs_on(aws, vpc) == []

    # and check mode delete of a real one deletes nothing
    result = run_module(endpoint, args)
    assert_ok(result)
    fl_id = result["flow_log"]["flow_log_id"]
    result = run_module(endpoint, dict(state="absent", flow_log_id=fl_id), check=True)
    assert_ok(result)
    assert result["changed"] is True
    assert [fl["FlowLogId"] for fl in flow_logs_on(aws, vpc)] == [fl_id]
    result = run_module(endpoint, dict(state="absent", flow_log_id=fl_id))
    assert_ok(result)
    assert result["changed"] is True
    assert flow_logs_on(aws, vpc) == []


def test_s3_missing_bucket_is_reported(endpoint, aws):
    """moto reports a missing bucket as an Unsuccessful entry (no exception): the module must fail."""
    vpc = new_vpc(aws, "10.30.0.0/16")
    result = run_module(
        endpoint,
        dict(resource_id=vpc, log_destination_type="s3", log_destination="arn:aws:s3:::no-such-flow-log-bucket"),
    )
    assert result.get("failed") is True
    assert "does not exist" in result["msg"]
    assert flow_logs_on(aws, vpc) == []


def test_log_group_arn_and_name_are_the_same_destination(endpoint, aws):
    """Created with log_destination (log group ARN), found again with log_group_name.

    moto 5.2.5 stores only what was sent: LogDestination without LogGroupName here (and it marks
    DeliverLogsStatus FAILED / "Access error" because it looks the group up by the missing name).
    """
    vpc = new_vpc(aws, "10.40.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/by-arn")
    group_arn = aws["logs"].describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"]
    assert group_arn.endswith(":*")

    result = run_module(
        endpoint, dict(resource_id=vpc, log_destination=group_arn, deliver_logs_permission_arn=aws["role"])
    )
    assert_ok(result)
    assert result["changed"] is True
    fl_id = result["flow_log"]["flow_log_id"]

    for args in (
        dict(resource_id=vpc, log_group_name=group, deliver_logs_permission_arn=aws["role"]),
        dict(resource_id=vpc, log_destination=group_arn[:-2], deliver_logs_permission_arn=aws["role"]),
    ):
        result = run_module(endpoint, args)
        assert_ok(result)
        assert result["changed"] is False, args
        assert result["flow_log"]["flow_log_id"] == fl_id

    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group))
    assert_ok(result)
    assert result["changed"] is True
    assert flow_logs_on(aws, vpc) == []
