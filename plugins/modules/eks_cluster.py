#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cluster
version_added: 0.1.0
short_description: Manage an Amazon EKS cluster (control plane)
description:
  - Create, update and delete an Amazon EKS cluster, including the settings that
    C(community.aws.eks_cluster) does not manage - secrets encryption with a KMS key, control
    plane logging, API server endpoint access and the authentication mode.
  - On an existing cluster every setting that AWS can change in place is brought to the wanted
    value. AWS runs one update at a time, so the module starts them one after the other, waiting
    with C(DescribeUpdate) for each to finish before it starts the next. The order is logging,
    endpoint access, subnets/security groups, authentication mode, secrets encryption and last
    the Kubernetes version. Tags are changed directly.
  - Settings that cannot be changed are refused with an error before anything is changed - a
    different O(role_arn), a Kubernetes version downgrade or a jump of more than one minor
    version, a different O(encryption_key_arn) on a cluster whose secrets are already encrypted,
    and an authentication mode that would go back (AWS allows only V(CONFIG_MAP) to
    V(API_AND_CONFIG_MAP) to V(API)).
  - This module supports check mode and diff mode.
author:
  - mlinfra platform team
options:
  name:
    description:
      - The name of the cluster.
    type: str
    required: true
  state:
    description:
      - Whether the cluster should exist.
      - With O(state=absent) the cluster is deleted. The module refuses to delete a cluster that
        still has managed nodegroups or Fargate profiles, and names them in the error.
    type: str
    choices: ['present', 'absent']
    default: present
  version:
    description:
      - The Kubernetes version (C(major.minor)), for example V("1.33").
      - Quote it in YAML, an unquoted V(1.30) is the number 1.3.
      - When creating a cluster without O(version), AWS uses its current default version.
      - On an existing cluster the version can only go up, one minor version per run
        (C(UpdateClusterVersion)). A downgrade or a jump of more than one minor version fails.
    type: str
  role_arn:
    description:
      - The ARN of the IAM role that the EKS control plane uses.
      - Required to create a cluster. It cannot be changed on an existing cluster, a different
        value fails.
    type: str
  subnets:
    description:
      - The IDs of the subnets of the control plane network interfaces (at least two, in two
        Availability Zones, all in one VPC).
      - Required to create a cluster.
      - On an existing cluster a different set is applied with an C(UpdateClusterConfig) of type
        C(VpcConfigUpdate). AWS keeps the cluster in its VPC, subnets of another VPC fail.
      - The order does not matter.
    type: list
    elements: str
  security_groups:
    description:
      - The IDs of additional security groups for the control plane network interfaces (EKS also
        creates a cluster security group of its own, returned as
        RV(cluster.resources_vpc_config.cluster_security_group_id)).
      - When not set, the security groups are not managed.
      - On an existing cluster a different set is applied with a C(VpcConfigUpdate). The order
        does not matter.
    type: list
    elements: str
  endpoint_private_access:
    description:
      - Whether the Kubernetes API server endpoint is reachable from within the VPC.
      - At least one of O(endpoint_private_access) and O(endpoint_public_access) must be V(true).
    type: bool
    default: true
  endpoint_public_access:
    description:
      - Whether the Kubernetes API server endpoint is reachable from the internet (limited to
        O(public_access_cidrs)).
    type: bool
    default: true
  public_access_cidrs:
    description:
      - The IPv4 CIDR blocks allowed to reach the public API server endpoint.
      - The default V(["0.0.0.0/0"]) is only AWS's own default. The platform supplies the real
        list (its operators' and CI networks), it should always be set explicitly.
      - Only used with O(endpoint_public_access=true); otherwise it is not compared or sent.
      - The order does not matter.
    type: list
    elements: str
    default: ['0.0.0.0/0']
  encryption_key_arn:
    description:
      - The ARN of the KMS key that encrypts the cluster's Kubernetes secrets (envelope
        encryption, resources V(["secrets"])).
      - Given at creation, or associated later with C(AssociateEncryptionConfig).
      - AWS cannot remove or change the key of a cluster whose secrets are encrypted. A
        different value then fails. Leaving it unset does not remove the encryption.
      - Compared as given, use the key ARN (not an alias ARN).
    type: str
  logging:
    description:
      - The control plane log types to send to CloudWatch Logs; the other types are disabled.
      - V([]) disables all of them.
      - When not set, the logging configuration is not managed (a new cluster then has all log
        types disabled, as on AWS).
    type: list
    elements: str
    choices: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']
  authentication_mode:
    description:
      - How IAM principals are authenticated - access entries (V(API)), the C(aws-auth)
        ConfigMap (V(CONFIG_MAP)) or both (V(API_AND_CONFIG_MAP)).
      - When not set, it is not managed (AWS creates clusters with V(CONFIG_MAP) through the API).
      - AWS only moves forward, V(CONFIG_MAP) to V(API_AND_CONFIG_MAP) to V(API); going back fails.
    type: str
    choices: ['API', 'API_AND_CONFIG_MAP', 'CONFIG_MAP']
  wait:
    description:
      - Wait for the cluster to be C(ACTIVE) after a creation or the last update, or to be gone
        after a deletion (botocore EKS waiters C(cluster_active) and C(cluster_deleted); updates
        with C(DescribeUpdate)).
      - With O(wait=false) the module still waits for each update to finish before it starts the
        next one, because AWS refuses concurrent updates; it does not wait for the last one.
      - With O(wait=false), a cluster that is not C(ACTIVE) (for example still C(CREATING)) and
        needs an update makes the module fail instead of waiting.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for each of the waits described in O(wait).
    type: int
    default: 1200
notes:
  - A new cluster's C(kubernetesNetworkConfig) is left to AWS's defaults.
  - Tags given in O(tags) are applied to the cluster only, not to the resources EKS creates.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Create an EKS cluster with encrypted secrets, audit logging and a restricted public endpoint
  mlinfra.gpu_platform.eks_cluster:
    name: ml-platform-prod-eks
    version: "1.33"
    role_arn: arn:aws:iam::123456789012:role/ml-platform-prod-eks-cluster
    subnets:
      - subnet-0123456789abcdef0
      - subnet-0123456789abcdef1
    security_groups:
      - sg-0123456789abcdef0
    endpoint_private_access: true
    endpoint_public_access: true
    public_access_cidrs:
      - 203.0.113.0/24
    encryption_key_arn: arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    logging: [api, audit, authenticator]
    authentication_mode: API
    tags:
      Name: ml-platform-prod-eks
  register: eks

- name: Upgrade the control plane by one minor version
  mlinfra.gpu_platform.eks_cluster:
    name: ml-platform-prod-eks
    version: "1.34"
    public_access_cidrs:
      - 203.0.113.0/24

- name: Make the API server endpoint private only
  mlinfra.gpu_platform.eks_cluster:
    name: ml-platform-prod-eks
    endpoint_private_access: true
    endpoint_public_access: false

- name: Delete the cluster (its nodegroups and Fargate profiles must be deleted first)
  mlinfra.gpu_platform.eks_cluster:
    name: ml-platform-prod-eks
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as DescribeCluster reports it, in snake_case, with its tags as a dictionary.
    - Empty when O(state=absent).
    - In check mode, the predicted cluster; a cluster that would be created has no
      RV(cluster.arn), RV(cluster.endpoint) and so on yet.
  returned: always
  type: dict
  contains:
    name:
      description: The name of the cluster.
      returned: when the cluster exists
      type: str
      sample: ml-platform-prod-eks
    arn:
      description: The ARN of the cluster.
      returned: when the cluster exists
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:cluster/ml-platform-prod-eks
    status:
      description: The status of the cluster.
      returned: when the cluster exists
      type: str
      sample: ACTIVE
    version:
      description: The Kubernetes version.
      returned: when the cluster exists
      type: str
      sample: "1.33"
    platform_version:
      description: The EKS platform version.
      returned: when the cluster exists
      type: str
      sample: eks.5
    endpoint:
      description: The URL of the Kubernetes API server.
      returned: when the cluster exists
      type: str
      sample: https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com
    certificate_authority:
      description: The cluster's certificate authority.
      returned: when the cluster exists
      type: dict
      contains:
        data:
          description: The base64 encoded certificate (for a kubeconfig).
          returned: when the cluster exists
          type: str
          sample: LS0tLS1CRUdJTi...
    identity:
      description: The cluster's identity provider information.
      returned: when the cluster exists
      type: dict
      contains:
        oidc:
          description: The OpenID Connect identity provider.
          returned: when the cluster exists
          type: dict
          contains:
            issuer:
              description: The issuer URL (for IAM roles for service accounts).
              returned: when the cluster exists
              type: str
              sample: https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789
    role_arn:
      description: The ARN of the IAM role of the control plane.
      returned: when the cluster exists
      type: str
      sample: arn:aws:iam::123456789012:role/ml-platform-prod-eks-cluster
    resources_vpc_config:
      description: The network settings of the control plane.
      returned: when the cluster exists
      type: dict
      contains:
        subnet_ids:
          description: The subnets.
          returned: always
          type: list
          elements: str
          sample: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
        security_group_ids:
          description: The additional security groups.
          returned: always
          type: list
          elements: str
          sample: ["sg-0123456789abcdef0"]
        cluster_security_group_id:
          description: The security group EKS created for the cluster.
          returned: when AWS reports it
          type: str
          sample: sg-0fedcba9876543210
        vpc_id:
          description: The VPC of the cluster.
          returned: when AWS reports it
          type: str
          sample: vpc-0123456789abcdef0
        endpoint_public_access:
          description: Whether the public endpoint is enabled.
          returned: always
          type: bool
          sample: true
        endpoint_private_access:
          description: Whether the private endpoint is enabled.
          returned: always
          type: bool
          sample: true
        public_access_cidrs:
          description: The CIDR blocks allowed to reach the public endpoint.
          returned: always
          type: list
          elements: str
          sample: ["203.0.113.0/24"]
    logging:
      description: The control plane logging configuration.
      returned: when the cluster exists
      type: dict
      sample: {"cluster_logging": [{"types": ["api", "audit"], "enabled": true},
               {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": false}]}
    encryption_config:
      description: The envelope encryption configuration.
      returned: when the cluster exists
      type: list
      elements: dict
      sample: [{"resources": ["secrets"], "provider": {"key_arn": "arn:aws:kms:us-west-2:123456789012:key/1234abcd"}}]
    access_config:
      description: The access configuration.
      returned: when AWS reports it or O(authentication_mode) is set
      type: dict
      sample: {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": true}
    kubernetes_network_config:
      description: The Kubernetes network configuration.
      returned: when the cluster exists
      type: dict
      sample: {"service_ipv4_cidr": "172.20.0.0/16", "ip_family": "ipv4"}
    created_at:
      description: When the cluster was created (ISO 8601).
      returned: when the cluster exists
      type: str
      sample: "2026-01-01T12:00:00+00:00"
    tags:
      description: The tags of the cluster.
      returned: when the cluster exists or would be created
      type: dict
      sample: {"Name": "ml-platform-prod-eks"}
updates:
  description:
    - The IDs of the updates started by this run (C(UpdateClusterConfig),
      C(UpdateClusterVersion), C(AssociateEncryptionConfig)), in the order they were started.
    - Empty in check mode and when nothing was updated.
    - Also returned when the module fails after it started updates.
  returned: always
  type: list
  elements: str
  sample: ["a1b2c3d4-1111-2222-3333-444455556666"]
"""

import copy
import ipaddress
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

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.eks import NOT_FOUND
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.eks import describe_cluster
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.eks import parse_version

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# AWS moves the authentication mode only left to right.
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
DEFAULT_AUTHENTICATION_MODE = "CONFIG_MAP"
DEFAULT_PUBLIC_ACCESS_CIDRS = ["0.0.0.0/0"]

# Keys shown in --diff output, in this order.
DIFF_KEYS = (
    "name",
    "version",
    "role_arn",
    "subnets",
    "security_groups",
    "endpoint_private_access",
    "endpoint_public_access",
    "public_access_cidrs",
    "encryption_key_arn",
    "logging",
    "authentication_mode",
    "tags",
)

# Seconds between two DescribeCluster calls of the botocore waiters / two DescribeUpdate calls.
WAITER_DELAY = 30
UPDATE_POLL_DELAY = 10


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def enabled_log_types(logging_config: Optional[Dict[str, Any]]) -> List[str]:
    """The enabled log types of a cluster's logging configuration, in AWS's order."""
    enabled = set()
    for entry in (logging_config or {}).get("clusterLogging") or []:
        types = set(entry.get("types") or [])
        if entry.get("enabled"):
            enabled |= types
        else:
            enabled -= types
    return [t for t in LOG_TYPES if t in enabled]


def logging_config(enabled: List[str], disabled: List[str]) -> Dict[str, Any]:
    """A logging request/description: one entry for the enabled types, one for the disabled ones."""
    entries = []
    if enabled:
        entries.append({"types": [t for t in LOG_TYPES if t in enabled], "enabled": True})
    if disabled:
        entries.append({"types": [t for t in LOG_TYPES if t in disabled], "enabled": False})
    return {"clusterLogging": entries}


def secrets_key_arn(cluster: Dict[str, Any]) -> Optional[str]:
    """The KMS key ARN that encrypts the cluster's secrets, None when they are not encrypted."""
    for entry in cluster.get("encryptionConfig") or []:
        if "secrets" in (entry.get("resources") or []):
            key = (entry.get("provider") or {}).get("keyArn")
            if key:
                return key
    return None


def settings_of(cluster: Dict[str, Any]) -> Dict[str, Any]:
    """The comparable settings of a DescribeCluster result (AWS's defaults where a field is missing)."""
    vpc = cluster.get("resourcesVpcConfig") or {}
    return {
        "name": cluster.get("name"),
        "version": cluster.get("version"),
        "role_arn": cluster.get("roleArn"),
        "subnets": sorted(vpc.get("subnetIds") or []),
        "security_groups": sorted(vpc.get("securityGroupIds") or []),
        "endpoint_private_access": bool(vpc.get("endpointPrivateAccess", False)),
        "endpoint_public_access": bool(vpc.get("endpointPublicAccess", True)),
        "public_access_cidrs": sorted(set(vpc.get("publicAccessCidrs") or DEFAULT_PUBLIC_ACCESS_CIDRS)),
        "encryption_key_arn": secrets_key_arn(cluster),
        "logging": enabled_log_types(cluster.get("logging")),
        "authentication_mode": (cluster.get("accessConfig") or {}).get("authenticationMode"),
        "tags": dict(cluster.get("tags") or {}),
    }


def wanted_settings(module) -> Dict[str, Any]:
    """The settings the options ask for; unset options are left out (not managed)."""
    p = module.params
    want: Dict[str, Any] = {
        "endpoint_private_access": p["endpoint_private_access"],
        "endpoint_public_access": p["endpoint_public_access"],
    }
    if p["endpoint_public_access"]:
        want["public_access_cidrs"] = sorted(set(p["public_access_cidrs"]))
    if p["version"]:
        want["version"] = p["version"].strip()
    if p["role_arn"]:
        want["role_arn"] = p["role_arn"]
    if p["subnets"] is not None:
        want["subnets"] = sorted(set(p["subnets"]))
    if p["security_groups"] is not None:
        want["security_groups"] = sorted(set(p["security_groups"]))
    if p["encryption_key_arn"]:
        want["encryption_key_arn"] = p["encryption_key_arn"]
    if p["logging"] is not None:
        want["logging"] = [t for t in LOG_TYPES if t in p["logging"]]
    if p["authentication_mode"]:
        want["authentication_mode"] = p["authentication_mode"]
    return want


def diff_view(settings: Dict[str, Any]) -> Dict[str, Any]:
    return {k: settings[k] for k in DIFF_KEYS if settings.get(k) is not None}


def format_cluster(cluster: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """snake_case a DescribeCluster result; tag keys kept as they are, datetimes as strings."""
    if not cluster:
        return {}
    return camel_dict_to_snake_dict(normalize_boto3_result(cluster), ignore_list=["tags"])


def apply_settings(cluster: Dict[str, Any], settings: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a (camelCase) cluster with the given comparable settings applied (check mode)."""
    result = copy.deepcopy(cluster)
    vpc = result.setdefault("resourcesVpcConfig", {})
    if "version" in settings:
        result["version"] = settings["version"]
    if "role_arn" in settings:
        result["roleArn"] = settings["role_arn"]
    if "subnets" in settings:
        vpc["subnetIds"] = list(settings["subnets"])
    if "security_groups" in settings:
        vpc["securityGroupIds"] = list(settings["security_groups"])
    for key, aws_key in (
        ("endpoint_private_access", "endpointPrivateAccess"),
        ("endpoint_public_access", "endpointPublicAccess"),
        ("public_access_cidrs", "publicAccessCidrs"),
    ):
        if key in settings:
            vpc[aws_key] = copy.copy(settings[key])
    if settings.get("encryption_key_arn"):
        result["encryptionConfig"] = [
            {"resources": ["secrets"], "provider": {"keyArn": settings["encryption_key_arn"]}}
        ]
    if "logging" in settings:
        enabled = settings["logging"]
        result["logging"] = logging_config(enabled, [t for t in LOG_TYPES if t not in enabled])
    if settings.get("authentication_mode"):
        result.setdefault("accessConfig", {})["authenticationMode"] = settings["authentication_mode"]
    if "tags" in settings:
        result["tags"] = dict(settings["tags"])
    return result


# ---------------------------------------------------------------------------
# API wrappers
# ---------------------------------------------------------------------------


def list_all(client, module, method: str, key: str, name: str) -> List[str]:
    """All names of a paginated ListNodegroups / ListFargateProfiles."""
    params: Dict[str, Any] = {"clusterName": name}
    items: List[str] = []
    try:
        while True:
            response = getattr(client, method)(aws_retry=True, **params)
            items.extend(response.get(key) or [])
            token = response.get("nextToken")
            if not token:
                break
            params["nextToken"] = token
    except is_boto3_error_code(NOT_FOUND):
        return []
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to list the {key} of EKS cluster {name}")
    return sorted(items)


def wait_for_cluster(client, module, name: str, waiter_name: str, **extra_fail) -> None:
    """botocore's cluster_active / cluster_deleted waiter, bounded by wait_timeout."""
    timeout = module.params["wait_timeout"]
    delay = min(WAITER_DELAY, max(1, timeout))
    attempts = max(1, -(-timeout // delay))
    try:
        client.get_waiter(waiter_name).wait(name=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
    except botocore.exceptions.WaiterError as e:
        goal = "be ACTIVE" if waiter_name == "cluster_active" else "be deleted"
        module.fail_json_aws(e, msg=f"Failed waiting (up to {timeout}s) for EKS cluster {name} to {goal}", **extra_fail)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed waiting for EKS cluster {name}", **extra_fail)


def wait_for_update(client, module, name: str, update_id: str, update_type: str, started: List[str]) -> None:
    """Poll DescribeUpdate until the update leaves InProgress; fail on Failed/Cancelled or timeout."""
    timeout = module.params["wait_timeout"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            update = client.describe_update(aws_retry=True, name=name, updateId=update_id)["update"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(
                e, msg=f"Failed to describe {update_type} {update_id} of EKS cluster {name}", updates=started
            )
        status = update.get("status")
        if status == "Successful":
            return
        if status in ("Failed", "Cancelled"):
            errors = "; ".join(
                f"{err.get('errorCode', 'Unknown')}: {err.get('errorMessage', 'no message')}"
                for err in update.get("errors") or []
            )
            module.fail_json(
                msg=f"{update_type} {update_id} of EKS cluster {name} ended {status}"
                + (f": {errors}" if errors else ""),
                update=camel_dict_to_snake_dict(normalize_boto3_result(update)),
                updates=started,
            )
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"Timed out after {timeout}s waiting for {update_type} {update_id} of EKS cluster {name}"
                f" (status {status})",
                updates=started,
            )
        time.sleep(UPDATE_POLL_DELAY)


# ---------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------


def create_params(module, want: Dict[str, Any], tags: Dict[str, str]) -> Dict[str, Any]:
    p = module.params
    vpc: Dict[str, Any] = {
        "subnetIds": list(p["subnets"]),
        "endpointPublicAccess": want["endpoint_public_access"],
        "endpointPrivateAccess": want["endpoint_private_access"],
    }
    if p["security_groups"]:
        vpc["securityGroupIds"] = list(p["security_groups"])
    if want["endpoint_public_access"]:
        vpc["publicAccessCidrs"] = list(want["public_access_cidrs"])
    params: Dict[str, Any] = {
        "name": p["name"],
        "roleArn": p["role_arn"],
        "resourcesVpcConfig": vpc,
        "clientRequestToken": str(uuid.uuid4()),
    }
    if want.get("version"):
        params["version"] = want["version"]
    if want.get("encryption_key_arn"):
        params["encryptionConfig"] = [{"resources": ["secrets"], "provider": {"keyArn": want["encryption_key_arn"]}}]
    if "logging" in want:
        enabled = want["logging"]
        params["logging"] = logging_config(enabled, [t for t in LOG_TYPES if t not in enabled])
    if tags:
        params["tags"] = dict(tags)
    if want.get("authentication_mode"):
        params["accessConfig"] = {"authenticationMode": want["authentication_mode"]}
    return params


def ensure_created(client, module, want: Dict[str, Any]) -> Dict[str, Any]:
    p = module.params
    missing = [opt for opt in ("role_arn", "subnets") if not p[opt]]
    if missing:
        module.fail_json(msg=f"EKS cluster {p['name']} does not exist; {' and '.join(missing)} required to create it")
    tags = dict(p["tags"] or {})
    params = create_params(module, want, tags)
    predicted = apply_settings(
        {"name": p["name"], "status": "CREATING", "encryptionConfig": [], "tags": {}},
        dict(want, subnets=list(p["subnets"]), security_groups=list(p["security_groups"] or []), tags=tags),
    )
    if "public_access_cidrs" not in want:
        predicted["resourcesVpcConfig"]["publicAccessCidrs"] = list(DEFAULT_PUBLIC_ACCESS_CIDRS)
    if "logging" not in want:
        predicted["logging"] = logging_config([], list(LOG_TYPES))
    cluster = predicted
    if not module.check_mode:
        try:
            cluster = client.create_cluster(aws_retry=True, **params)["cluster"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to create EKS cluster {p['name']}", updates=[])
        if p["wait"]:
            wait_for_cluster(client, module, p["name"], "cluster_active", updates=[])
            cluster = describe_cluster(client, module, p["name"]) or cluster
    return {
        "changed": True,
        "cluster": format_cluster(cluster),
        "updates": [],
        "diff": {"before": {}, "after": diff_view(settings_of(cluster))},
    }


def plan_updates(module, name: str, have: Dict[str, Any], want: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The updates that bring `have` to `want`, in the order they are run.

    Fails (before anything is changed) on what AWS cannot do in place.
    """
    refusals = []
    if "role_arn" in want and want["role_arn"] != have["role_arn"]:
        refusals.append(
            f"role_arn cannot be changed on an existing cluster (it is {have['role_arn']},"
            f" {want['role_arn']} was asked)"
        )
    version_step = None
    if "version" in want and want["version"] != have["version"]:
        current, wanted = parse_version(have["version"]), parse_version(want["version"])
        if current is None:
            refusals.append(f"cannot compare the cluster's version {have['version']!r} with {want['version']!r}")
        elif wanted < current:
            refusals.append(
                f"Kubernetes version {want['version']} is older than the cluster's {have['version']}:"
                " EKS cannot downgrade a cluster"
            )
        elif wanted[0] != current[0] or wanted[1] > current[1] + 1:
            refusals.append(
                f"Kubernetes version {want['version']} is more than one minor version above the cluster's"
                f" {have['version']}: EKS upgrades one minor version at a time, upgrade to"
                f" {current[0]}.{current[1] + 1} first"
            )
        elif wanted != current:
            version_step = want["version"]
    associate_key = None
    if "encryption_key_arn" in want and want["encryption_key_arn"] != have["encryption_key_arn"]:
        if have["encryption_key_arn"]:
            refusals.append(
                f"the cluster's secrets are encrypted with {have['encryption_key_arn']}; EKS cannot change or"
                f" remove the encryption key, so encryption_key_arn={want['encryption_key_arn']} cannot be applied"
            )
        else:
            associate_key = want["encryption_key_arn"]
    auth_mode = None
    if "authentication_mode" in want:
        current_mode = have["authentication_mode"] or DEFAULT_AUTHENTICATION_MODE
        if want["authentication_mode"] != current_mode:
            if AUTHENTICATION_MODES.index(want["authentication_mode"]) < AUTHENTICATION_MODES.index(current_mode):
                refusals.append(
                    f"authentication_mode cannot go back from {current_mode} to {want['authentication_mode']}"
                    " (EKS only moves CONFIG_MAP -> API_AND_CONFIG_MAP -> API)"
                )
            else:
                auth_mode = want["authentication_mode"]
    if refusals:
        module.fail_json(msg=f"Cannot update EKS cluster {name}: " + "; ".join(refusals), updates=[])

    updates: List[Dict[str, Any]] = []
    if "logging" in want and want["logging"] != have["logging"]:
        enable = [t for t in want["logging"] if t not in have["logging"]]
        disable = [t for t in have["logging"] if t not in want["logging"]]
        updates.append(
            {
                "type": "LoggingUpdate",
                "method": "update_cluster_config",
                "params": {"name": name, "logging": logging_config(enable, disable)},
            }
        )
    endpoint_keys = ("endpoint_private_access", "endpoint_public_access", "public_access_cidrs")
    if any(k in want and want[k] != have[k] for k in endpoint_keys):
        vpc = {
            "endpointPublicAccess": want["endpoint_public_access"],
            "endpointPrivateAccess": want["endpoint_private_access"],
        }
        if "public_access_cidrs" in want:
            vpc["publicAccessCidrs"] = list(want["public_access_cidrs"])
        updates.append(
            {
                "type": "EndpointAccessUpdate",
                "method": "update_cluster_config",
                "params": {"name": name, "resourcesVpcConfig": vpc},
            }
        )
    if any(k in want and want[k] != have[k] for k in ("subnets", "security_groups")):
        vpc = {
            "subnetIds": list(want.get("subnets", have["subnets"])),
            "securityGroupIds": list(want.get("security_groups", have["security_groups"])),
        }
        updates.append(
            {
                "type": "VpcConfigUpdate",
                "method": "update_cluster_config",
                "params": {"name": name, "resourcesVpcConfig": vpc},
            }
        )
    if auth_mode:
        updates.append(
            {
                "type": "AccessConfigUpdate",
                "method": "update_cluster_config",
                "params": {"name": name, "accessConfig": {"authenticationMode": auth_mode}},
            }
        )
    if associate_key:
        updates.append(
            {
                "type": "AssociateEncryptionConfig",
                "method": "associate_encryption_config",
                "params": {
                    "clusterName": name,
                    "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": associate_key}}],
                },
            }
        )
    if version_step:
        updates.append(
            {
                "type": "VersionUpdate",
                "method": "update_cluster_version",
                "params": {"name": name, "version": version_step},
            }
        )
    return updates


def ensure_tags(client, module, cluster: Dict[str, Any], to_set: Dict[str, str], to_unset: List[str]) -> None:
    arn = cluster["arn"]
    try:
        if to_unset:
            client.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=to_unset)
        if to_set:
            client.tag_resource(aws_retry=True, resourceArn=arn, tags=to_set)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to update the tags of EKS cluster {cluster['name']}", updates=[])


def run_updates(client, module, cluster: Dict[str, Any], updates: List[Dict[str, Any]]) -> List[str]:
    """Start the updates one after the other, waiting for each before the next; returns their IDs."""
    name = cluster["name"]
    wait = module.params["wait"]
    started: List[str] = []
    if cluster.get("status") != "ACTIVE":
        # ensure_present refused this with wait=false before changing anything
        wait_for_cluster(client, module, name, "cluster_active", updates=started)
    for index, update in enumerate(updates):
        if index:
            # AWS refuses a new update while the cluster is still busy with the previous one.
            wait_for_cluster(client, module, name, "cluster_active", updates=started)
        try:
            response = getattr(client, update["method"])(
                aws_retry=True, clientRequestToken=str(uuid.uuid4()), **update["params"]
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to start {update['type']} of EKS cluster {name}", updates=started)
        update_id = (response.get("update") or {}).get("id")
        if not update_id:
            module.fail_json(msg=f"{update['type']} of EKS cluster {name} returned no update ID", updates=started)
        started.append(update_id)
        last = index == len(updates) - 1
        if wait or not last:
            wait_for_update(client, module, name, update_id, update["type"], started)
    if updates and wait:
        wait_for_cluster(client, module, name, "cluster_active", updates=started)
    return started


def ensure_present(client, module) -> Dict[str, Any]:
    p = module.params
    name = p["name"]
    want = wanted_settings(module)
    cluster = describe_cluster(client, module, name)
    if cluster is None:
        return ensure_created(client, module, want)

    status = cluster.get("status")
    if status in ("DELETING", "FAILED"):
        module.fail_json(msg=f"EKS cluster {name} is {status}; it cannot be managed until it is deleted", updates=[])

    have = settings_of(cluster)
    updates = plan_updates(module, name, have, want)

    to_set: Dict[str, str] = {}
    to_unset: List[str] = []
    new_tags = have["tags"]
    if p["tags"] is not None:
        to_set, to_unset = compare_aws_tags(have["tags"], p["tags"], p["purge_tags"])
        new_tags = {k: v for k, v in have["tags"].items() if k not in to_unset}
        new_tags.update(to_set)

    if updates and status != "ACTIVE" and not p["wait"]:
        module.fail_json(
            msg=f"EKS cluster {name} is {status}, not ACTIVE, and cannot be updated now"
            f" ({', '.join(u['type'] for u in updates)} needed). Run again when it is ACTIVE, or with wait=true.",
            updates=[],
        )

    changed = bool(updates or to_set or to_unset)
    after_settings = dict(have, **want)
    after_settings["tags"] = new_tags
    if (
        "authentication_mode" in want
        and have["authentication_mode"] is None
        and not any(u["type"] == "AccessConfigUpdate" for u in updates)
    ):
        after_settings["authentication_mode"] = None  # the default, as AWS does not report it
    started: List[str] = []
    if module.check_mode:
        result_cluster = apply_settings(cluster, {k: v for k, v in after_settings.items() if k in want or k == "tags"})
    else:
        if to_set or to_unset:
            ensure_tags(client, module, cluster, to_set, to_unset)
        if updates:
            started = run_updates(client, module, cluster, updates)
        elif p["wait"] and status != "ACTIVE":
            wait_for_cluster(client, module, name, "cluster_active", updates=started)
        result_cluster = cluster
        if changed or (p["wait"] and status != "ACTIVE"):
            result_cluster = describe_cluster(client, module, name) or cluster
    return {
        "changed": changed,
        "cluster": format_cluster(result_cluster),
        "updates": started,
        "diff": {"before": diff_view(have), "after": diff_view(after_settings)},
    }


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def ensure_absent(client, module) -> Dict[str, Any]:
    p = module.params
    name = p["name"]
    cluster = describe_cluster(client, module, name)
    if cluster is None:
        return {"changed": False, "cluster": {}, "updates": [], "diff": {"before": {}, "after": {}}}
    before = diff_view(settings_of(cluster))
    status = cluster.get("status")
    if status == "DELETING":
        # Already being deleted (by someone else): nothing to change, maybe something to wait for.
        if p["wait"] and not module.check_mode:
            wait_for_cluster(client, module, name, "cluster_deleted", updates=[])
        return {"changed": False, "cluster": {}, "updates": [], "diff": {"before": before, "after": {}}}

    nodegroups = list_all(client, module, "list_nodegroups", "nodegroups", name)
    fargate_profiles = list_all(client, module, "list_fargate_profiles", "fargateProfileNames", name)
    if nodegroups or fargate_profiles:
        blockers = []
        if nodegroups:
            blockers.append(f"nodegroups {', '.join(nodegroups)}")
        if fargate_profiles:
            blockers.append(f"Fargate profiles {', '.join(fargate_profiles)}")
        module.fail_json(
            msg=f"Cannot delete EKS cluster {name}: it still has {' and '.join(blockers)}. Delete them first.",
            nodegroups=nodegroups,
            fargate_profiles=fargate_profiles,
            updates=[],
        )

    if not module.check_mode:
        if status in ("CREATING", "UPDATING") and p["wait"]:
            wait_for_cluster(client, module, name, "cluster_active", updates=[])
        try:
            client.delete_cluster(aws_retry=True, name=name)
        except is_boto3_error_code(NOT_FOUND):
            pass
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Failed to delete EKS cluster {name}", updates=[])
        if p["wait"]:
            wait_for_cluster(client, module, name, "cluster_deleted", updates=[])
    return {"changed": True, "cluster": {}, "updates": [], "diff": {"before": before, "after": {}}}


def validate_params(module) -> None:
    p = module.params
    if p["wait_timeout"] <= 0:
        module.fail_json(msg="wait_timeout must be a positive number of seconds")
    if p["state"] != "present":
        return
    if p["version"] is not None:
        parsed = parse_version(p["version"])
        if parsed is None:
            module.fail_json(
                msg=f"version must be a Kubernetes major.minor version such as \"1.33\", got {p['version']!r}"
            )
        if parsed[0] == 1 and parsed[1] < 10:
            module.fail_json(
                msg=f"version {p['version']!r} is not an EKS version; if you meant 1.{parsed[1]}0, quote it in YAML"
                f" (an unquoted 1.{parsed[1]}0 is the number {p['version']})"
            )
    if not (p["endpoint_private_access"] or p["endpoint_public_access"]):
        module.fail_json(msg="at least one of endpoint_private_access and endpoint_public_access must be true")
    if p["endpoint_public_access"]:
        if not p["public_access_cidrs"]:
            module.fail_json(msg="public_access_cidrs must not be empty when endpoint_public_access=true")
        for cidr in p["public_access_cidrs"]:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as e:
                module.fail_json(msg=f"public_access_cidrs: {cidr!r} is not a valid CIDR block: {e}")
            if network.version != 4:
                module.fail_json(msg=f"public_access_cidrs: {cidr!r} is not an IPv4 CIDR block")
    if p["subnets"] is not None and not p["subnets"]:
        module.fail_json(msg="subnets must not be empty")


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        version=dict(type="str"),
        role_arn=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        security_groups=dict(type="list", elements="str"),
        endpoint_private_access=dict(type="bool", default=True),
        endpoint_public_access=dict(type="bool", default=True),
        public_access_cidrs=dict(type="list", elements="str", default=list(DEFAULT_PUBLIC_ACCESS_CIDRS)),
        encryption_key_arn=dict(type="str", no_log=False),
        logging=dict(type="list", elements="str", choices=list(LOG_TYPES)),
        authentication_mode=dict(type="str", choices=["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
    )

    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate_params(module)

    try:
        client = module.client("eks", retry_decorator=AWSRetry.jittered_backoff(retries=10))
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
