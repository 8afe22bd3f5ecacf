# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the collection's EKS modules (eks_cluster, eks_nodegroup)."""

from __future__ import annotations

import re
from typing import Any
from typing import Dict
from typing import Optional
from typing import Tuple

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

NOT_FOUND = "ResourceNotFoundException"


def parse_version(version: Optional[str]) -> Optional[Tuple[int, int]]:
    """(major, minor) of a "major.minor" Kubernetes version, None if it is not one."""
    match = re.fullmatch(r"(\d+)\.(\d+)", str(version or "").strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def describe_cluster(client, module, name: str, **fail_extra: Any) -> Optional[Dict[str, Any]]:
    """The cluster as DescribeCluster returns it, None when it does not exist.

    fail_extra is added to the failure result (eks_cluster reports the updates it started).
    """
    try:
        return client.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code(NOT_FOUND):
        return None
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe EKS cluster {name}", **fail_extra)
