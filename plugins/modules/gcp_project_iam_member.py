#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gcp_project_iam_member
version_added: 0.1.0
short_description: Grant or revoke one role to one member in a Google Cloud project's IAM policy
description:
  - Adds one member (principal) to, or removes it from, the binding of one role in the IAM policy
    of a Google Cloud project, optionally a conditional binding (IAM Conditions).
  - The policy is read with C(projects.getIamPolicy), changed and written back with
    C(projects.setIamPolicy) and the C(etag) that was read, so a concurrent change of the policy
    is never overwritten. When the write is refused because the policy changed in between
    (HTTP 409, C(ABORTED)), the policy is read again and the change re-applied, up to five times.
  - Only O(member) in the binding of O(role) (with O(condition)) is touched. The other members of
    that binding and all other bindings and audit configurations are written back as they were
    read. A binding left without members by O(state=absent) is dropped.
  - A binding is identified by its role and its condition (title, expression and description);
    the unconditional binding of a role and a conditional binding of the same role are different
    bindings.
  - Uses the Cloud Resource Manager API v1 (C(cloudresourcemanager.googleapis.com)).
  - "Errors show the API's own message and status, for example
    C(HTTP 403 PERMISSION_DENIED: Permission denied on resource project my-project)."
  - This module supports check mode and diff mode.
author:
  - mlinfra platform team
options:
  project:
    description:
      - The ID of the project whose IAM policy is changed, for example V(my-ml-project).
      - Must be given, here or with the E(GCP_PROJECT) environment variable.
    type: str
  role:
    description:
      - The role to grant or revoke, for example V(roles/storage.objectAdmin), or a custom role
        V(projects/PROJECT/roles/NAME) or V(organizations/ORG_ID/roles/NAME).
    type: str
    required: true
  member:
    description:
      - The principal, with its type prefix, for example
        V(serviceAccount:trainer@my-ml-project.iam.gserviceaccount.com), V(user:alice@example.com),
        V(group:ml-team@example.com), V(domain:example.com), or a workload or workforce identity
        federation principal V(principal://...) or V(principalSet://...).
      - The e-mail part of V(user:), V(serviceAccount:) and V(group:) members and the domain of
        V(domain:) members are compared case-insensitively.
      - V(deleted:...) members (principals that were deleted but are still bound) are only
        accepted with O(state=absent), to clean them up.
      - V(allUsers) and V(allAuthenticatedUsers) are refused (project policies do not accept them).
    type: str
    required: true
  state:
    description:
      - V(present) adds O(member) to the binding (creating the binding if needed).
      - V(absent) removes O(member) from the binding and drops the binding if it is left empty.
    type: str
    choices: ['present', 'absent']
    default: present
  condition:
    description:
      - Makes the binding conditional (IAM Conditions). A binding with a condition is matched on
        the title, expression and description all being equal.
      - When the resulting policy holds any conditional binding it is written as policy version 3
        (and it is always read as version 3).
    type: dict
    suboptions:
      title:
        description: The title of the condition.
        type: str
        required: true
      expression:
        description:
          - The condition in Common Expression Language, for example
            V(request.time < timestamp("2027-01-01T00:00:00Z"\)).
        type: str
        required: true
      description:
        description: The description of the condition. Empty or unset means no description.
        type: str
notes:
  - The caller needs C(resourcemanager.projects.getIamPolicy) and, unless in check mode,
    C(resourcemanager.projects.setIamPolicy) on the project (for example
    C(roles/resourcemanager.projectIamAdmin)).
  - Check mode reads the policy only and reports the change that would be made.
  - The authentication options are those of the C(google.cloud) collection and are handled by its
    C(gcp_utils) module utilities. O(env_type) only changes the User-Agent.
requirements:
  - python >= 3.9
  - requests
  - google-auth
extends_documentation_fragment:
  - google.cloud.gcp
"""

EXAMPLES = r"""
- name: Let the training VMs' service account read and write the datasets bucket's objects
  mlinfra.gpu_platform.gcp_project_iam_member:
    project: my-ml-project
    role: roles/storage.objectAdmin
    member: serviceAccount:gpu-trainer@my-ml-project.iam.gserviceaccount.com
    auth_kind: serviceaccount
    service_account_file: /etc/ansible/gcp-deployer.json

- name: Grant a role until a date (conditional binding, policy version 3)
  mlinfra.gpu_platform.gcp_project_iam_member:
    project: my-ml-project
    role: roles/compute.instanceAdmin.v1
    member: user:alice@example.com
    condition:
      title: until-2027
      description: Temporary access for the GPU migration
      expression: request.time < timestamp("2027-01-01T00:00:00Z")
    auth_kind: application

- name: Revoke it again (the binding is dropped when no member is left)
  mlinfra.gpu_platform.gcp_project_iam_member:
    project: my-ml-project
    role: roles/storage.objectAdmin
    member: serviceAccount:gpu-trainer@my-ml-project.iam.gserviceaccount.com
    state: absent
    auth_kind: accesstoken
    access_token: "{{ lookup('ansible.builtin.env', 'GCP_ACCESS_TOKEN') }}"
"""

RETURN = r"""
binding:
  description:
    - The binding of O(role) (and O(condition)) after the change, or as it would be in check mode.
    - RV(binding.members) is empty when the binding does not exist (any more).
  returned: success
  type: dict
  contains:
    role:
      description: The role.
      returned: success
      type: str
      sample: roles/storage.objectAdmin
    members:
      description: The members of the binding, sorted.
      returned: success
      type: list
      elements: str
      sample: ["serviceAccount:gpu-trainer@my-ml-project.iam.gserviceaccount.com", "user:alice@example.com"]
    condition:
      description: The condition of the binding (title, expression and, if set, description).
      returned: when O(condition) is set
      type: dict
      sample: {"title": "until-2027", "expression": "request.time < timestamp(\"2027-01-01T00:00:00Z\")"}
etag:
  description:
    - The etag of the project's IAM policy after the change; in check mode or when nothing changed,
      the etag of the policy that was read.
  returned: success
  type: str
  sample: BwYz1Xb2c3E=
policy_version:
  description: The version of the policy that was written, or read when nothing was written.
  returned: success
  type: int
  sample: 1
attempts:
  description: How many read-modify-write rounds it took, when the first write was refused for a concurrent change.
  returned: when more than one round was needed
  type: int
  sample: 2
error:
  description: The API error that made the module fail.
  returned: on an API error
  type: dict
  contains:
    http_status:
      description: The HTTP status code, when a response arrived.
      returned: on an API error
      type: int
      sample: 403
    status:
      description: The API's status name.
      returned: on an API error
      type: str
      sample: PERMISSION_DENIED
    message:
      description: The server's message, verbatim.
      returned: on an API error
      type: str
      sample: Permission denied on resource project my-ml-project.
    details:
      description: The error details the API sent, if any.
      returned: on an API error
      type: list
      elements: dict
"""

import copy
import re
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

from ansible_collections.google.cloud.plugins.module_utils.gcp_utils import GcpModule

from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpApiError
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpJsonClient

API = "https://cloudresourcemanager.googleapis.com/v1/projects/{project}:{method}"
PRODUCT = "cloudresourcemanager"
REQUESTED_POLICY_VERSION = 3
CONDITIONAL_POLICY_VERSION = 3
# setIamPolicy's documented default mask. The policy version travels in the policy itself (3 as
# soon as a binding has a condition).
UPDATE_MASK = "bindings,etag"

# How often a setIamPolicy refused for a concurrent change (etag mismatch) is re-read and retried.
MAX_ATTEMPTS = 5
CONFLICT_DELAY = 1.0

# Case-insensitive e-mail/domain members: prefix -> whether the rest must be an e-mail address.
CASE_INSENSITIVE_PREFIXES = {"user:": True, "serviceAccount:": True, "group:": True, "domain:": False}
FEDERATED_PREFIXES = ("principal://", "principalSet://")
DELETED_PREFIX = "deleted:"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")
ROLE_RE = re.compile(
    r"^(roles/[A-Za-z0-9_.]+"
    r"|projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[A-Za-z0-9_.]+"
    r"|organizations/[0-9]+/roles/[A-Za-z0-9_.]+)$"
)
PROJECT_RE = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


# ---------------------------------------------------------------------------
# Validation (before any request)
# ---------------------------------------------------------------------------


def member_error(member: str, state: str) -> Optional[str]:
    """Why `member` is not acceptable, or None."""
    if member in PUBLIC_MEMBERS:
        return f"member {member!r} cannot be bound in a project's IAM policy"
    rest = member
    if member.startswith(DELETED_PREFIX):
        if state != "absent":
            return f"member {member!r} is a deleted principal: it can only be removed (state=absent)"
        rest = member[len(DELETED_PREFIX):]
    if any(c.isspace() for c in member):
        return f"member {member!r} must not contain white space"
    for prefix, needs_email in CASE_INSENSITIVE_PREFIXES.items():
        if rest.startswith(prefix):
            value = rest[len(prefix):]
            if rest is not member:  # deleted:TYPE:EMAIL?uid=NUMBER
                value = value.split("?", 1)[0]
            if needs_email and not EMAIL_RE.match(value):
                return f"member {member!r} must be {prefix}EMAIL, for example {prefix}name@example.com"
            if not needs_email and not DOMAIN_RE.match(value):
                return f"member {member!r} must be domain:DOMAIN, for example domain:example.com"
            return None
    if rest is member and member.startswith(FEDERATED_PREFIXES):
        if member.split("://", 1)[1]:
            return None
        return f"member {member!r} must name the principal after {member.split('://', 1)[0]}://"
    return (
        f"member {member!r} must start with one of user:, serviceAccount:, group:, domain:, principal:// "
        "or principalSet:// (for example serviceAccount:NAME@PROJECT.iam.gserviceaccount.com)"
    )


def validate_params(module) -> None:
    p = module.params
    if not p["project"]:
        module.fail_json(msg="project is required: set project (or the GCP_PROJECT environment variable)")
    if not PROJECT_RE.match(p["project"]):
        module.fail_json(
            msg=f"project {p['project']!r} is not a project ID (6 to 30 lower-case letters, digits and hyphens, "
            "starting with a letter)"
        )
    if not ROLE_RE.match(p["role"]):
        module.fail_json(
            msg=f"role {p['role']!r} must be roles/NAME, projects/PROJECT/roles/NAME or "
            "organizations/ORG_ID/roles/NAME (for example roles/storage.objectAdmin)"
        )
    error = member_error(p["member"], p["state"])
    if error:
        module.fail_json(msg=error)
    condition = p["condition"]
    if condition is not None:
        for key in ("title", "expression"):
            if not (condition.get(key) or "").strip():
                module.fail_json(msg=f"condition.{key} must not be empty")


# ---------------------------------------------------------------------------
# Policy manipulation (pure functions)
# ---------------------------------------------------------------------------


def normalize_condition(condition: Optional[Dict[str, Any]]) -> Optional[Dict[str, str]]:
    """The comparable form of a condition: title and expression, plus description when not empty."""
    if not condition:
        return None
    result = {"title": condition.get("title") or "", "expression": condition.get("expression") or ""}
    if condition.get("description"):
        result["description"] = condition["description"]
    return result


def member_key(member: str) -> str:
    """The comparable form of a member (e-mail and domain members are case-insensitive)."""
    for prefix in CASE_INSENSITIVE_PREFIXES:
        if member.startswith(prefix):
            return prefix + member[len(prefix):].lower()
    return member


def matches(binding: Dict[str, Any], role: str, condition: Optional[Dict[str, str]]) -> bool:
    return binding.get("role") == role and normalize_condition(binding.get("condition")) == condition


def binding_view(policy: Dict[str, Any], role: str, condition: Optional[Dict[str, str]]) -> Dict[str, Any]:
    """The binding of role/condition in policy: {role, members (sorted)[, condition]}."""
    members: List[str] = []
    for binding in policy.get("bindings") or []:
        if matches(binding, role, condition):
            members.extend(m for m in binding.get("members") or [] if m not in members)
    view: Dict[str, Any] = {"role": role, "members": sorted(members)}
    if condition is not None:
        view["condition"] = dict(condition)
    return view


def policy_version(policy: Dict[str, Any]) -> int:
    if any(b.get("condition") for b in policy.get("bindings") or []):
        return CONDITIONAL_POLICY_VERSION
    return int(policy.get("version") or 1)


def apply_change(
    policy: Dict[str, Any], role: str, member: str, condition: Optional[Dict[str, str]], state: str
) -> Tuple[bool, Dict[str, Any]]:
    """(changed, new policy): policy with member added to / removed from the role's binding.

    Only the matching binding is touched; everything else is copied as read.
    """
    new_policy = copy.deepcopy(policy)
    bindings = new_policy.get("bindings") or []
    key = member_key(member)
    changed = False

    if state == "present":
        matching = [b for b in bindings if matches(b, role, condition)]
        if any(key == member_key(m) for b in matching for m in b.get("members") or []):
            return False, policy
        if matching:
            matching[0].setdefault("members", []).append(member)
        else:
            binding: Dict[str, Any] = {"role": role, "members": [member]}
            if condition is not None:
                binding["condition"] = dict(condition)
            bindings.append(binding)
        changed = True
    else:
        kept = []
        for binding in bindings:
            if matches(binding, role, condition):
                members = binding.get("members") or []
                remaining = [m for m in members if member_key(m) != key]
                if len(remaining) != len(members):
                    changed = True
                    if not remaining:
                        continue  # an empty binding is dropped
                    binding["members"] = remaining
            kept.append(binding)
        bindings = kept
        if not changed:
            return False, policy

    new_policy["bindings"] = bindings
    new_policy["version"] = policy_version(new_policy)
    return changed, new_policy


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------


def get_policy(client: GcpJsonClient, project: str) -> Dict[str, Any]:
    return client.post(
        API.format(project=project, method="getIamPolicy"),
        {"options": {"requestedPolicyVersion": REQUESTED_POLICY_VERSION}},
    )


def set_policy(client: GcpJsonClient, project: str, policy: Dict[str, Any]) -> Dict[str, Any]:
    return client.post(
        API.format(project=project, method="setIamPolicy"),
        {"policy": policy, "updateMask": UPDATE_MASK},
    )


def is_conflict(error: GcpApiError) -> bool:
    return error.http_status == 409 or error.status == "ABORTED"


def fail_api(module, error: GcpApiError, action: str) -> None:
    module.fail_json(msg=f"{action} failed: {error.describe()}", error=error.as_dict())


def run(module, client: GcpJsonClient) -> Dict[str, Any]:
    p = module.params
    project, role, member, state = p["project"], p["role"], p["member"], p["state"]
    condition = normalize_condition(p["condition"])

    for attempt in range(1, MAX_ATTEMPTS + 1):
        action = f"Reading the IAM policy of project {project} (getIamPolicy)"
        try:
            policy = get_policy(client, project)
        except GcpApiError as e:
            fail_api(module, e, action)

        before = binding_view(policy, role, condition)
        changed, new_policy = apply_change(policy, role, member, condition, state)
        result: Dict[str, Any] = {
            "changed": changed,
            "binding": binding_view(new_policy, role, condition),
            "etag": policy.get("etag"),
            "policy_version": int(new_policy.get("version") or 1),
        }
        if changed and not module.check_mode:
            action = f"Writing the IAM policy of project {project} (setIamPolicy)"
            try:
                written = set_policy(client, project, new_policy)
            except GcpApiError as e:
                if is_conflict(e) and attempt < MAX_ATTEMPTS:
                    time.sleep(CONFLICT_DELAY * attempt)
                    continue
                if is_conflict(e):
                    e.message += f" (the policy kept changing; gave up after {MAX_ATTEMPTS} attempts)"
                fail_api(module, e, action)
            if written.get("bindings") is not None or written.get("etag"):
                result["binding"] = binding_view(written, role, condition)
                result["etag"] = written.get("etag") or result["etag"]
                result["policy_version"] = int(written.get("version") or result["policy_version"])
        result["diff"] = {"before": before, "after": result["binding"]}
        if attempt > 1:
            result["attempts"] = attempt
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def main():
    argument_spec = dict(
        # GcpModule adds project (optional, GCP_PROJECT fallback) and the auth options.
        role=dict(type="str", required=True),
        member=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        condition=dict(
            type="dict",
            options=dict(
                title=dict(type="str", required=True),
                expression=dict(type="str", required=True),
                description=dict(type="str"),
            ),
        ),
    )
    module = GcpModule(argument_spec=argument_spec, supports_check_mode=True)
    validate_params(module)

    client = GcpJsonClient(module, PRODUCT)
    result = run(module, client)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
