#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_nodegroup
version_added: 0.1.0
short_description: Manage an Amazon EKS managed node group
description:
  - Create, update and delete an Amazon EKS managed node group. Unlike C(community.aws.eks_nodegroup)
    it accepts every AMI type EKS offers today (V(AL2023_x86_64_NVIDIA), V(AL2023_x86_64_STANDARD),
    V(BOTTLEROCKET_x86_64_NVIDIA) ...) and changes labels, taints and sizes in place.
  - On an existing node group every setting that EKS can change in place (C(UpdateNodegroupConfig)) is
    brought to the wanted value - labels, taints, scaling and update configuration. EKS runs one update
    at a time, so the module starts them one after the other (labels, taints, scaling, update
    configuration), waiting with C(DescribeUpdate) for each to finish before it starts the next. Tags
    are changed directly.
  - Settings EKS cannot change on an existing node group - O(node_role), O(subnets),
    O(instance_types), O(capacity_type), O(ami_type), O(disk_size), O(remote_access) and the launch
    template of O(launch_template) - are refused with an error naming them before anything is changed.
    The module never replaces a node group.
  - A different O(version), O(release_version) or O(launch_template.version) is refused too - EKS applies
    them with C(UpdateNodegroupVersion), a rolling replacement of every node, which this module does not
    start.
  - This module supports check mode and diff mode.
author:
  - mlinfra platform team
options:
  cluster_name:
    description:
      - The name of the EKS cluster of the node group.
    type: str
    required: true
  name:
    description:
      - The name of the node group.
    type: str
    required: true
  state:
    description:
      - Whether the node group should exist.
      - With O(state=absent) the node group is deleted; a node group (or cluster) that does not exist is
        not an error.
    type: str
    choices: ['present', 'absent']
    default: present
  node_role:
    description:
      - The ARN of the IAM role of the nodes.
      - Required to create a node group. It cannot be changed on an existing node group.
    type: str
  subnets:
    description:
      - The IDs of the subnets the nodes run in.
      - Required to create a node group. They cannot be changed on an existing node group. The order does
        not matter.
    type: list
    elements: str
  instance_types:
    description:
      - The EC2 instance types of the nodes (several types are useful for V(SPOT) capacity).
      - Required, and must not be empty, unless O(launch_template) is set (the launch template may then
        name the instance type).
      - They cannot be changed on an existing node group. Compared without regard to order.
    type: list
    elements: str
  capacity_type:
    description:
      - The capacity type of the nodes.
      - When not set, AWS uses V(ON_DEMAND) for a new node group and the setting is not compared on an
        existing one. It cannot be changed on an existing node group.
    type: str
    choices: ['ON_DEMAND', 'SPOT']
  ami_type:
    description:
      - The AMI type of the nodes, one of the C(AMITypes) of the EKS API. botocore 1.44.5 knows
        V(AL2_x86_64), V(AL2_x86_64_GPU), V(AL2_ARM_64), V(CUSTOM), V(BOTTLEROCKET_ARM_64),
        V(BOTTLEROCKET_x86_64), V(BOTTLEROCKET_ARM_64_FIPS), V(BOTTLEROCKET_x86_64_FIPS),
        V(BOTTLEROCKET_ARM_64_NVIDIA), V(BOTTLEROCKET_x86_64_NVIDIA), V(BOTTLEROCKET_ARM_64_NVIDIA_FIPS),
        V(BOTTLEROCKET_x86_64_NVIDIA_FIPS), V(WINDOWS_CORE_2019_x86_64), V(WINDOWS_FULL_2019_x86_64),
        V(WINDOWS_CORE_2022_x86_64), V(WINDOWS_FULL_2022_x86_64), V(WINDOWS_CORE_2025_x86_64),
        V(WINDOWS_FULL_2025_x86_64), V(AL2023_x86_64_STANDARD), V(AL2023_ARM_64_STANDARD),
        V(AL2023_x86_64_NEURON), V(AL2023_x86_64_NVIDIA) and V(AL2023_ARM_64_NVIDIA).
      - The types a newer botocore on the managed host knows are accepted too (the list is read from its
        EKS service model at run time).
      - When not set, AWS chooses for a new node group and the setting is not compared on an existing
        one. It cannot be changed on an existing node group.
    type: str
  disk_size:
    description:
      - The root volume size of the nodes, in GiB.
      - Not with O(launch_template) (set the volume in the launch template). It cannot be changed on an
        existing node group.
    type: int
  version:
    description:
      - The Kubernetes version (C(major.minor)) of the nodes, for example V("1.33"). Quote it in YAML.
      - When creating a node group without it, AWS uses the cluster's version.
      - A different version on an existing node group is refused (it needs C(UpdateNodegroupVersion),
        which this module does not run).
    type: str
  release_version:
    description:
      - The AMI release version of the nodes, for example V(1.33.0-20250704).
      - When creating a node group without it, AWS uses the latest release for O(version).
      - A different release version on an existing node group is refused (it needs
        C(UpdateNodegroupVersion), which this module does not run).
    type: str
  scaling_config:
    description:
      - The sizes of the node group's Auto Scaling group.
      - Must satisfy O(scaling_config.min_size) <= O(scaling_config.desired_size) <=
        O(scaling_config.max_size); checked before any AWS call.
      - When not set, AWS's defaults are used for a new node group and the sizes are not managed.
    type: dict
    suboptions:
      min_size:
        description: The minimum number of nodes (0 or more).
        type: int
        required: true
      max_size:
        description: The maximum number of nodes (1 or more).
        type: int
        required: true
      desired_size:
        description:
          - The number of nodes wanted now.
          - When not set, a new node group starts with O(scaling_config.min_size) nodes and the desired
            size of an existing one is not managed.
          - See O(ignore_desired_size_changes).
        type: int
  ignore_desired_size_changes:
    description:
      - Never change the desired size of an existing node group, only its minimum and maximum sizes.
      - AWS recommends not to fight the Kubernetes Cluster Autoscaler (or Karpenter), which changes the
        desired size as pods come and go; with V(true) the module leaves it to them.
      - O(scaling_config.desired_size) is still used to create a node group.
      - When the desired size is not managed and the node group's current desired size is outside the new
        O(scaling_config.min_size) .. O(scaling_config.max_size), the module fails before changing anything.
    type: bool
    default: false
  update_config:
    description:
      - How many nodes may be unavailable while the node group's nodes are replaced by an update.
      - When not set, it is not managed (AWS's default is one node).
    type: dict
    suboptions:
      max_unavailable:
        description: The maximum number of unavailable nodes (1 or more).
        type: int
      max_unavailable_percentage:
        description: The maximum percentage of unavailable nodes (1 to 100).
        type: int
  labels:
    description:
      - The Kubernetes labels of the nodes. Labels not listed are removed; V({}) removes all of them.
      - Keys are Kubernetes label keys (an optional DNS subdomain prefix and C(/), then a name), values
        are strings of 1 to 63 characters (quote V("true") in YAML); EKS allows at most 63 characters in
        a key.
      - When not set, the labels are not managed.
    type: dict
  taints:
    description:
      - The Kubernetes taints of the nodes. Taints not listed are removed; V([]) removes all of them.
      - A taint is identified by its O(taints[].key) and O(taints[].effect); at most 50 taints.
      - When not set, the taints are not managed.
    type: list
    elements: dict
    suboptions:
      key:
        description: The taint key (same format as a label key).
        type: str
        required: true
      value:
        description: The taint value (up to 63 characters), may be omitted.
        type: str
      effect:
        description:
          - The taint effect, in EKS's spelling (Kubernetes' C(NoSchedule) is V(NO_SCHEDULE)).
        type: str
        required: true
        choices: ['NO_SCHEDULE', 'NO_EXECUTE', 'PREFER_NO_SCHEDULE']
  launch_template:
    description:
      - The EC2 launch template of the nodes, by O(launch_template.id) or O(launch_template.name).
      - The launch template cannot be changed on an existing node group; a different
        O(launch_template.version) is refused (it needs C(UpdateNodegroupVersion)).
    type: dict
    suboptions:
      id:
        description: The ID of the launch template.
        type: str
      name:
        description: The name of the launch template.
        type: str
      version:
        description:
          - The version of the launch template. When not set, the template's default version is used and
            the version is not compared.
        type: str
  remote_access:
    description:
      - SSH access to the nodes. Not with O(launch_template). It cannot be changed on an existing node
        group.
    type: dict
    suboptions:
      ec2_ssh_key:
        description: The name of the EC2 key pair.
        type: str
        required: true
      source_security_groups:
        description:
          - The security groups allowed to reach port 22 of the nodes. When not set, AWS opens port 22 to
            the internet.
        type: list
        elements: str
  wait:
    description:
      - Wait for the node group to be C(ACTIVE) after a creation or the last update, or to be gone after a
        deletion (botocore EKS waiters C(nodegroup_active) and C(nodegroup_deleted); updates with
        C(DescribeUpdate)).
      - With O(wait=false) the module still waits for each update to finish before it starts the next one,
        because EKS refuses concurrent updates; it does not wait for the last one.
      - With O(wait=false), a node group that is not C(ACTIVE) (for example still C(CREATING)) and needs an
        update makes the module fail instead of waiting.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for each of the waits described in O(wait).
    type: int
    default: 1800
notes:
  - Tags given in O(tags) are applied to the node group only, not to its Auto Scaling group or instances
    (use a launch template's tag specifications for those).
  - A C(DEGRADED) node group is updated as well; the module then waits for each update with
    C(DescribeUpdate) only, as the node group does not become C(ACTIVE).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Create a SPOT GPU node group on Amazon Linux 2023 with the NVIDIA driver
  mlinfra.gpu_platform.eks_nodegroup:
    cluster_name: ml-platform-prod-eks
    name: gpu-spot
    node_role: arn:aws:iam::123456789012:role/ml-platform-prod-eks-node
    subnets:
      - subnet-0123456789abcdef0
      - subnet-0123456789abcdef1
    instance_types: [g5.xlarge, g5.2xlarge, g6.xlarge]
    capacity_type: SPOT
    ami_type: AL2023_x86_64_NVIDIA
    disk_size: 200
    scaling_config:
      min_size: 0
      max_size: 8
      desired_size: 1
    update_config:
      max_unavailable_percentage: 25
    labels:
      nvidia.com/gpu.present: "true"
      workload: training
    taints:
      - key: nvidia.com/gpu
        value: "true"
        effect: NO_SCHEDULE
    tags:
      team: ml
  register: gpu_nodes

- name: Let the cluster autoscaler own the desired size; only the bounds are managed
  mlinfra.gpu_platform.eks_nodegroup:
    cluster_name: ml-platform-prod-eks
    name: gpu-spot
    instance_types: [g5.xlarge, g5.2xlarge, g6.xlarge]
    scaling_config:
      min_size: 0
      max_size: 16
      desired_size: 1
    ignore_desired_size_changes: true

- name: Delete the node group
  mlinfra.gpu_platform.eks_nodegroup:
    cluster_name: ml-platform-prod-eks
    name: gpu-spot
    state: absent
"""

RETURN = r"""
nodegroup:
  description:
    - The node group as DescribeNodegroup reports it, in snake_case; its labels and tags are dictionaries
      (keys as they are), its taints a list.
    - Empty when O(state=absent).
    - In check mode, the predicted node group; a node group that would be created has no
      RV(nodegroup.nodegroup_arn) yet.
  returned: always
  type: dict
  contains:
    nodegroup_name:
      description: The name of the node group.
      returned: when the node group exists
      type: str
      sample: gpu-spot
    nodegroup_arn:
      description: The ARN of the node group.
      returned: when the node group exists
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:nodegroup/ml-platform-prod-eks/gpu-spot/0123abcd-4567
    cluster_name:
      description: The name of the cluster.
      returned: when the node group exists
      type: str
      sample: ml-platform-prod-eks
    status:
      description: The status of the node group.
      returned: when the node group exists
      type: str
      sample: ACTIVE
    version:
      description: The Kubernetes version of the nodes.
      returned: when the node group exists
      type: str
      sample: "1.33"
    release_version:
      description: The AMI release version of the nodes.
      returned: when the node group exists
      type: str
      sample: 1.33.0-20250704
    capacity_type:
      description: The capacity type.
      returned: when the node group exists
      type: str
      sample: SPOT
    ami_type:
      description: The AMI type.
      returned: when the node group exists
      type: str
      sample: AL2023_x86_64_NVIDIA
    instance_types:
      description: The instance types.
      returned: when the node group exists
      type: list
      elements: str
      sample: ["g5.xlarge", "g5.2xlarge"]
    disk_size:
      description: The root volume size in GiB.
      returned: when the node group exists and has no launch template
      type: int
      sample: 200
    subnets:
      description: The subnets of the nodes.
      returned: when the node group exists
      type: list
      elements: str
      sample: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    node_role:
      description: The ARN of the IAM role of the nodes.
      returned: when the node group exists
      type: str
      sample: arn:aws:iam::123456789012:role/ml-platform-prod-eks-node
    scaling_config:
      description: The sizes of the node group.
      returned: when the node group exists
      type: dict
      sample: {"min_size": 0, "max_size": 8, "desired_size": 1}
    update_config:
      description: The update configuration.
      returned: when the node group exists
      type: dict
      sample: {"max_unavailable_percentage": 25}
    labels:
      description: The Kubernetes labels of the nodes.
      returned: when the node group exists
      type: dict
      sample: {"workload": "training"}
    taints:
      description: The Kubernetes taints of the nodes.
      returned: when the node group exists
      type: list
      elements: dict
      sample: [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    launch_template:
      description: The launch template of the nodes.
      returned: when the node group has one
      type: dict
      sample: {"id": "lt-0123456789abcdef0", "name": "gpu-nodes", "version": "3"}
    remote_access:
      description: The SSH access configuration.
      returned: when the node group has one
      type: dict
      sample: {"ec2_ssh_key": "ops", "source_security_groups": ["sg-0123456789abcdef0"]}
    resources:
      description: The Auto Scaling groups (and remote access security group) of the node group.
      returned: when AWS reports them
      type: dict
      sample: {"auto_scaling_groups": [{"name": "eks-gpu-spot-0123abcd"}]}
    health:
      description: The health issues of the node group.
      returned: when the node group exists
      type: dict
      sample: {"issues": []}
    created_at:
      description: When the node group was created (ISO 8601).
      returned: when the node group exists
      type: str
      sample: "2026-01-01T12:00:00+00:00"
    tags:
      description: The tags of the node group.
      returned: when the node group exists or would be created
      type: dict
      sample: {"team": "ml"}
updates:
  description:
    - The IDs of the C(UpdateNodegroupConfig) updates started by this run, in the order they were started.
    - Empty in check mode and when nothing was updated.
    - Also returned when the module fails after it started updates.
  returned: always
  type: list
  elements: str
  sample: ["a1b2c3d4-1111-2222-3333-444455556666"]
"""

import copy
import json
import re
import time
import uuid
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Set
from typing import Tuple

try:
    import botocore
    import botocore.session
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


# The AMITypes enum of botocore 1.44.5's EKS service model. The enum of the botocore installed on
# the managed host is added at run time (ami_types()), so newer AMI types are accepted too.
AMI_TYPES = (
    "AL2_x86_64",
    "AL2_x86_64_GPU",
    "AL2_ARM_64",
    "CUSTOM",
    "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64_FIPS",
    "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
    "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
    "WINDOWS_CORE_2019_x86_64",
    "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64",
    "WINDOWS_FULL_2022_x86_64",
    "WINDOWS_CORE_2025_x86_64",
    "WINDOWS_FULL_2025_x86_64",
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "AL2023_x86_64_NEURON",
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
)
TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
MAX_TAINTS = 50
# EKS API limits (labelKey, labelValue, taintKey, taintValue).
MAX_KEY_LENGTH = 63
MAX_VALUE_LENGTH = 63
# Kubernetes qualified names: [DNS-1123 subdomain "/"] name.
NAME_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
PREFIX_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

# Settings EKS cannot change on an existing node group.
IMMUTABLE_KEYS = (
    "node_role",
    "subnets",
    "instance_types",
    "capacity_type",
    "ami_type",
    "disk_size",
    "remote_access",
)

# Keys shown in --diff output, in this order.
DIFF_KEYS = (
    "cluster_name",
    "name",
    "node_role",
    "subnets",
    "instance_types",
    "capacity_type",
    "ami_type",
    "disk_size",
    "version",
    "release_version",
    "launch_template",
    "remote_access",
    "scaling_config",
    "update_config",
    "labels",
    "taints",
    "tags",
)

# Seconds between two DescribeNodegroup calls of the botocore waiters / two DescribeUpdate calls.
WAITER_DELAY = 30
UPDATE_POLL_DELAY = 10


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def ami_types() -> Set[str]:
    """AMI_TYPES plus the AMITypes enum of the installed botocore's EKS model."""
    known = set(AMI_TYPES)
    try:
        model = botocore.session.get_session().get_service_model("eks")
        known.update(model.shape_for("AMITypes").enum or [])
    except Exception:  # pylint: disable=broad-except
        pass  # an old or unusual botocore: the hard-coded list still applies
    return known


def qualified_name_problem(key: str) -> Optional[str]:
    """Why `key` is not a Kubernetes label/taint key that EKS accepts, None if it is one."""
    if not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix or not PREFIX_RE.fullmatch(prefix):
            return f"its prefix {prefix!r} is not a lower case DNS subdomain"
    if not NAME_RE.fullmatch(name):
        return f"its name {name!r} must be letters, digits, '-', '_' or '.', and begin and end with a letter or digit"
    return None


def value_problem(value: str, allow_empty: bool) -> Optional[str]:
    """Why `value` is not a label/taint value that EKS accepts, None if it is one."""
    if value == "":
        return None if allow_empty else "it is empty"
    if len(value) > MAX_VALUE_LENGTH:
        return f"it is longer than {MAX_VALUE_LENGTH} characters"
    if not NAME_RE.fullmatch(value):
        return "it must be letters, digits, '-', '_' or '.', and begin and end with a letter or digit"
    return None


def taint_view(taint: Dict[str, Any]) -> Dict[str, str]:
    """A taint as compared and shown: key, value ("" when it has none) and effect."""
    return {"key": taint.get("key") or "", "value": taint.get("value") or "", "effect": taint.get("effect") or ""}


def taint_identity(taint: Dict[str, str]) -> Tuple[str, str]:
    """EKS (like Kubernetes) identifies a taint by its key and effect."""
    return taint["key"], taint["effect"]


def normalize_taints(taints: Optional[List[Dict[str, Any]]]) -> List[Dict[str, str]]:
    return sorted((taint_view(t) for t in taints or []), key=lambda t: (t["key"], t["effect"], t["value"]))


def aws_taint(taint: Dict[str, str]) -> Dict[str, str]:
    """A taint as sent to AWS: no value when it has none."""
    result = {"key": taint["key"], "effect": taint["effect"]}
    if taint["value"]:
        result["value"] = taint["value"]
    return result


def update_config_view(update_config: Optional[Dict[str, Any]]) -> Optional[Dict[str, int]]:
    view = {}
    for aws_key, key in (
        ("maxUnavailable", "max_unavailable"),
        ("maxUnavailablePercentage", "max_unavailable_percentage"),
    ):
        if (update_config or {}).get(aws_key) is not None:
            view[key] = update_config[aws_key]
    return view or None


def aws_update_config(view: Dict[str, int]) -> Dict[str, int]:
    if view.get("max_unavailable") is not None:
        return {"maxUnavailable": view["max_unavailable"]}
    return {"maxUnavailablePercentage": view["max_unavailable_percentage"]}


def launch_template_view(launch_template: Optional[Dict[str, Any]]) -> Optional[Dict[str, str]]:
    if not launch_template:
        return None
    return {k: str(launch_template[k]) for k in ("id", "name", "version") if launch_template.get(k) is not None}


def remote_access_view(remote_access: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not remote_access:
        return None
    return {
        "ec2_ssh_key": remote_access.get("ec2SshKey"),
        "source_security_groups": sorted(remote_access.get("sourceSecurityGroups") or []),
    }


def settings_of(nodegroup: Dict[str, Any]) -> Dict[str, Any]:
    """The comparable settings of a DescribeNodegroup result."""
    scaling = nodegroup.get("scalingConfig") or {}
    disk_size = nodegroup.get("diskSize")
    return {
        "cluster_name": nodegroup.get("clusterName"),
        "name": nodegroup.get("nodegroupName"),
        "node_role": nodegroup.get("nodeRole"),
        "subnets": sorted(nodegroup.get("subnets") or []),
        "instance_types": sorted(nodegroup.get("instanceTypes") or []),
        "capacity_type": nodegroup.get("capacityType"),
        "ami_type": nodegroup.get("amiType"),
        "disk_size": int(disk_size) if disk_size is not None else None,
        "version": nodegroup.get("version"),
        "release_version": nodegroup.get("releaseVersion"),
        "launch_template": launch_template_view(nodegroup.get("launchTemplate")),
        "remote_access": remote_access_view(nodegroup.get("remoteAccess")),
        "scaling_config": {
            "min_size": scaling.get("minSize"),
            "max_size": scaling.get("maxSize"),
            "desired_size": scaling.get("desiredSize"),
        },
        "update_config": update_config_view(nodegroup.get("updateConfig")),
        "labels": dict(nodegroup.get("labels") or {}),
        "taints": normalize_taints(nodegroup.get("taints")),
        "tags": dict(nodegroup.get("tags") or {}),
    }


def wanted_labels(labels: Dict[str, Any]) -> Dict[str, str]:
    """labels as strings (validate_params has refused what cannot be one)."""
    return {str(k): str(v) for k, v in labels.items()}


def wanted_settings(module) -> Dict[str, Any]:
    """The settings the options ask for; unset options are left out (not managed)."""
    p = module.params
    want: Dict[str, Any] = {}
    for key in ("node_role", "capacity_type", "ami_type", "disk_size", "release_version"):
        if p[key] is not None:
            want[key] = p[key]
    if p["version"]:
        want["version"] = p["version"].strip()
    if p["subnets"] is not None:
        want["subnets"] = sorted(set(p["subnets"]))
    if p["instance_types"]:
        want["instance_types"] = sorted(set(p["instance_types"]))
    if p["launch_template"]:
        want["launch_template"] = {
            k: str(p["launch_template"][k]) for k in ("id", "name", "version") if p["launch_template"][k] is not None
        }
    if p["remote_access"]:
        remote_access = {"ec2_ssh_key": p["remote_access"]["ec2_ssh_key"]}
        if p["remote_access"]["source_security_groups"] is not None:
            remote_access["source_security_groups"] = sorted(set(p["remote_access"]["source_security_groups"]))
        want["remote_access"] = remote_access
    if p["scaling_config"]:
        want["scaling_config"] = {k: p["scaling_config"][k] for k in ("min_size", "max_size", "desired_size")}
    if p["update_config"]:
        want["update_config"] = update_config_view(
            {
                "maxUnavailable": p["update_config"]["max_unavailable"],
                "maxUnavailablePercentage": p["update_config"]["max_unavailable_percentage"],
            }
        )
    if p["labels"] is not None:
        want["labels"] = wanted_labels(p["labels"])
    if p["taints"] is not None:
        want["taints"] = normalize_taints(p["taints"])
    return want


def matches(key: str, wanted: Any, current: Any) -> bool:
    """Whether an immutable setting already has the wanted value (remote_access: the keys given)."""
    if key == "remote_access":
        return current is not None and all(current.get(k) == v for k, v in wanted.items())
    return wanted == current


def show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def diff_view(settings: Dict[str, Any]) -> Dict[str, Any]:
    return {k: settings[k] for k in DIFF_KEYS if settings.get(k) is not None}


def format_nodegroup(nodegroup: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """snake_case a DescribeNodegroup result; label and tag keys kept as they are, datetimes as strings."""
    if not nodegroup:
        return {}
    return camel_dict_to_snake_dict(normalize_boto3_result(nodegroup), ignore_list=["tags", "labels"])


def apply_settings(nodegroup: Dict[str, Any], settings: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a (camelCase) node group with the changeable settings applied (check mode)."""
    result = copy.deepcopy(nodegroup)
    if "scaling_config" in settings:
        scaling = settings["scaling_config"]
        result["scalingConfig"] = {
            "minSize": scaling["min_size"],
            "maxSize": scaling["max_size"],
            "desiredSize": scaling["desired_size"],
        }
    if settings.get("update_config"):
        result["updateConfig"] = aws_update_config(settings["update_config"])
    if "labels" in settings:
        result["labels"] = dict(settings["labels"])
    if "taints" in settings:
        result["taints"] = [aws_taint(t) for t in settings["taints"]]
    if "tags" in settings:
        result["tags"] = dict(settings["tags"])
    return result


# ---------------------------------------------------------------------------
# API wrappers
# ---------------------------------------------------------------------------


def describe_nodegroup(client, module, cluster_name: str, name: str, **extra_fail) -> Optional[Dict[str, Any]]:
    """The node group, None when it (or its cluster) does not exist."""
    try:
        return client.describe_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)["nodegroup"]
    except is_boto3_error_code(NOT_FOUND):
        return None
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe EKS node group {name} of cluster {cluster_name}", **extra_fail)


def wait_for_nodegroup(client, module, waiter_name: str, **extra_fail) -> None:
    """botocore's nodegroup_active / nodegroup_deleted waiter, bounded by wait_timeout."""
    p = module.params
    timeout = p["wait_timeout"]
    delay = min(WAITER_DELAY, max(1, timeout))
    attempts = max(1, -(-timeout // delay))
    try:
        client.get_waiter(waiter_name).wait(
            clusterName=p["cluster_name"],
            nodegroupName=p["name"],
            WaiterConfig={"Delay": delay, "MaxAttempts": attempts},
        )
    except botocore.exceptions.WaiterError as e:
        goal = "be ACTIVE" if waiter_name == "nodegroup_active" else "be deleted"
        module.fail_json_aws(
            e,
            msg=f"Failed waiting (up to {timeout}s) for EKS node group {p['name']} of cluster {p['cluster_name']}"
            f" to {goal}",
            **extra_fail,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed waiting for EKS node group {p['name']}", **extra_fail)


def wait_for_cluster(client, module, **extra_fail) -> None:
    """botocore's cluster_active waiter (a new node group needs an ACTIVE cluster), bounded by wait_timeout."""
    p = module.params
    timeout = p["wait_timeout"]
    delay = min(WAITER_DELAY, max(1, timeout))
    attempts = max(1, -(-timeout // delay))
    try:
        client.get_waiter("cluster_active").wait(
            name=p["cluster_name"], WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
    except (botocore.exceptions.WaiterError, botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(
            e, msg=f"Failed waiting (up to {timeout}s) for EKS cluster {p['cluster_name']} to be ACTIVE", **extra_fail
        )


def wait_for_update(client, module, update_id: str, what: str, started: List[str]) -> None:
    """Poll DescribeUpdate until the update leaves InProgress; fail on Failed/Cancelled or timeout."""
    p = module.params
    name, cluster_name = p["name"], p["cluster_name"]
    timeout = p["wait_timeout"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            update = client.describe_update(aws_retry=True, name=cluster_name, nodegroupName=name, updateId=update_id)[
                "update"
            ]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(
                e, msg=f"Failed to describe update {update_id} ({what}) of EKS node group {name}", updates=started
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
                msg=f"Update {update_id} ({what}) of EKS node group {name} ended {status}"
                + (f": {errors}" if errors else ""),
                update=camel_dict_to_snake_dict(normalize_boto3_result(update)),
                updates=started,
            )
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"Timed out after {timeout}s waiting for update {update_id} ({what}) of EKS node group {name}"
                f" (status {status})",
                updates=started,
            )
        time.sleep(UPDATE_POLL_DELAY)


# ---------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------


def create_params(module, tags: Dict[str, str]) -> Dict[str, Any]:
    """The CreateNodegroup request (its keys are also the DescribeNodegroup keys of the result)."""
    p = module.params
    params: Dict[str, Any] = {
        "clusterName": p["cluster_name"],
        "nodegroupName": p["name"],
        "nodeRole": p["node_role"],
        "subnets": list(p["subnets"]),
    }
    if p["instance_types"]:
        params["instanceTypes"] = list(p["instance_types"])
    for key, aws_key in (
        ("capacity_type", "capacityType"),
        ("ami_type", "amiType"),
        ("disk_size", "diskSize"),
        ("release_version", "releaseVersion"),
    ):
        if p[key] is not None:
            params[aws_key] = p[key]
    if p["version"]:
        params["version"] = p["version"].strip()
    if p["scaling_config"]:
        scaling = p["scaling_config"]
        desired = scaling["desired_size"]
        params["scalingConfig"] = {
            "minSize": scaling["min_size"],
            "maxSize": scaling["max_size"],
            "desiredSize": scaling["min_size"] if desired is None else desired,
        }
    if p["update_config"]:
        params["updateConfig"] = aws_update_config(p["update_config"])
    if p["labels"]:
        params["labels"] = wanted_labels(p["labels"])
    if p["taints"]:
        params["taints"] = [aws_taint(t) for t in normalize_taints(p["taints"])]
    if p["launch_template"]:
        params["launchTemplate"] = {k: str(v) for k, v in p["launch_template"].items() if v is not None}
    if p["remote_access"]:
        remote_access = {"ec2SshKey": p["remote_access"]["ec2_ssh_key"]}
        if p["remote_access"]["source_security_groups"]:
            remote_access["sourceSecurityGroups"] = list(p["remote_access"]["source_security_groups"])
        params["remoteAccess"] = remote_access
    if tags:
        params["tags"] = dict(tags)
    return params


def ensure_created(client, module) -> Dict[str, Any]:
    p = module.params
    name, cluster_name = p["name"], p["cluster_name"]
    missing = [opt for opt in ("node_role", "subnets") if not p[opt]]
    if missing:
        module.fail_json(
            msg=f"EKS node group {name} of cluster {cluster_name} does not exist; {' and '.join(missing)}"
            " required to create it",
            updates=[],
        )
    cluster = describe_cluster(client, module, cluster_name, updates=[])
    if cluster is None:
        module.fail_json(
            msg=f"EKS cluster {cluster_name} does not exist; create it before its node group {name}", updates=[]
        )
    cluster_status = cluster.get("status")
    if cluster_status in ("DELETING", "FAILED"):
        module.fail_json(
            msg=f"EKS cluster {cluster_name} is {cluster_status}; node group {name} cannot be created", updates=[]
        )

    params = create_params(module, dict(p["tags"] or {}))
    predicted = {k: copy.deepcopy(v) for k, v in params.items()}
    predicted.update(status="CREATING", tags=dict(p["tags"] or {}))
    nodegroup = predicted
    if not module.check_mode:
        if p["wait"] and cluster_status != "ACTIVE":
            wait_for_cluster(client, module, updates=[])
        try:
            nodegroup = client.create_nodegroup(aws_retry=True, clientRequestToken=str(uuid.uuid4()), **params)[
                "nodegroup"
            ]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to create EKS node group {name} of cluster {cluster_name}", updates=[])
        if p["wait"]:
            wait_for_nodegroup(client, module, "nodegroup_active", updates=[])
            nodegroup = describe_nodegroup(client, module, cluster_name, name, updates=[]) or nodegroup
    return {
        "changed": True,
        "nodegroup": format_nodegroup(nodegroup),
        "updates": [],
        "diff": {"before": {}, "after": diff_view(settings_of(nodegroup))},
    }


def plan_updates(module, have: Dict[str, Any], want: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """The UpdateNodegroupConfig calls that bring `have` to `want`, in the order they are run, and the
    settings after them.

    Fails (before anything is changed) on what EKS cannot do in place.
    """
    p = module.params
    name, cluster_name = p["name"], p["cluster_name"]
    after = copy.deepcopy(have)

    immutable = [
        f"{key} (is {show(have[key])}, {show(want[key])} was asked)"
        for key in IMMUTABLE_KEYS
        if key in want and not matches(key, want[key], have[key])
    ]
    version_changes = []
    for key in ("version", "release_version"):
        if key in want and want[key] != have[key]:
            version_changes.append(f"{key} (is {show(have[key])}, {show(want[key])} was asked)")
    if "launch_template" in want:
        current = have["launch_template"] or {}
        for key in ("id", "name"):
            if key in want["launch_template"] and want["launch_template"][key] != current.get(key):
                immutable.append(
                    f"launch_template {key} (is {show(current.get(key))}, {want['launch_template'][key]} was asked)"
                )
        if "version" in want["launch_template"] and want["launch_template"]["version"] != current.get("version"):
            version_changes.append(
                f"launch_template version (is {show(current.get('version'))}, {want['launch_template']['version']}"
                " was asked)"
            )
    refusals = []
    if immutable:
        refusals.append(
            "EKS cannot change "
            + ", ".join(immutable)
            + " of an existing node group. This module does not replace node groups: create one with another"
            " name and move the workloads to it, or delete this one first"
        )
    if version_changes:
        refusals.append(
            "EKS changes "
            + ", ".join(version_changes)
            + " with UpdateNodegroupVersion, a rolling replacement of every node, which this module does not run."
            " Upgrade the node group on purpose (for example aws eks update-nodegroup-version), then set the new"
            " values"
        )

    scaling_update: Dict[str, int] = {}
    if "scaling_config" in want:
        wanted, current = want["scaling_config"], have["scaling_config"]
        manage_desired = wanted["desired_size"] is not None and not p["ignore_desired_size_changes"]
        desired = wanted["desired_size"] if manage_desired else current["desired_size"]
        if not manage_desired and desired is not None and not wanted["min_size"] <= desired <= wanted["max_size"]:
            why = (
                "ignore_desired_size_changes=true"
                if p["ignore_desired_size_changes"] and wanted["desired_size"] is not None
                else "scaling_config.desired_size is not set"
            )
            refusals.append(
                f"the node group's desired size {desired} is outside the wanted min_size {wanted['min_size']} .."
                f" max_size {wanted['max_size']}, and the desired size is not managed ({why}). Choose sizes that"
                " include it, or set scaling_config.desired_size with ignore_desired_size_changes=false for this run"
            )
        target = {"min_size": wanted["min_size"], "max_size": wanted["max_size"], "desired_size": desired}
        if target != current:
            scaling_update = {"minSize": wanted["min_size"], "maxSize": wanted["max_size"]}
            if manage_desired:
                scaling_update["desiredSize"] = desired
            after["scaling_config"] = target
    if refusals:
        module.fail_json(
            msg=f"Cannot update EKS node group {name} of cluster {cluster_name}: " + "; ".join(refusals), updates=[]
        )

    updates: List[Dict[str, Any]] = []
    base = {"clusterName": cluster_name, "nodegroupName": name}
    if "labels" in want and want["labels"] != have["labels"]:
        payload: Dict[str, Any] = {}
        add = {k: v for k, v in want["labels"].items() if have["labels"].get(k) != v}
        remove = sorted(k for k in have["labels"] if k not in want["labels"])
        if add:
            payload["addOrUpdateLabels"] = add
        if remove:
            payload["removeLabels"] = remove
        updates.append({"what": "labels", "params": dict(base, labels=payload)})
        after["labels"] = dict(want["labels"])
    if "taints" in want and want["taints"] != have["taints"]:
        payload = {}
        wanted_ids = {taint_identity(t) for t in want["taints"]}
        add_taints = [aws_taint(t) for t in want["taints"] if t not in have["taints"]]
        remove_taints = [aws_taint(t) for t in have["taints"] if taint_identity(t) not in wanted_ids]
        if add_taints:
            payload["addOrUpdateTaints"] = add_taints
        if remove_taints:
            payload["removeTaints"] = remove_taints
        updates.append({"what": "taints", "params": dict(base, taints=payload)})
        after["taints"] = list(want["taints"])
    if scaling_update:
        updates.append({"what": "scaling", "params": dict(base, scalingConfig=scaling_update)})
    if "update_config" in want and want["update_config"] != have["update_config"]:
        updates.append(
            {
                "what": "update configuration",
                "params": dict(base, updateConfig=aws_update_config(want["update_config"])),
            }
        )
        after["update_config"] = dict(want["update_config"])
    return updates, after


def ensure_tags(client, module, nodegroup: Dict[str, Any], to_set: Dict[str, str], to_unset: List[str]) -> None:
    arn = nodegroup["nodegroupArn"]
    try:
        if to_unset:
            client.untag_resource(aws_retry=True, resourceArn=arn, tagKeys=to_unset)
        if to_set:
            client.tag_resource(aws_retry=True, resourceArn=arn, tags=to_set)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(
            e, msg=f"Failed to update the tags of EKS node group {nodegroup['nodegroupName']}", updates=[]
        )


def run_updates(client, module, status: str, updates: List[Dict[str, Any]]) -> List[str]:
    """Start the updates one after the other, waiting for each before the next; returns their IDs."""
    name = module.params["name"]
    wait = module.params["wait"]
    # A DEGRADED node group does not become ACTIVE: its updates are followed with DescribeUpdate only.
    use_waiter = status != "DEGRADED"
    started: List[str] = []
    if status not in ("ACTIVE", "DEGRADED"):
        # ensure_present refused this with wait=false before changing anything
        wait_for_nodegroup(client, module, "nodegroup_active", updates=started)
    for index, update in enumerate(updates):
        if index and use_waiter:
            # EKS refuses a new update while the node group is still busy with the previous one.
            wait_for_nodegroup(client, module, "nodegroup_active", updates=started)
        try:
            response = client.update_nodegroup_config(
                aws_retry=True, clientRequestToken=str(uuid.uuid4()), **update["params"]
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(
                e, msg=f"Failed to start the {update['what']} update of EKS node group {name}", updates=started
            )
        update_id = (response.get("update") or {}).get("id")
        if not update_id:
            module.fail_json(
                msg=f"The {update['what']} update of EKS node group {name} returned no update ID", updates=started
            )
        started.append(update_id)
        last = index == len(updates) - 1
        if wait or not last:
            wait_for_update(client, module, update_id, update["what"], started)
    if updates and wait and use_waiter:
        wait_for_nodegroup(client, module, "nodegroup_active", updates=started)
    return started


def ensure_present(client, module) -> Dict[str, Any]:
    p = module.params
    name, cluster_name = p["name"], p["cluster_name"]
    nodegroup = describe_nodegroup(client, module, cluster_name, name, updates=[])
    if nodegroup is None:
        return ensure_created(client, module)

    status = nodegroup.get("status")
    if status in ("DELETING", "CREATE_FAILED", "DELETE_FAILED"):
        module.fail_json(
            msg=f"EKS node group {name} of cluster {cluster_name} is {status}; it cannot be managed until it is"
            " deleted",
            updates=[],
        )

    have = settings_of(nodegroup)
    want = wanted_settings(module)
    updates, after = plan_updates(module, have, want)

    to_set: Dict[str, str] = {}
    to_unset: List[str] = []
    if p["tags"] is not None:
        to_set, to_unset = compare_aws_tags(have["tags"], p["tags"], p["purge_tags"])
        after["tags"] = {k: v for k, v in have["tags"].items() if k not in to_unset}
        after["tags"].update(to_set)

    if updates and status not in ("ACTIVE", "DEGRADED") and not p["wait"]:
        module.fail_json(
            msg=f"EKS node group {name} is {status}, not ACTIVE, and cannot be updated now"
            f" ({', '.join(u['what'] for u in updates)} to change). Run again when it is ACTIVE, or with wait=true.",
            updates=[],
        )

    changed = bool(updates or to_set or to_unset)
    started: List[str] = []
    if module.check_mode:
        result_nodegroup = apply_settings(nodegroup, after)
    else:
        if to_set or to_unset:
            ensure_tags(client, module, nodegroup, to_set, to_unset)
        if updates:
            started = run_updates(client, module, status, updates)
        elif p["wait"] and status not in ("ACTIVE", "DEGRADED"):
            wait_for_nodegroup(client, module, "nodegroup_active", updates=started)
        result_nodegroup = nodegroup
        if changed or (p["wait"] and status not in ("ACTIVE", "DEGRADED")):
            result_nodegroup = describe_nodegroup(client, module, cluster_name, name, updates=started) or nodegroup
    return {
        "changed": changed,
        "nodegroup": format_nodegroup(result_nodegroup),
        "updates": started,
        "diff": {"before": diff_view(have), "after": diff_view(after)},
    }


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def ensure_absent(client, module) -> Dict[str, Any]:
    p = module.params
    name, cluster_name = p["name"], p["cluster_name"]
    nodegroup = describe_nodegroup(client, module, cluster_name, name, updates=[])
    if nodegroup is None:
        return {"changed": False, "nodegroup": {}, "updates": [], "diff": {"before": {}, "after": {}}}
    before = diff_view(settings_of(nodegroup))
    status = nodegroup.get("status")
    if status == "DELETING":
        # Already being deleted (by someone else): nothing to change, maybe something to wait for.
        if p["wait"] and not module.check_mode:
            wait_for_nodegroup(client, module, "nodegroup_deleted", updates=[])
        return {"changed": False, "nodegroup": {}, "updates": [], "diff": {"before": before, "after": {}}}

    if not module.check_mode:
        if status in ("CREATING", "UPDATING") and p["wait"]:
            wait_for_nodegroup(client, module, "nodegroup_active", updates=[])
        try:
            client.delete_nodegroup(aws_retry=True, clusterName=cluster_name, nodegroupName=name)
        except is_boto3_error_code(NOT_FOUND):
            pass
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Failed to delete EKS node group {name} of cluster {cluster_name}", updates=[])
        if p["wait"]:
            wait_for_nodegroup(client, module, "nodegroup_deleted", updates=[])
    return {"changed": True, "nodegroup": {}, "updates": [], "diff": {"before": before, "after": {}}}


def validate_labels(module, labels: Dict[str, Any]) -> None:
    for key, value in labels.items():
        problem = qualified_name_problem(str(key))
        if problem:
            module.fail_json(msg=f"labels: {key!r} is not a valid label key: {problem}")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            module.fail_json(
                msg=f"labels: the value of {key!r} must be a string, got {type(value).__name__} {value!r};"
                f' quote it in YAML ("{str(value).lower() if isinstance(value, bool) else value}")'
            )
        problem = value_problem(str(value), allow_empty=False)
        if problem:
            module.fail_json(msg=f"labels: the value {str(value)!r} of {key!r} is not a valid label value: {problem}")


def validate_taints(module, taints: List[Dict[str, Any]]) -> None:
    if len(taints) > MAX_TAINTS:
        module.fail_json(msg=f"taints: EKS allows at most {MAX_TAINTS} taints per node group, {len(taints)} given")
    seen = set()
    for taint in taints:
        problem = qualified_name_problem(taint["key"])
        if problem:
            module.fail_json(msg=f"taints: {taint['key']!r} is not a valid taint key: {problem}")
        problem = value_problem(taint["value"] or "", allow_empty=True)
        if problem:
            module.fail_json(
                msg=f"taints: the value {taint['value']!r} of {taint['key']!r} is not a valid taint value: {problem}"
            )
        if taint["effect"] not in TAINT_EFFECTS:  # the argument spec's choices check this first
            module.fail_json(msg=f"taints: effect must be one of {', '.join(TAINT_EFFECTS)}, got {taint['effect']!r}")
        identity = (taint["key"], taint["effect"])
        if identity in seen:
            module.fail_json(
                msg=f"taints: {taint['key']!r} with effect {taint['effect']} is given twice (a taint is identified by"
                " its key and effect)"
            )
        seen.add(identity)


def validate_params(module) -> None:
    p = module.params
    if p["wait_timeout"] <= 0:
        module.fail_json(msg="wait_timeout must be a positive number of seconds")
    if p["state"] != "present":
        return
    scaling = p["scaling_config"]
    if scaling:
        low, high, desired = scaling["min_size"], scaling["max_size"], scaling["desired_size"]
        if low < 0:
            module.fail_json(msg=f"scaling_config: min_size must be 0 or more, got {low}")
        if high < 1:
            module.fail_json(msg=f"scaling_config: max_size must be 1 or more, got {high}")
        if low > high:
            module.fail_json(msg=f"scaling_config: min_size {low} is greater than max_size {high}")
        if desired is not None and not low <= desired <= high:
            module.fail_json(msg=f"scaling_config: desired_size {desired} is outside min_size {low} .. max_size {high}")
    update_config = p["update_config"]
    if update_config:
        if update_config["max_unavailable"] is not None and update_config["max_unavailable"] < 1:
            module.fail_json(msg="update_config: max_unavailable must be 1 or more")
        percentage = update_config["max_unavailable_percentage"]
        if percentage is not None and not 1 <= percentage <= 100:
            module.fail_json(msg="update_config: max_unavailable_percentage must be between 1 and 100")
    if p["labels"] is not None:
        validate_labels(module, p["labels"])
    if p["taints"] is not None:
        validate_taints(module, p["taints"])
    if p["launch_template"]:
        for opt in ("disk_size", "remote_access"):
            if p[opt] is not None:
                module.fail_json(
                    msg=f"{opt} cannot be used with launch_template (EKS refuses it; set it in the launch template)"
                )
    elif not p["instance_types"]:
        module.fail_json(
            msg="instance_types must name at least one instance type (or set launch_template to take it from a"
            " launch template)"
        )
    if p["instance_types"] and not all(t and t.strip() for t in p["instance_types"]):
        module.fail_json(msg="instance_types: empty instance type")
    if p["subnets"] is not None and not p["subnets"]:
        module.fail_json(msg="subnets must not be empty")
    if p["disk_size"] is not None and p["disk_size"] < 1:
        module.fail_json(msg=f"disk_size must be 1 GiB or more, got {p['disk_size']}")
    if p["ami_type"] is not None:
        known = ami_types()
        if p["ami_type"] not in known:
            module.fail_json(
                msg=f"ami_type {p['ami_type']!r} is not an EKS AMI type; known: {', '.join(sorted(known))}"
                " (a type newer than this list needs a newer botocore)"
            )
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


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        node_role=dict(type="str"),
        subnets=dict(type="list", elements="str"),
        instance_types=dict(type="list", elements="str"),
        capacity_type=dict(type="str", choices=["ON_DEMAND", "SPOT"]),
        # Not `choices`: the list grows with botocore, validate_params checks it (ami_types()).
        ami_type=dict(type="str"),
        disk_size=dict(type="int"),
        version=dict(type="str"),
        release_version=dict(type="str"),
        scaling_config=dict(
            type="dict",
            options=dict(
                min_size=dict(type="int", required=True),
                max_size=dict(type="int", required=True),
                desired_size=dict(type="int"),
            ),
        ),
        ignore_desired_size_changes=dict(type="bool", default=False),
        update_config=dict(
            type="dict",
            options=dict(
                max_unavailable=dict(type="int"),
                max_unavailable_percentage=dict(type="int"),
            ),
            mutually_exclusive=[("max_unavailable", "max_unavailable_percentage")],
            required_one_of=[("max_unavailable", "max_unavailable_percentage")],
        ),
        labels=dict(type="dict"),
        taints=dict(
            type="list",
            elements="dict",
            options=dict(
                key=dict(type="str", required=True, no_log=False),
                value=dict(type="str"),
                effect=dict(type="str", required=True, choices=list(TAINT_EFFECTS)),
            ),
        ),
        launch_template=dict(
            type="dict",
            options=dict(
                id=dict(type="str"),
                name=dict(type="str"),
                version=dict(type="str"),
            ),
            mutually_exclusive=[("id", "name")],
            required_one_of=[("id", "name")],
        ),
        remote_access=dict(
            type="dict",
            options=dict(
                ec2_ssh_key=dict(type="str", required=True, no_log=False),
                source_security_groups=dict(type="list", elements="str"),
            ),
        ),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
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
