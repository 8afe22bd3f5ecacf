# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.ec2_vpc_flow_log (no network: the EC2 client is a MagicMock)."""

from __future__ import annotations

import datetime
from unittest.mock import ANY
from unittest.mock import MagicMock

import botocore.exceptions
import pytest

from ansible_collections.mlinfra.gpu_platform.plugins.modules import ec2_vpc_flow_log

import module_harness

VPC = "vpc-0123456789abcdef0"
GROUP = "/vpc/flow-logs/main"
ROLE = "arn:aws:iam::123456789012:role/flow-logs"
OTHER_ROLE = "arn:aws:iam::123456789012:role/other"
BUCKET_ARN = "arn:aws:s3:::flow-log-bucket/vpc/"
FL_ID = "fl-0000000000000000a"
NEW_ID = "fl-0000000000000000b"
DEFAULT_FORMAT = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${log-status}"

WRITE_CALLS = ("create_flow_logs", "delete_flow_logs", "create_tags", "delete_tags")



@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    module_harness.no_sleep(monkeypatch, ec2_vpc_flow_log)


@pytest.fixture
def client():
    """The raw (mocked) boto3 EC2 client; by default the account has no flow logs and no tags."""
    mock = MagicMock(name="ec2")
    mock.describe_flow_logs.return_value = {"FlowLogs": []}
    mock.create_flow_logs.return_value = {"FlowLogIds": [NEW_ID], "Unsuccessful": []}
    mock.delete_flow_logs.return_value = {"Unsuccessful": []}
    set_tags(mock, {})
    return mock


def set_tags(mock, tags):
    """What DescribeTags (used by ensure_ec2_tags through a paginator) reports."""
    paginator = mock.get_paginator.return_value
    paginator.paginate.return_value.build_full_result.return_value = {
        "Tags": [{"Key": k, "Value": v, "ResourceId": FL_ID, "ResourceType": "vpc-flow-log"} for k, v in tags.items()]
    }


def flow_log(
    flow_log_id=FL_ID,
    role=ROLE,
    group=GROUP,
    traffic="ALL",
    interval=600,
    tags=None,
    destination_type="cloud-watch-logs",
    destination=None,
    log_format=DEFAULT_FORMAT,
):
    fl = {
        "CreationTime": datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
        "DeliverLogsStatus": "SUCCESS",
        "FlowLogId": flow_log_id,
        "FlowLogStatus": "ACTIVE",
        "ResourceId": VPC,
        "TrafficType": traffic,
        "LogDestinationType": destination_type,
        "LogFormat": log_format,
        "MaxAggregationInterval": interval,
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    if destination_type == "cloud-watch-logs":
        fl["LogGroupName"] = group
        fl["DeliverLogsPermissionArn"] = role
        fl["LogDestination"] = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    if destination:
        fl["LogDestination"] = destination
    return fl


def describe_by_call(by_resource, by_id=None):
    """side_effect for describe_flow_logs: resource-id filter vs FlowLogIds lookups."""
    by_id = by_id or {}

    def _describe(**kwargs):
        if "FlowLogIds" in kwargs:
            return {"FlowLogs": [by_id[i] for i in kwargs["FlowLogIds"] if i in by_id]}
        return {"FlowLogs": list(by_resource)}

    return _describe


def run_module(client, args, check_mode=False, diff=True):
    """Run main() with `args`; returns (result dict, failed flag)."""
    module_args = dict(args)
    return module_harness.run_module(ec2_vpc_flow_log, "ec2", client, module_args, check_mode, diff)


def assert_no_writes(client):
    module_harness.assert_no_writes(client, WRITE_CALLS)


CWL_ARGS = {"resource_id": VPC, "log_group_name": GROUP, "deliver_logs_permission_arn": ROLE}


# ---------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------


def test_create(client):
    created = flow_log(flow_log_id=NEW_ID, tags={"Name": "main"})
    client.describe_flow_logs.side_effect = describe_by_call([], {NEW_ID: created})

    result, failed = run_module(client, dict(CWL_ARGS, tags={"Name": "main"}))

    assert not failed, result
    assert result["changed"] is True
    assert result["replaced"] is False
    client.create_flow_logs.assert_called_once_with(
        ResourceIds=[VPC],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=GROUP,
        DeliverLogsPermissionArn=ROLE,
        MaxAggregationInterval=600,
        ClientToken=ANY,
        TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "Name", "Value": "main"}]}],
    )
    client.delete_flow_logs.assert_not_called()
    fl = result["flow_log"]
    assert fl["flow_log_id"] == NEW_ID
    assert fl["log_group_name"] == GROUP
    assert fl["deliver_logs_permission_arn"] == ROLE
    assert fl["max_aggregation_interval"] == 600
    assert fl["tags"] == {"Name": "main"}
    assert fl["creation_time"] == "2026-01-01T12:00:00+00:00"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["flow_log_id"] == NEW_ID


def test_create_s3_with_options(client):
    created = flow_log(
        flow_log_id=NEW_ID,
        destination_type="s3",
        destination=BUCKET_ARN,
        traffic="REJECT",
        interval=60,
        log_format="${srcaddr}",
    )
    client.describe_flow_logs.side_effect = describe_by_call([], {NEW_ID: created})

    result, failed = run_module(
        client,
        dict(
            resource_id=VPC,
            traffic_type="REJECT",
            log_destination_type="s3",
            log_destination=BUCKET_ARN,
            max_aggregation_interval=60,
            log_format="${srcaddr}",
        ),
    )

    assert not failed, result
    assert result["changed"] is True
    kwargs = client.create_flow_logs.call_args.kwargs
    assert kwargs["LogDestinationType"] == "s3"
    assert kwargs["LogDestination"] == BUCKET_ARN
    assert kwargs["TrafficType"] == "REJECT"
    assert kwargs["MaxAggregationInterval"] == 60
    assert kwargs["LogFormat"] == "${srcaddr}"
    assert "LogGroupName" not in kwargs
    assert "DeliverLogsPermissionArn" not in kwargs
    assert "TagSpecifications" not in kwargs
    assert result["flow_log"]["log_destination"] == BUCKET_ARN


def test_idempotent_noop(client):
    existing = flow_log(tags={"Name": "main"})
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})
    set_tags(client, {"Name": "main"})

    result, failed = run_module(client, dict(CWL_ARGS, tags={"Name": "main"}))

    assert not failed, result
    assert result["changed"] is False
    assert result["replaced"] is False
    assert result["flow_log"]["flow_log_id"] == FL_ID
    assert result["flow_log"]["tags"] == {"Name": "main"}
    assert result["diff"]["before"] == result["diff"]["after"]
    assert_no_writes(client)


def test_existing_matched_by_destination_arn(client):
    """log_destination (log group ARN, with the ':*' suffix) finds a flow log created with a group name."""
    existing = flow_log()
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})

    result, failed = run_module(
        client,
        dict(
            resource_id=VPC,
            log_destination=f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*",
            deliver_logs_permission_arn=ROLE,
        ),
    )

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_other_traffic_type_is_not_a_match(client):
    """A REJECT flow log to the same group does not satisfy traffic_type=ALL: create a new one."""
    existing = flow_log(traffic="REJECT")
    created = flow_log(flow_log_id=NEW_ID)
    client.describe_flow_logs.side_effect = describe_by_call([existing], {NEW_ID: created})

    result, failed = run_module(client, CWL_ARGS)

    assert not failed, result
    assert result["changed"] is True
    client.create_flow_logs.assert_called_once()
    client.delete_flow_logs.assert_not_called()


def test_check_mode_create_makes_no_write_call(client):
    result, failed = run_module(client, dict(CWL_ARGS, tags={"Name": "main"}), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    fl = result["flow_log"]
    assert "flow_log_id" not in fl
    assert fl["log_group_name"] == GROUP
    assert fl["tags"] == {"Name": "main"}
    assert result["diff"]["before"] == {}


def test_replace_when_deliver_role_differs(client):
    existing = flow_log(tags={"Name": "main", "aws:cloudformation:stack-name": "x"})
    replacement = flow_log(flow_log_id=NEW_ID, role=OTHER_ROLE, tags={"Name": "main"})
    client.describe_flow_logs.side_effect = describe_by_call([existing], {NEW_ID: replacement})

    result, failed = run_module(client, dict(CWL_ARGS, deliver_logs_permission_arn=OTHER_ROLE))

    assert not failed, result
    assert result["changed"] is True
    assert result["replaced"] is True
    assert result["replaced_flow_log_id"] == FL_ID
    assert result["replaced_because"] == ["deliver_logs_permission_arn"]
    client.delete_flow_logs.assert_called_once_with(FlowLogIds=[FL_ID])
    kwargs = client.create_flow_logs.call_args.kwargs
    assert kwargs["DeliverLogsPermissionArn"] == OTHER_ROLE
    # tags not given: the user tags of the old flow log are carried over, aws: tags are not
    assert kwargs["TagSpecifications"] == [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "Name", "Value": "main"}]}]
    # delete happens before create (AWS refuses a duplicate destination)
    names = [c[0] for c in client.method_calls if c[0] in ("delete_flow_logs", "create_flow_logs")]
    assert names == ["delete_flow_logs", "create_flow_logs"]
    assert result["flow_log"]["flow_log_id"] == NEW_ID
    diff = result["diff"]
    assert diff["before"]["deliver_logs_permission_arn"] == ROLE
    assert diff["after"]["deliver_logs_permission_arn"] == OTHER_ROLE
    assert "deliver_logs_permission_arn" in diff["after_header"]
    assert FL_ID in diff["before_header"]


def test_replace_when_interval_or_format_differs_check_mode(client):
    existing = flow_log()
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})

    result, failed = run_module(
        client, dict(CWL_ARGS, max_aggregation_interval=60, log_format="${srcaddr} ${dstaddr}"), check_mode=True
    )

    assert not failed, result
    assert result["changed"] is True
    assert result["replaced"] is True
    assert result["replaced_because"] == ["max_aggregation_interval", "log_format"]
    assert_no_writes(client)
    assert result["flow_log"]["max_aggregation_interval"] == 60


def test_unset_log_format_is_not_compared(client):
    existing = flow_log(log_format="${srcaddr}")
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})

    result, failed = run_module(client, CWL_ARGS)

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_tag_update_in_place(client):
    existing = flow_log(tags={"Name": "main", "old": "x"})
    updated = flow_log(tags={"Name": "main", "env": "prod"})
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: updated})
    set_tags(client, {"Name": "main", "old": "x"})

    result, failed = run_module(client, dict(CWL_ARGS, tags={"Name": "main", "env": "prod"}))

    assert not failed, result
    assert result["changed"] is True
    assert result["replaced"] is False
    client.create_flow_logs.assert_not_called()
    client.delete_flow_logs.assert_not_called()
    client.create_tags.assert_called_once_with(Resources=[FL_ID], Tags=[{"Key": "env", "Value": "prod"}])
    client.delete_tags.assert_called_once_with(Resources=[FL_ID], Tags=[{"Key": "old"}])
    assert result["flow_log"]["tags"] == {"Name": "main", "env": "prod"}
    assert result["diff"]["before"]["tags"] == {"Name": "main", "old": "x"}
    assert result["diff"]["after"]["tags"] == {"Name": "main", "env": "prod"}


def test_tag_update_no_purge_check_mode(client):
    existing = flow_log(tags={"Name": "main", "old": "x"})
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})
    set_tags(client, {"Name": "main", "old": "x"})

    result, failed = run_module(client, dict(CWL_ARGS, tags={"env": "prod"}, purge_tags=False), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    assert result["flow_log"]["tags"] == {"Name": "main", "old": "x", "env": "prod"}


def test_tags_not_given_are_left_alone(client):
    existing = flow_log(tags={"Name": "main"})
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})

    result, failed = run_module(client, CWL_ARGS)

    assert not failed, result
    assert result["changed"] is False
    client.get_paginator.assert_not_called()  # no DescribeTags either
    assert_no_writes(client)


def test_pinned_flow_log_id_missing_fails(client):
    client.describe_flow_logs.side_effect = describe_by_call([flow_log()])

    result, failed = run_module(client, dict(CWL_ARGS, flow_log_id="fl-doesnotexist"))

    assert failed
    assert "fl-doesnotexist" in result["msg"]
    assert_no_writes(client)


def test_unsuccessful_entry_fails(client):
    client.create_flow_logs.return_value = {
        "FlowLogIds": [],
        "Unsuccessful": [
            {
                "ResourceId": VPC,
                "Error": {"Code": "400", "Message": "LogDestination: flow-log-bucket does not exist."},
            }
        ],
    }

    result, failed = run_module(client, dict(resource_id=VPC, log_destination_type="s3", log_destination=BUCKET_ARN))

    assert failed
    assert "does not exist" in result["msg"]
    assert VPC in result["msg"]
    assert result["unsuccessful"][0]["error"]["code"] == "400"


def test_client_error_on_create_fails(client):
    client.create_flow_logs.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "InvalidParameter", "Message": "bad role"}}, "CreateFlowLogs"
    )

    result, failed = run_module(client, CWL_ARGS)

    assert failed
    assert "Failed to create flow log" in result["msg"]
    assert result["error"]["code"] == "InvalidParameter"


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def test_absent_deletes_by_id(client):
    existing = flow_log()
    client.describe_flow_logs.side_effect = describe_by_call([existing], {FL_ID: existing})

    result, failed = run_module(client, dict(state="absent", flow_log_id=FL_ID))

    assert not failed, result
    assert result["changed"] is True
    assert result["deleted_flow_log_ids"] == [FL_ID]
    assert result["flow_log"] == {}
    client.delete_flow_logs.assert_called_once_with(FlowLogIds=[FL_ID])
    assert FL_ID in result["diff"]["before"]
    assert result["diff"]["after"] == {}


def test_absent_deletes_matching_destination_only(client):
    to_group = flow_log()
    to_s3 = flow_log(flow_log_id=NEW_ID, destination_type="s3", destination=BUCKET_ARN)
    client.describe_flow_logs.side_effect = describe_by_call([to_group, to_s3])

    result, failed = run_module(client, dict(state="absent", resource_id=VPC, log_destination=BUCKET_ARN))

    assert not failed, result
    assert result["changed"] is True
    client.delete_flow_logs.assert_called_once_with(FlowLogIds=[NEW_ID])


def test_absent_deletes_all_on_resource(client):
    client.describe_flow_logs.side_effect = describe_by_call(
        [flow_log(), flow_log(flow_log_id=NEW_ID, traffic="REJECT")]
    )

    result, failed = run_module(client, dict(state="absent", resource_id=VPC))

    assert not failed, result
    assert result["changed"] is True
    client.delete_flow_logs.assert_called_once_with(FlowLogIds=[FL_ID, NEW_ID])


def test_absent_check_mode(client):
    client.describe_flow_logs.side_effect = describe_by_call([flow_log()])

    result, failed = run_module(client, dict(state="absent", resource_id=VPC), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert result["deleted_flow_log_ids"] == [FL_ID]
    assert_no_writes(client)


def test_absent_noop(client):
    result, failed = run_module(client, dict(state="absent", resource_id=VPC, log_group_name=GROUP))

    assert not failed, result
    assert result["changed"] is False
    assert result["deleted_flow_log_ids"] == []
    assert_no_writes(client)


def test_absent_noop_unknown_id(client):
    client.describe_flow_logs.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "InvalidFlowLogId.NotFound", "Message": "not found"}}, "DescribeFlowLogs"
    )

    result, failed = run_module(client, dict(state="absent", flow_log_id=FL_ID))

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_absent_delete_unsuccessful_fails(client):
    client.describe_flow_logs.side_effect = describe_by_call([flow_log()], {FL_ID: flow_log()})
    client.delete_flow_logs.return_value = {
        "Unsuccessful": [
            {"ResourceId": FL_ID, "Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"}},
        ]
    }

    result, failed = run_module(client, dict(state="absent", flow_log_id=FL_ID))

    assert failed
    assert "not allowed" in result["msg"]


def test_absent_delete_already_gone_is_ok(client):
    client.describe_flow_logs.side_effect = describe_by_call([flow_log()], {FL_ID: flow_log()})
    client.delete_flow_logs.return_value = {
        "Unsuccessful": [{"ResourceId": FL_ID, "Error": {"Code": "InvalidFlowLogId.NotFound", "Message": "gone"}}]
    }

    result, failed = run_module(client, dict(state="absent", flow_log_id=FL_ID))

    assert not failed, result
    assert result["changed"] is True


# ---------------------------------------------------------------------------
# option validation (fails before any API call)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (
            dict(resource_id=VPC, log_destination_type="s3"),
            "log_destination (the S3 bucket ARN) is required when log_destination_type=s3",
        ),
        (
            dict(resource_id=VPC, log_destination_type="s3", log_group_name=GROUP),
            "log_group_name can only be used with log_destination_type=cloud-watch-logs",
        ),
        (
            dict(resource_id=VPC, log_group_name=GROUP),
            "deliver_logs_permission_arn is required when log_destination_type=cloud-watch-logs",
        ),
        (
            dict(resource_id=VPC, deliver_logs_permission_arn=ROLE),
            "one of log_group_name or log_destination is required",
        ),
        (
            dict(resource_id=VPC, log_destination_type="s3", log_destination="my-bucket"),
            "log_destination must be an ARN",
        ),
        (
            dict(resource_id=VPC, log_destination_type="s3", log_destination="arn:aws:logs:us-east-1:1:log-group:x"),
            "is not a s3 ARN",
        ),
        (
            dict(resource_id=VPC, log_group_name=GROUP, log_destination=BUCKET_ARN, deliver_logs_permission_arn=ROLE),
            "mutually exclusive",
        ),
        (dict(log_group_name=GROUP, deliver_logs_permission_arn=ROLE), "resource_id"),
        (dict(state="absent"), "resource_id, flow_log_id"),
        (
            dict(resource_id=VPC, max_aggregation_interval=120, log_group_name=GROUP, deliver_logs_permission_arn=ROLE),
            "60, 600",
        ),
    ],
)
def test_invalid_option_combinations(client, args, message):
    result, failed = run_module(client, args)

    assert failed
    assert message in result["msg"]
    client.describe_flow_logs.assert_not_called()
    assert_no_writes(client)


def test_s3_ignores_role_with_warning(client):
    created = flow_log(flow_log_id=NEW_ID, destination_type="s3", destination=BUCKET_ARN)
    client.describe_flow_logs.side_effect = describe_by_call([], {NEW_ID: created})

    result, failed = run_module(
        client,
        dict(resource_id=VPC, log_destination_type="s3", log_destination=BUCKET_ARN, deliver_logs_permission_arn=ROLE),
    )

    assert not failed, result
    assert "DeliverLogsPermissionArn" not in client.create_flow_logs.call_args.kwargs
    assert any("ignored" in w for w in result.get("warnings", []))


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn, expected",
    [
        ("arn:aws:logs:us-east-1:123456789012:log-group:/a/b", "/a/b"),
        ("arn:aws:logs:us-east-1:123456789012:log-group:/a/b:*", "/a/b"),
        ("arn:aws:s3:::bucket/prefix/", None),
        (None, None),
    ],
)
def test_log_group_from_arn(arn, expected):
    assert ec2_vpc_flow_log._log_group_from_arn(arn) == expected


def test_describe_paginates(client):
    client.describe_flow_logs.side_effect = [
        {"FlowLogs": [flow_log()], "NextToken": "t1"},
        {"FlowLogs": [flow_log(flow_log_id=NEW_ID)]},
    ]
    found = ec2_vpc_flow_log.describe_flow_logs(client, MagicMock(), resource_id=VPC)
    assert [fl["FlowLogId"] for fl in found] == [FL_ID, NEW_ID]
    assert client.describe_flow_logs.call_args.kwargs["NextToken"] == "t1"
