#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_log
version_added: 0.1.0
short_description: Manage VPC flow logs
description:
  - Create, replace, tag and delete VPC flow logs on a VPC, a subnet or a network interface.
  - Flow logs are delivered either to a CloudWatch Logs log group or to an S3 bucket.
  - The settings O(deliver_logs_permission_arn), O(max_aggregation_interval) and O(log_format) of
    an existing flow log cannot be modified in place. When they differ, the flow log is deleted
    and re-created (it gets a new flow log ID) and RV(replaced=true) is returned.
  - Tags are updated in place.
  - This module supports check mode and diff mode.
author:
  - mlinfra platform team
options:
  state:
    description:
      - Whether the flow log should exist.
      - With O(state=absent), flow logs are selected by O(flow_log_id) or by O(resource_id); when
        O(log_group_name) or O(log_destination) is given only the flow logs delivering there are
        deleted, otherwise all flow logs of O(resource_id) are deleted. O(traffic_type) is not used
        to select flow logs to delete.
    type: str
    choices: ['present', 'absent']
    default: present
  resource_id:
    description:
      - The ID of the VPC, subnet or network interface the flow log captures traffic of.
      - Required when O(state=present).
      - Required when O(state=absent) unless O(flow_log_id) is given.
    type: str
  resource_type:
    description:
      - The type of O(resource_id).
    type: str
    choices: ['VPC', 'Subnet', 'NetworkInterface']
    default: VPC
  traffic_type:
    description:
      - The type of traffic to log.
      - Used together with the destination to find an existing flow log when O(state=present).
    type: str
    choices: ['ALL', 'ACCEPT', 'REJECT']
    default: ALL
  log_destination_type:
    description:
      - Where the flow log data is published.
    type: str
    choices: ['cloud-watch-logs', 's3']
    default: cloud-watch-logs
  log_group_name:
    description:
      - The name of the CloudWatch Logs log group to publish to.
      - Only valid with O(log_destination_type=cloud-watch-logs).
      - Mutually exclusive with O(log_destination).
      - With O(log_destination_type=cloud-watch-logs) and O(state=present) one of O(log_group_name)
        and O(log_destination) is required.
    type: str
  log_destination:
    description:
      - The ARN of the destination, either an S3 bucket (optionally with a folder, for example
        V(arn:aws:s3:::my-bucket/my-prefix/)) or a CloudWatch Logs log group
        (V(arn:aws:logs:us-east-1:123456789012:log-group:my-group)).
      - Required when O(log_destination_type=s3) and O(state=present).
      - Mutually exclusive with O(log_group_name).
    type: str
  deliver_logs_permission_arn:
    description:
      - The ARN of the IAM role that allows the VPC Flow Logs service to publish to the log group.
      - Required when O(log_destination_type=cloud-watch-logs) and O(state=present).
      - Ignored (with a warning) when O(log_destination_type=s3).
      - Cannot be modified in place, a change replaces the flow log.
    type: str
  max_aggregation_interval:
    description:
      - The maximum interval of time, in seconds, during which a flow of packets is captured and
        aggregated into a flow log record.
      - Cannot be modified in place, a change replaces the flow log.
    type: int
    choices: [60, 600]
    default: 600
  log_format:
    description:
      - The fields to include in the flow log record, for example
        V(${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${log-status}).
      - When not set, AWS uses its default format and the format of an existing flow log is not
        compared.
      - Cannot be modified in place, a change replaces the flow log.
    type: str
  flow_log_id:
    description:
      - The ID of an existing flow log.
      - With O(state=absent), the flow log to delete.
      - With O(state=present), pins the flow log to manage instead of searching O(resource_id) for
        a flow log with the same O(traffic_type) and destination. The flow log must exist on
        O(resource_id). If its traffic type or destination differ from the options it is replaced.
    type: str
notes:
  - When a replacement is needed the existing flow log is deleted before the new one is created,
    because AWS refuses two flow logs with the same configuration and destination. If the creation
    fails the resource is left without that flow log.
  - When O(tags) is not set and the flow log is replaced, the tags of the old flow log are copied
    to the new one.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Log all traffic of a VPC to CloudWatch Logs
  mlinfra.gpu_platform.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /vpc/flow-logs/main
    deliver_logs_permission_arn: arn:aws:iam::123456789012:role/vpc-flow-logs
    max_aggregation_interval: 60
    tags:
      Name: main-vpc-flow-log
  register: flow_log

- name: Log rejected traffic of a subnet to S3 with a custom format
  mlinfra.gpu_platform.ec2_vpc_flow_log:
    resource_id: subnet-0123456789abcdef0
    resource_type: Subnet
    traffic_type: REJECT
    log_destination_type: s3
    log_destination: arn:aws:s3:::my-flow-log-bucket/subnets/
    log_format: "${version} ${vpc-id} ${subnet-id} ${srcaddr} ${dstaddr} ${action} ${log-status}"

- name: Delete one flow log by ID
  mlinfra.gpu_platform.ec2_vpc_flow_log:
    state: absent
    flow_log_id: fl-0123456789abcdef0

- name: Delete the flow logs of a VPC that deliver to a log group
  mlinfra.gpu_platform.ec2_vpc_flow_log:
    state: absent
    resource_id: vpc-0123456789abcdef0
    log_group_name: /vpc/flow-logs/main

- name: Delete all flow logs of a VPC
  mlinfra.gpu_platform.ec2_vpc_flow_log:
    state: absent
    resource_id: vpc-0123456789abcdef0
"""

RETURN = r"""
flow_log:
  description:
    - The flow log, with its tags as a dictionary.
    - Empty when O(state=absent).
    - In check mode, when a flow log would be created or replaced, the predicted flow log without
      RV(flow_log.flow_log_id).
  returned: always
  type: dict
  contains:
    flow_log_id:
      description: The ID of the flow log.
      returned: when the flow log exists
      type: str
      sample: fl-0123456789abcdef0
    resource_id:
      description: The ID of the resource the flow log captures traffic of.
      returned: when O(state=present)
      type: str
      sample: vpc-0123456789abcdef0
    traffic_type:
      description: The type of traffic captured.
      returned: when O(state=present)
      type: str
      sample: ALL
    log_destination_type:
      description: The type of destination.
      returned: when O(state=present)
      type: str
      sample: cloud-watch-logs
    log_group_name:
      description: The name of the CloudWatch Logs log group.
      returned: when the destination is a log group
      type: str
      sample: /vpc/flow-logs/main
    log_destination:
      description: The ARN of the destination.
      returned: when known
      type: str
      sample: arn:aws:s3:::my-flow-log-bucket/subnets/
    deliver_logs_permission_arn:
      description: The ARN of the IAM role used to publish to the log group.
      returned: when the destination is a log group
      type: str
      sample: arn:aws:iam::123456789012:role/vpc-flow-logs
    deliver_logs_status:
      description: The status of the logs delivery.
      returned: when the flow log exists
      type: str
      sample: SUCCESS
    deliver_logs_error_message:
      description: Information about the error that occurred when publishing.
      returned: when delivery failed
      type: str
      sample: Access error
    flow_log_status:
      description: The status of the flow log.
      returned: when the flow log exists
      type: str
      sample: ACTIVE
    creation_time:
      description: When the flow log was created (ISO 8601).
      returned: when the flow log exists
      type: str
      sample: "2026-01-01T12:00:00+00:00"
    log_format:
      description: The format of the flow log records.
      returned: when the flow log exists or O(log_format) is set
      type: str
      sample: "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${action} ${log-status}"
    max_aggregation_interval:
      description: The maximum aggregation interval, in seconds.
      returned: when O(state=present)
      type: int
      sample: 600
    destination_options:
      description: The S3 destination options.
      returned: when the destination is S3 and AWS reports them
      type: dict
      sample: {"file_format": "plain-text", "hive_compatible_partitions": false, "per_hour_partition": false}
    tags:
      description: The tags of the flow log.
      returned: when O(state=present)
      type: dict
      sample: {"Name": "main-vpc-flow-log"}
replaced:
  description:
    - Whether the flow log was (or in check mode would be) deleted and re-created because a
      setting that cannot be modified in place differed.
  returned: when O(state=present)
  type: bool
  sample: false
replaced_flow_log_id:
  description: The ID of the flow log that was replaced.
  returned: when RV(replaced=true)
  type: str
  sample: fl-0123456789abcdef0
replaced_because:
  description: The options whose values forced the replacement.
  returned: when RV(replaced=true)
  type: list
  elements: str
  sample: ["deliver_logs_permission_arn"]
deleted_flow_log_ids:
  description: The IDs of the flow logs that were (or in check mode would be) deleted.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: ["fl-0123456789abcdef0"]
"""

import time
import uuid
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import ensure_ec2_tags
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

CWL = "cloud-watch-logs"
S3 = "s3"
NOT_FOUND = "InvalidFlowLogId.NotFound"

# Keys shown in --diff output, in this order.
DIFF_KEYS = (
    "flow_log_id",
    "resource_id",
    "traffic_type",
    "log_destination_type",
    "log_group_name",
    "log_destination",
    "deliver_logs_permission_arn",
    "max_aggregation_interval",
    "log_format",
    "tags",
)

# How long to wait for a newly created flow log to show up in DescribeFlowLogs.
DESCRIBE_AFTER_CREATE_ATTEMPTS = 10
DESCRIBE_AFTER_CREATE_DELAY = 2


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _normalize_arn(arn: Optional[str]) -> Optional[str]:
    """Strip the decorations AWS may add or drop on destination ARNs (log group ':*', S3 '/')."""
    if not arn:
        return arn
    if arn.endswith(":*"):
        arn = arn[:-2]
    return arn.rstrip("/")


def _log_group_from_arn(arn: Optional[str]) -> Optional[str]:
    """Return the log group name of a CloudWatch Logs log group ARN, None for other ARNs."""
    details = parse_aws_arn(arn) if arn else None
    if not details or details.get("service") != "logs":
        return None
    resource = details.get("resource") or ""
    if not resource.startswith("log-group:"):
        return None
    name = resource[len("log-group:") :]
    if name.endswith(":*"):
        name = name[:-2]
    return name or None


def _flow_log_group_name(flow_log: Dict[str, Any]) -> Optional[str]:
    if (flow_log.get("LogDestinationType") or CWL) != CWL:
        return None
    return flow_log.get("LogGroupName") or _log_group_from_arn(flow_log.get("LogDestination"))


def destination_matches(
    flow_log: Dict[str, Any],
    destination_type: Optional[str],
    log_group_name: Optional[str],
    log_destination: Optional[str],
) -> bool:
    """Does the flow log deliver to the wanted destination?

    destination_type None means any type; no log_group_name/log_destination means any destination.
    """
    flow_log_type = flow_log.get("LogDestinationType") or CWL
    if destination_type and flow_log_type != destination_type:
        return False
    if log_destination:
        existing_arn = flow_log.get("LogDestination")
        if existing_arn:
            return _normalize_arn(existing_arn) == _normalize_arn(log_destination)
        wanted_group = _log_group_from_arn(log_destination)
        return wanted_group is not None and _flow_log_group_name(flow_log) == wanted_group
    if log_group_name:
        return _flow_log_group_name(flow_log) == log_group_name
    return True


def _user_tags(tags: Optional[Dict[str, str]]) -> Dict[str, str]:
    """Tags without the reserved aws: keys, which cannot be set by users."""
    return {k: v for k, v in (tags or {}).items() if not k.startswith("aws:")}


def format_flow_log(flow_log: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """snake_case a DescribeFlowLogs entry, tags as a dict, datetimes as strings."""
    if not flow_log:
        return {}
    result = camel_dict_to_snake_dict(normalize_boto3_result(flow_log), ignore_list=["Tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(flow_log.get("Tags") or [])
    return result


def diff_view(flow_log: Dict[str, Any]) -> Dict[str, Any]:
    """The user-facing, comparable subset of a formatted flow log."""
    return {k: flow_log[k] for k in DIFF_KEYS if flow_log.get(k) is not None}


def _fail_unsuccessful(module, action: str, unsuccessful: List[Dict[str, Any]], **extra) -> None:
    messages = []
    for item in unsuccessful:
        error = item.get("Error") or {}
        target = item.get("ResourceId") or ", ".join(item.get("FlowLogIds") or []) or "unknown"
        messages.append(f"{target}: {error.get('Code', 'Unknown')}: {error.get('Message', 'no message')}")
    module.fail_json(
        msg=f"Failed to {action}: " + "; ".join(messages),
        unsuccessful=[camel_dict_to_snake_dict(item) for item in unsuccessful],
        **extra,
    )


# ---------------------------------------------------------------------------
# API wrappers
# ---------------------------------------------------------------------------


def describe_flow_logs(
    client, module, flow_log_ids: Optional[List[str]] = None, resource_id: Optional[str] = None
) -> List[Dict[str, Any]]:
    params: Dict[str, Any] = {}
    if flow_log_ids:
        params["FlowLogIds"] = flow_log_ids
    if resource_id:
        params["Filters"] = [{"Name": "resource-id", "Values": [resource_id]}]
    flow_logs: List[Dict[str, Any]] = []
    try:
        while True:
            response = client.describe_flow_logs(aws_retry=True, **params)
            flow_logs.extend(response.get("FlowLogs") or [])
            token = response.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
    except is_boto3_error_code(NOT_FOUND):
        return []
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg="Failed to describe flow logs")
    return sorted(flow_logs, key=lambda fl: (str(fl.get("CreationTime") or ""), fl.get("FlowLogId") or ""))


def get_flow_log(client, module, flow_log_id: str, wait: bool = False) -> Optional[Dict[str, Any]]:
    attempts = DESCRIBE_AFTER_CREATE_ATTEMPTS if wait else 1
    for attempt in range(attempts):
        found = describe_flow_logs(client, module, flow_log_ids=[flow_log_id])
        found = [fl for fl in found if fl.get("FlowLogId") == flow_log_id]
        if found:
            return found[0]
        if attempt + 1 < attempts:
            time.sleep(DESCRIBE_AFTER_CREATE_DELAY)
    return None


def create_flow_log(
    client, module, want: Dict[str, Any], tags: Dict[str, str], extra_fail: Optional[Dict] = None
) -> str:
    params: Dict[str, Any] = {
        "ResourceIds": [want["resource_id"]],
        "ResourceType": want["resource_type"],
        "TrafficType": want["traffic_type"],
        "LogDestinationType": want["log_destination_type"],
        "MaxAggregationInterval": want["max_aggregation_interval"],
        "ClientToken": str(uuid.uuid4()),
    }
    if want.get("log_group_name"):
        params["LogGroupName"] = want["log_group_name"]
    if want.get("log_destination"):
        params["LogDestination"] = want["log_destination"]
    if want.get("deliver_logs_permission_arn"):
        params["DeliverLogsPermissionArn"] = want["deliver_logs_permission_arn"]
    if want.get("log_format"):
        params["LogFormat"] = want["log_format"]
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "vpc-flow-log", "Tags": ansible_dict_to_boto3_tag_list(tags)},
        ]
    extra_fail = extra_fail or {}
    try:
        response = client.create_flow_logs(aws_retry=True, **params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to create flow log on {want['resource_id']}", **extra_fail)
    # CreateFlowLogs reports per-resource failures in Unsuccessful instead of raising.
    unsuccessful = response.get("Unsuccessful") or []
    if unsuccessful:
        _fail_unsuccessful(module, f"create flow log on {want['resource_id']}", unsuccessful, **extra_fail)
    flow_log_ids = response.get("FlowLogIds") or []
    if not flow_log_ids:
        module.fail_json(msg=f"CreateFlowLogs returned no flow log ID for {want['resource_id']}", **extra_fail)
    return flow_log_ids[0]


def delete_flow_logs(client, module, flow_log_ids: List[str]) -> None:
    try:
        response = client.delete_flow_logs(aws_retry=True, FlowLogIds=flow_log_ids)
    except is_boto3_error_code(NOT_FOUND):
        # AWS reports unknown IDs in Unsuccessful; some implementations (moto) raise instead.
        # Either way the flow logs are gone, which is what we want.
        return
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to delete flow logs {', '.join(flow_log_ids)}")
    unsuccessful = [
        item for item in (response.get("Unsuccessful") or []) if (item.get("Error") or {}).get("Code") != NOT_FOUND
    ]
    if unsuccessful:
        _fail_unsuccessful(module, "delete flow logs", unsuccessful)


# ---------------------------------------------------------------------------
# State handling
# ---------------------------------------------------------------------------


def wanted_settings(module) -> Dict[str, Any]:
    p = module.params
    want = {
        "resource_id": p["resource_id"],
        "resource_type": p["resource_type"],
        "traffic_type": p["traffic_type"],
        "log_destination_type": p["log_destination_type"],
        "log_group_name": p["log_group_name"],
        "log_destination": p["log_destination"],
        "deliver_logs_permission_arn": p["deliver_logs_permission_arn"],
        "max_aggregation_interval": p["max_aggregation_interval"],
        "log_format": p["log_format"],
    }
    if want["log_destination_type"] == S3:
        # Not used for S3 delivery (validate_params warned about it).
        want["deliver_logs_permission_arn"] = None
    return want


def predicted_flow_log(want: Dict[str, Any], tags: Dict[str, str]) -> Dict[str, Any]:
    """What a flow log created from the options would look like (check mode / diff)."""
    result = {k: v for k, v in want.items() if v is not None and k != "resource_type"}
    if want["log_destination_type"] == CWL and not want.get("log_group_name"):
        group = _log_group_from_arn(want.get("log_destination"))
        if group:
            result["log_group_name"] = group
    result["tags"] = dict(tags)
    return result


def replacement_reasons(flow_log: Dict[str, Any], want: Dict[str, Any], pinned: bool) -> List[str]:
    reasons = []
    if pinned:
        if flow_log.get("TrafficType") != want["traffic_type"]:
            reasons.append("traffic_type")
        if not destination_matches(
            flow_log, want["log_destination_type"], want["log_group_name"], want["log_destination"]
        ):
            reasons.append(
                "log_destination_type"
                if (flow_log.get("LogDestinationType") or CWL) != want["log_destination_type"]
                else "log_destination"
            )
    if (
        want["log_destination_type"] == CWL
        and flow_log.get("DeliverLogsPermissionArn") != want["deliver_logs_permission_arn"]
    ):
        reasons.append("deliver_logs_permission_arn")
    if (flow_log.get("MaxAggregationInterval") or 600) != want["max_aggregation_interval"]:
        reasons.append("max_aggregation_interval")
    if want["log_format"] is not None and flow_log.get("LogFormat") != want["log_format"]:
        reasons.append("log_format")
    return reasons


def ensure_present(client, module) -> Dict[str, Any]:
    p = module.params
    want = wanted_settings(module)
    tags_param = p["tags"]
    purge_tags = p["purge_tags"]

    on_resource = describe_flow_logs(client, module, resource_id=want["resource_id"])
    pinned = bool(p["flow_log_id"])
    if pinned:
        candidates = [fl for fl in on_resource if fl.get("FlowLogId") == p["flow_log_id"]]
        if not candidates:
            module.fail_json(msg=f"Flow log {p['flow_log_id']} does not exist on {want['resource_id']}")
    else:
        candidates = [
            fl
            for fl in on_resource
            if fl.get("TrafficType") == want["traffic_type"]
            and destination_matches(fl, want["log_destination_type"], want["log_group_name"], want["log_destination"])
        ]
        if len(candidates) > 1:
            module.warn(
                f"{len(candidates)} flow logs on {want['resource_id']} match the traffic type and destination "
                f"({', '.join(fl['FlowLogId'] for fl in candidates)}); "
                f"managing the oldest, {candidates[0]['FlowLogId']}. "
                "Use flow_log_id to choose one."
            )

    # --- create -----------------------------------------------------------
    if not candidates:
        tags = dict(tags_param or {})
        after = predicted_flow_log(want, tags)
        result: Dict[str, Any] = {"changed": True, "replaced": False, "flow_log": after}
        if not module.check_mode:
            new_id = create_flow_log(client, module, want, tags)
            created = get_flow_log(client, module, new_id, wait=True)
            result["flow_log"] = format_flow_log(created) if created else dict(after, flow_log_id=new_id)
        result["diff"] = {"before": {}, "after": diff_view(result["flow_log"])}
        return result

    existing = candidates[0]
    current = format_flow_log(existing)
    current_tags = current["tags"]

    # --- replace ----------------------------------------------------------
    reasons = replacement_reasons(existing, want, pinned)
    if reasons:
        if tags_param is None:
            tags = _user_tags(current_tags)
        elif purge_tags:
            tags = dict(tags_param)
        else:
            tags = dict(_user_tags(current_tags), **tags_param)
        after = predicted_flow_log(want, tags)
        old_id = existing["FlowLogId"]
        result = {
            "changed": True,
            "replaced": True,
            "replaced_flow_log_id": old_id,
            "replaced_because": reasons,
            "flow_log": after,
        }
        if not module.check_mode:
            delete_flow_logs(client, module, [old_id])
            new_id = create_flow_log(
                client,
                module,
                want,
                tags,
                extra_fail={"replaced_flow_log_id": old_id, "deleted_flow_log_ids": [old_id]},
            )
            created = get_flow_log(client, module, new_id, wait=True)
            result["flow_log"] = format_flow_log(created) if created else dict(after, flow_log_id=new_id)
        result["diff"] = {
            "before_header": f"flow log {old_id}",
            "after_header": f"replacement of {old_id} (cannot be modified in place: {', '.join(reasons)})",
            "before": diff_view(current),
            "after": diff_view(result["flow_log"]),
        }
        return result

    # --- update tags in place -----------------------------------------------
    flow_log_id = existing["FlowLogId"]
    # resource_type is not passed: moto types flow log tags as "flow-logs" instead of AWS's
    # "vpc-flow-log", and the resource-id filter alone is unambiguous.
    changed = ensure_ec2_tags(client, module, flow_log_id, tags=tags_param, purge_tags=purge_tags)
    after = current
    if changed:
        if module.check_mode:
            to_set, to_unset = compare_aws_tags(current_tags, tags_param, purge_tags)
            if purge_tags and not tags_param:
                to_unset = list(current_tags)
            new_tags = {k: v for k, v in current_tags.items() if k not in to_unset}
            new_tags.update(to_set)
            after = dict(current, tags=new_tags)
        else:
            refreshed = get_flow_log(client, module, flow_log_id)
            after = format_flow_log(refreshed) if refreshed else current
    return {
        "changed": changed,
        "replaced": False,
        "flow_log": after,
        "diff": {"before": diff_view(current), "after": diff_view(after)},
    }


def ensure_absent(client, module) -> Dict[str, Any]:
    p = module.params
    if p["flow_log_id"]:
        flow_logs = describe_flow_logs(client, module, flow_log_ids=[p["flow_log_id"]])
        flow_logs = [fl for fl in flow_logs if fl.get("FlowLogId") == p["flow_log_id"]]
        if p["resource_id"]:
            flow_logs = [fl for fl in flow_logs if fl.get("ResourceId") == p["resource_id"]]
    else:
        flow_logs = describe_flow_logs(client, module, resource_id=p["resource_id"])
    if p["log_group_name"] or p["log_destination"]:
        flow_logs = [fl for fl in flow_logs if destination_matches(fl, None, p["log_group_name"], p["log_destination"])]

    ids = [fl["FlowLogId"] for fl in flow_logs]
    before = {fl["FlowLogId"]: diff_view(format_flow_log(fl)) for fl in flow_logs}
    if ids and not module.check_mode:
        delete_flow_logs(client, module, ids)
    return {
        "changed": bool(ids),
        "flow_log": {},
        "deleted_flow_log_ids": ids,
        "diff": {"before": before, "after": {}},
    }


def validate_params(module) -> None:
    p = module.params
    destination_type = p["log_destination_type"]
    if p["log_destination"]:
        details = parse_aws_arn(p["log_destination"])
        if not details:
            module.fail_json(msg=f"log_destination must be an ARN, got {p['log_destination']!r}")
        if p["state"] == "present":
            expected_service = "s3" if destination_type == S3 else "logs"
            if details.get("service") != expected_service:
                module.fail_json(
                    msg=f"log_destination {p['log_destination']!r} is not a {expected_service} ARN "
                    f"(log_destination_type={destination_type})"
                )
    if p["state"] != "present":
        return
    if destination_type == S3:
        if p["log_group_name"]:
            module.fail_json(msg="log_group_name can only be used with log_destination_type=cloud-watch-logs")
        if not p["log_destination"]:
            module.fail_json(msg="log_destination (the S3 bucket ARN) is required when log_destination_type=s3")
        if p["deliver_logs_permission_arn"]:
            module.warn("deliver_logs_permission_arn is ignored when log_destination_type=s3")
    else:
        if not (p["log_group_name"] or p["log_destination"]):
            module.fail_json(
                msg="one of log_group_name or log_destination is required when log_destination_type=cloud-watch-logs"
            )
        if not p["deliver_logs_permission_arn"]:
            module.fail_json(
                msg="deliver_logs_permission_arn is required when log_destination_type=cloud-watch-logs"
                " and state=present"
            )


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        resource_id=dict(type="str"),
        resource_type=dict(type="str", default="VPC", choices=["VPC", "Subnet", "NetworkInterface"]),
        traffic_type=dict(type="str", default="ALL", choices=["ALL", "ACCEPT", "REJECT"]),
        log_destination_type=dict(type="str", default=CWL, choices=[CWL, S3]),
        log_group_name=dict(type="str"),
        log_destination=dict(type="str"),
        deliver_logs_permission_arn=dict(type="str"),
        max_aggregation_interval=dict(type="int", default=600, choices=[60, 600]),
        log_format=dict(type="str"),
        flow_log_id=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )

    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["log_group_name", "log_destination"]],
        required_if=[
            ["state", "present", ["resource_id"]],
            ["state", "absent", ["resource_id", "flow_log_id"], True],
        ],
    )
    validate_params(module)

    try:
        client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff(retries=10))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to connect to AWS")

    if module.params["state"] == "present":
        result = ensure_present(client, module)
    else:
        result = ensure_absent(client, module)

    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
