#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gcp_compute_gpu_instance
version_added: 0.1.0
short_description: Create, update and delete a Compute Engine VM with GPUs (standard, Spot or preemptible)
description:
  - Creates, updates in place or deletes one Compute Engine VM instance, typically a GPU training
    VM, with the Compute Engine API v1 (C(compute.googleapis.com)).
  - Supports the three provisioning models, O(provisioning=standard), O(provisioning=spot) (with
    its O(instance_termination_action)) and the legacy O(provisioning=preemptible).
  - Labels, metadata, network tags, deletion protection and the auto-delete flag of the disks are
    changed in place (C(setLabels), C(setMetadata), C(setTags) with the fingerprints read,
    C(setDeletionProtection), C(setDiskAutoDelete)).
  - A difference in a setting that cannot be changed in place (machine type, GPUs, provisioning
    and scheduling, boot disk size or type, data disks, network, subnetwork, external IP, service
    account) is refused before anything is changed, with each such setting listed as
    C(current -> wanted); delete the instance (O(state=absent)) and create it again to apply it.
  - Only the settings this module manages are compared; output-only fields are ignored, and a
    URL and a short name of the same machine type, GPU type, disk type, network, subnetwork or disk
    compare equal. The image of an existing boot disk is not compared (the instance does not report
    it, and an image family resolves to a different image over time).
  - Every write returns a zone operation, which is waited for (O(wait_timeout)); an operation that
    ends with errors (for example C(ZONE_RESOURCE_POOL_EXHAUSTED) when the zone has no GPU left)
    fails the module with the operation's own messages.
  - "Errors show the API's own message and status, for example
    C(HTTP 403 PERMISSION_DENIED: Required 'compute.instances.create' permission for 'projects/my-ml-project/zones/us-central1-a/instances/trainer-0')."
  - This module supports check mode and diff mode. Check mode only reads (the instance and, when
    O(boot_disk.type) is set, its boot disk) and reports the change that would be made.
author:
  - mlinfra platform team
options:
  project:
    description:
      - The ID of the project of the instance, for example V(my-ml-project).
      - Must be given, here or with the E(GCP_PROJECT) environment variable.
    type: str
  zone:
    description:
      - The zone of the instance, for example V(us-central1-a). The region of O(subnetwork) is the
        zone's region (V(us-central1)).
    type: str
    required: true
  name:
    description:
      - The name of the instance, 1 to 63 lower-case letters, digits and hyphens, starting with a
        letter and not ending with a hyphen (RFC 1035).
    type: str
    required: true
  state:
    description:
      - V(present) creates the instance, or updates it in place when it exists.
      - V(absent) deletes the instance (and the disks attached with auto-delete). Refused while the
        instance has deletion protection.
    type: str
    choices: ['present', 'absent']
    default: present
  machine_type:
    description:
      - The machine type, for example V(a2-highgpu-1g), V(g2-standard-8) or V(n1-standard-8)
        (a URL is accepted and compared by its name).
      - Required with O(state=present).
    type: str
  accelerators:
    description:
      - The GPUs attached to the instance. V([]) means none.
      - Machine types that come with their GPUs (A2, A3, A4, G2, G4 series) get them from the
        machine type; for these the list is not sent when the instance is created, and it is only
        compared with the GPUs the instance reports.
      - When not set, the GPUs of an existing instance are not compared and a new instance gets
        none (apart from those of its machine type).
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - The accelerator type, for example V(nvidia-tesla-t4), V(nvidia-tesla-a100) or
            V(nvidia-l4) (a URL is accepted and compared by its name).
        type: str
        required: true
      count:
        description: How many GPUs of this type.
        type: int
        default: 1
  boot_disk:
    description:
      - The boot disk, created with the instance. Required with O(state=present).
    type: dict
    suboptions:
      image:
        description:
          - The image or image family, as a full or partial URL, for example
            V(projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu),
            V(projects/debian-cloud/global/images/debian-12-bookworm-v20250610) or
            V(global/images/my-image) (an image of O(project)).
          - Only used when the instance is created; the image of an existing boot disk is not compared.
        type: str
        required: true
      size_gb:
        description:
          - The size of the boot disk in GB, at least 10. When not set, the size of the image.
        type: int
      type:
        description:
          - The disk type, for example V(pd-balanced), V(pd-ssd) or V(hyperdisk-balanced). When not
            set, the API's default (V(pd-standard)).
          - Compared on an existing instance by reading its boot disk (C(disks.get)).
        type: str
      auto_delete:
        description:
          - Whether the boot disk is deleted with the instance. Changed in place (C(setDiskAutoDelete)).
        type: bool
        default: true
  data_disks:
    description:
      - Existing persistent disks to attach (in the instance's zone, or given by URL). They are
        separate resources; they are not created here, and they are kept when the instance is
        deleted unless their O(data_disks[].auto_delete) is true.
      - When not set, the data disks of an existing instance are not compared; V([]) means none.
    type: list
    elements: dict
    suboptions:
      source:
        description:
          - The disk's name in O(zone) (V(training-data)) or its full or partial URL
            (V(projects/PROJECT/zones/ZONE/disks/NAME)).
        type: str
        required: true
      device_name:
        description:
          - The device name the guest sees (C(/dev/disk/by-id/google-DEVICE_NAME)). When not set,
            the API assigns one, which is not compared.
        type: str
      mode:
        description: V(READ_WRITE) or V(READ_ONLY).
        type: str
        choices: ['READ_WRITE', 'READ_ONLY']
        default: READ_WRITE
      auto_delete:
        description:
          - Whether the disk is deleted with the instance. Changed in place (C(setDiskAutoDelete)).
        type: bool
        default: false
  network:
    description:
      - The VPC network of the instance's network interface, by name (V(default)) or URL
        (V(projects/HOST_PROJECT/global/networks/NAME) for a Shared VPC).
      - When neither O(network) nor O(subnetwork) is set, the network V(default). When only
        O(subnetwork) is set, the network of the subnetwork. An empty string is the same as not set.
    type: str
  subnetwork:
    description:
      - The subnetwork, by name (in the zone's region of O(project)) or URL
        (V(projects/HOST_PROJECT/regions/REGION/subnetworks/NAME)). Required with a custom mode network.
      - An empty string is the same as not set.
    type: str
  external_ip:
    description:
      - Whether the network interface gets an ephemeral external IP address (one C(ONE_TO_ONE_NAT)
        access config). Without it, the instance reaches the internet only through Cloud NAT.
    type: bool
    default: false
  network_tags:
    description:
      - The network tags (used by firewall rules and routes). Changed in place (C(setTags)).
      - When not set, the tags of an existing instance are not compared; V([]) removes them all.
    type: list
    elements: str
  service_account:
    description:
      - The service account the instance runs as, and its OAuth scopes.
      - When not set, a new instance gets no service account and the service account of an
        existing instance is not compared.
    type: dict
    suboptions:
      email:
        description:
          - The service account's e-mail, or V(default) for the project's Compute Engine default
            service account.
        type: str
        required: true
      scopes:
        description:
          - OAuth scopes, as URLs or short names. A short name is expanded to
            C(https://www.googleapis.com/auth/NAME) (V(cloud-platform)), except the gcloud aliases
            V(storage-ro), V(storage-rw), V(storage-full), V(compute-ro), V(compute-rw),
            V(logging-write), V(monitoring-read), V(monitoring-write), V(trace), V(sql-admin),
            V(service-control), V(service-management), V(userinfo-email), V(cloud-source-repos) and
            V(cloud-source-repos-ro), which are expanded as gcloud does.
        type: list
        elements: str
        default: ['cloud-platform']
  metadata:
    description:
      - Instance metadata (V(startup-script), V(enable-oslogin)...). Values are strings; numbers
        are converted, booleans to V(true)/V(false). Changed in place (C(setMetadata)).
      - When not set, the metadata of an existing instance is not compared.
    type: dict
  purge_metadata:
    description:
      - Whether metadata keys not in O(metadata) are removed. With V(false), O(metadata) is merged
        into the instance's metadata (keys added by others, like C(ssh-keys), are kept).
    type: bool
    default: true
  labels:
    description:
      - Labels of the instance. Keys are 1 to 63 characters, values 0 to 63, of lower-case letters,
        digits, V(_) and V(-); keys start with a letter. At most 64 labels. Changed in place (C(setLabels)).
      - When not set, the labels of an existing instance are not compared.
    type: dict
  purge_labels:
    description:
      - Whether labels not in O(labels) are removed. With V(false), O(labels) is merged into the
        instance's labels.
    type: bool
    default: true
  provisioning:
    description:
      - V(standard) (on-demand), V(spot) (Spot VM, preemptible at any time, no maximum run time) or
        V(preemptible) (the legacy preemptible VM, stopped after at most 24 hours).
      - Spot is requested as C(scheduling.provisioningModel=SPOT) with
        C(scheduling.instanceTerminationAction); preemptible as C(scheduling.preemptible=true).
        An existing instance is V(spot) when its C(provisioningModel) is C(SPOT), else
        V(preemptible) when it is C(preemptible), else V(standard).
    type: str
    choices: ['standard', 'spot', 'preemptible']
    default: standard
  instance_termination_action:
    description:
      - What Compute Engine does to a Spot VM it preempts, V(STOP) or V(DELETE). Only with
        O(provisioning=spot); a new Spot VM gets V(STOP) when it is not set.
    type: str
    choices: ['STOP', 'DELETE']
  automatic_restart:
    description:
      - Whether Compute Engine restarts the instance when it stops it (host error, maintenance).
        Must be V(false) (or unset) with O(provisioning=spot) or O(provisioning=preemptible).
      - When not set, V(true) for a new standard instance and V(false) otherwise; not compared on
        an existing instance with the same provisioning.
    type: bool
  on_host_maintenance:
    description:
      - V(TERMINATE) or V(MIGRATE) (live migration) on host maintenance. Instances with GPUs, Spot
        and preemptible instances cannot live-migrate, so V(TERMINATE) is required for them.
      - When not set, V(TERMINATE) for a new instance with GPUs or with Spot or preemptible
        provisioning, else V(MIGRATE); not compared on an existing instance with the same provisioning.
    type: str
    choices: ['TERMINATE', 'MIGRATE']
  deletion_protection:
    description:
      - Whether the instance is protected against deletion. Changed in place (C(setDeletionProtection)).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait for each operation (creation, deletion, each update) to finish.
    type: int
    default: 600
notes:
  - The caller needs C(compute.instances.get) and, unless in check mode, C(compute.instances.create),
    C(compute.instances.delete) and the C(compute.instances.set*) permissions (for example
    C(roles/compute.instanceAdmin.v1)), C(compute.disks.get) when O(boot_disk.type) is compared,
    and C(iam.serviceAccounts.actAs) on O(service_account.email).
  - A GPU VM can fail to start when the zone has no GPU of that type left; the operation then fails
    with the API's message (C(ZONE_RESOURCE_POOL_EXHAUSTED)); try another zone.
  - The instance is not started or stopped; a stopped (C(TERMINATED)) instance is left stopped.
  - The authentication options are those of the C(google.cloud) collection and are handled by its
    C(gcp_utils) module utilities. When O(scopes) is not set, the C(https://www.googleapis.com/auth/compute)
    scope is used. O(env_type) only changes the User-Agent.
requirements:
  - python >= 3.9
  - requests
  - google-auth
extends_documentation_fragment:
  - google.cloud.gcp
"""

EXAMPLES = r"""
- name: A Spot VM with one A100 (A2 machine type), the PyTorch image and a data disk
  mlinfra.gpu_platform.gcp_compute_gpu_instance:
    project: my-ml-project
    zone: us-central1-a
    name: trainer-0
    machine_type: a2-highgpu-1g
    accelerators:
      - type: nvidia-tesla-a100
        count: 1
    boot_disk:
      image: projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu
      size_gb: 200
      type: pd-ssd
    data_disks:
      - source: training-data
        device_name: data
    subnetwork: ml-private
    network_tags: [gpu-training]
    service_account:
      email: gpu-trainer@my-ml-project.iam.gserviceaccount.com
      scopes: [cloud-platform]
    metadata:
      enable-oslogin: "TRUE"
      install-nvidia-driver: "True"
    labels:
      project: ml-platform
      environment: dev
    provisioning: spot
    instance_termination_action: STOP
    auth_kind: serviceaccount
    service_account_file: /etc/ansible/gcp-deployer.json
  register: trainer

- name: An on-demand N1 VM with two T4 GPUs and an external IP
  mlinfra.gpu_platform.gcp_compute_gpu_instance:
    project: my-ml-project
    zone: europe-west4-a
    name: inference-0
    machine_type: n1-standard-8
    accelerators:
      - type: nvidia-tesla-t4
        count: 2
    on_host_maintenance: TERMINATE
    boot_disk:
      image: projects/debian-cloud/global/images/family/debian-12
      size_gb: 100
      type: pd-balanced
    external_ip: true
    deletion_protection: true
    auth_kind: application

- name: Plan only (no write) - what would change?
  mlinfra.gpu_platform.gcp_compute_gpu_instance:
    project: my-ml-project
    zone: us-central1-a
    name: trainer-0
    machine_type: a2-highgpu-1g
    boot_disk:
      image: projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu
    provisioning: spot
    labels:
      environment: staging
    auth_kind: application
  check_mode: true
  diff: true

- name: Delete it (the data disk is kept)
  mlinfra.gpu_platform.gcp_compute_gpu_instance:
    project: my-ml-project
    zone: us-central1-a
    name: trainer-0
    state: absent
    auth_kind: accesstoken
    access_token: "{{ lookup('ansible.builtin.env', 'GCP_ACCESS_TOKEN') }}"
"""

RETURN = r"""
instance:
  description:
    - The instance resource as the API returns it (C(compute#instance)) after the change.
    - In check mode, the instance as read, or the body that would be sent to create it.
    - Empty when the instance does not exist (any more).
  returned: success
  type: dict
  sample:
    name: trainer-0
    id: "4567890123456789012"
    machineType: https://www.googleapis.com/compute/v1/projects/my-ml-project/zones/us-central1-a/machineTypes/a2-highgpu-1g
    status: RUNNING
    scheduling: {provisioningModel: SPOT, instanceTerminationAction: STOP, preemptible: true,
                 automaticRestart: false, onHostMaintenance: TERMINATE}
self_link:
  description: The instance's URL.
  returned: when the instance exists (or would be created, in check mode it is the URL it would have)
  type: str
  sample: https://www.googleapis.com/compute/v1/projects/my-ml-project/zones/us-central1-a/instances/trainer-0
id:
  description: The instance's numeric ID (as a string, as the API returns it).
  returned: when the instance exists
  type: str
  sample: "4567890123456789012"
private_ip:
  description: The internal IP address of the first network interface.
  returned: when the instance exists
  type: str
  sample: 10.128.0.5
public_ip:
  description: The external IP address of the first network interface, if it has one.
  returned: when the instance has an external IP address
  type: str
  sample: 34.123.45.67
actions:
  description:
    - The API methods called to make the change (or that would be called, in check mode), in order.
    - When an update fails, the updates made before it (they stay made, and RV(changed) is then true).
  returned: success, and when an update in place fails
  type: list
  elements: str
  sample: ["setLabels", "setMetadata"]
immutable_changes:
  description:
    - On failure because of settings that cannot be changed in place, each such setting.
  returned: when the module fails for that reason
  type: list
  elements: dict
  contains:
    field:
      description: The option (V(machine_type), V(boot_disk.size_gb)...).
      returned: always
      type: str
      sample: machine_type
    current:
      description: The current value, in the module's terms.
      returned: always
      type: raw
      sample: a2-highgpu-1g
    wanted:
      description: The requested value, in the module's terms.
      returned: always
      type: raw
      sample: a2-highgpu-2g
error:
  description: The API error that made the module fail.
  returned: on an API error
  type: dict
  contains:
    http_status:
      description: The HTTP status code, when known.
      returned: on an API error
      type: int
      sample: 403
    status:
      description: The API's status name, or the code of a failed operation's first error.
      returned: on an API error
      type: str
      sample: ZONE_RESOURCE_POOL_EXHAUSTED
    message:
      description: The server's message, verbatim (the messages of a failed operation's errors).
      returned: on an API error
      type: str
      sample: >-
        The zone 'projects/my-ml-project/zones/us-central1-a' does not have enough resources available
        to fulfill the request. Try a different zone, or try again later.
    details:
      description: The error details the API sent, or the errors of a failed operation.
      returned: on an API error
      type: list
      elements: dict
"""

import copy
import re
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple

from ansible_collections.google.cloud.plugins.module_utils.gcp_utils import GcpModule

from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpApiError
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpJsonClient

API = "https://compute.googleapis.com/compute/v1/"
PRODUCT = "compute"
DEFAULT_AUTH_SCOPES = ["https://www.googleapis.com/auth/compute"]
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
# gcloud's scope aliases that are not simply https://www.googleapis.com/auth/<alias>.
SCOPE_ALIASES = {
    "cloud-source-repos": "source.full_control",
    "cloud-source-repos-ro": "source.read_only",
    "compute-ro": "compute.readonly",
    "compute-rw": "compute",
    "logging-write": "logging.write",
    "monitoring-read": "monitoring.read",
    "monitoring-write": "monitoring.write",
    "service-control": "servicecontrol",
    "service-management": "service.management.readonly",
    "sql-admin": "sqlservice.admin",
    "storage-full": "devstorage.full_control",
    "storage-ro": "devstorage.read_only",
    "storage-rw": "devstorage.read_write",
    "trace": "trace.append",
    "userinfo-email": "userinfo.email",
}
# Machine types whose GPUs come with the machine type (no guestAccelerators on insert).
GPU_MACHINE_PREFIXES = ("a2-", "a3-", "a4-", "a4x-", "g2-", "g4-")
DEFAULT_COMPUTE_SA_SUFFIX = "-compute@developer.gserviceaccount.com"

PROJECT_RE = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
ZONE_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z0-9]+$")
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
TYPE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
IMAGE_RE = re.compile(
    r"^(?:https?://[^/]+/compute/(?:v1|beta|alpha)/)?(?:projects/[a-z0-9.:-]+/)?global/images/(?:family/)?"
    r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$"
)
METADATA_KEY_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")
URL_PREFIX_RE = re.compile(r"^https?://[^/]+/compute/(?:v1|beta|alpha)/")
METADATA_VALUE_MAX = 256 * 1024
MAX_LABELS = 64
MAX_TAGS = 64


# ---------------------------------------------------------------------------
# Names and URLs
# ---------------------------------------------------------------------------


def last_segment(value: Optional[str]) -> Optional[str]:
    if not value:
        return value
    return value.rstrip("/").rsplit("/", 1)[-1]


def strip_url(value: str) -> str:
    """'https://www.googleapis.com/compute/v1/projects/p/...' -> 'projects/p/...'."""
    return URL_PREFIX_RE.sub("", value.strip()).strip("/")


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def parse_global(value: str, collection: str, project: str) -> Optional[Tuple[str, str]]:
    """(project, name) of a global resource given by name, partial or full URL; None if malformed."""
    parts = strip_url(value).split("/")
    if len(parts) == 1:
        return project, parts[0]
    if len(parts) == 3 and parts[:2] == ["global", collection]:
        return project, parts[2]
    if len(parts) == 5 and parts[0] == "projects" and parts[2:4] == ["global", collection]:
        return parts[1], parts[4]
    return None


def parse_scoped(
    value: str, scope: str, collection: str, project: str, location: str
) -> Optional[Tuple[str, str, str]]:
    """(project, zone or region, name) of a zonal/regional resource; None if malformed."""
    parts = strip_url(value).split("/")
    if len(parts) == 1:
        return project, location, parts[0]
    if len(parts) == 4 and parts[0] == scope and parts[2] == collection:
        return project, parts[1], parts[3]
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == scope and parts[4] == collection:
        return parts[1], parts[3], parts[5]
    return None


class Names:
    """Canonical forms of the project's/zone's resources: short when in our project (and
    zone/region), else a partial URL; the same value given as name or URL gives the same form."""

    def __init__(self, project: str, zone: str):
        self.project = project
        self.zone = zone
        self.region = region_of(zone)

    def network(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        parsed = parse_global(value, "networks", self.project)
        if parsed is None:
            return strip_url(value)
        project, name = parsed
        return name if project == self.project else f"projects/{project}/global/networks/{name}"

    def network_path(self, value: str) -> str:
        parsed = parse_global(value, "networks", self.project)
        return f"projects/{parsed[0]}/global/networks/{parsed[1]}" if parsed else strip_url(value)

    def subnetwork(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        parsed = parse_scoped(value, "regions", "subnetworks", self.project, self.region)
        if parsed is None:
            return strip_url(value)
        project, region, name = parsed
        if project == self.project and region == self.region:
            return name
        return f"projects/{project}/regions/{region}/subnetworks/{name}"

    def subnetwork_path(self, value: str) -> str:
        parsed = parse_scoped(value, "regions", "subnetworks", self.project, self.region)
        return f"projects/{parsed[0]}/regions/{parsed[1]}/subnetworks/{parsed[2]}" if parsed else strip_url(value)

    def disk(self, value: Optional[str]) -> Optional[str]:
        if not value:
            return None
        parsed = parse_scoped(value, "zones", "disks", self.project, self.zone)
        if parsed is None:
            return strip_url(value)
        project, zone, name = parsed
        if project == self.project and zone == self.zone:
            return name
        return f"projects/{project}/zones/{zone}/disks/{name}"

    def disk_path(self, value: str) -> str:
        parsed = parse_scoped(value, "zones", "disks", self.project, self.zone)
        return f"projects/{parsed[0]}/zones/{parsed[1]}/disks/{parsed[2]}" if parsed else strip_url(value)

    def zonal(self, collection: str, name: str) -> str:
        return f"projects/{self.project}/zones/{self.zone}/{collection}/{name}"


def expand_scope(scope: str) -> str:
    scope = scope.strip()
    if "://" in scope:
        return scope
    return SCOPE_PREFIX + SCOPE_ALIASES.get(scope, scope)


def has_builtin_gpus(machine_type: Optional[str]) -> bool:
    return bool(machine_type) and machine_type.startswith(GPU_MACHINE_PREFIXES)


def metadata_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------
# Validation (before any request)
# ---------------------------------------------------------------------------


def _label_char_ok(c: str) -> bool:
    return c in "_-" or c.isdigit() or (c.isalpha() and not c.isupper())


def label_error(key: Any, value: Any) -> Optional[str]:
    key = str(key)
    value = metadata_value(value)
    if not 1 <= len(key) <= 63 or not (key[0].isalpha() and not key[0].isupper()) or not all(map(_label_char_ok, key)):
        return (
            f"label key {key!r} is not valid: 1 to 63 lower-case letters, digits, '_' and '-', "
            "starting with a lower-case letter"
        )
    if len(value) > 63 or not all(map(_label_char_ok, value)):
        return f"label {key}={value!r}: the value must be at most 63 lower-case letters, digits, '_' and '-'"
    return None


def validate_params(module) -> None:
    p = module.params
    fail = module.fail_json
    for option in ("network", "subnetwork"):
        if p[option] is not None and not p[option].strip():
            p[option] = None  # "" is the same as not set
    if not p["project"]:
        fail(msg="project is required: set project (or the GCP_PROJECT environment variable)")
    if not PROJECT_RE.match(p["project"]):
        fail(
            msg=f"project {p['project']!r} is not a project ID (6 to 30 lower-case letters, digits and hyphens, "
            "starting with a letter)"
        )
    if not ZONE_RE.match(p["zone"]):
        fail(msg=f"zone {p['zone']!r} is not a zone name (for example us-central1-a)")
    if not NAME_RE.match(p["name"]):
        fail(
            msg=f"name {p['name']!r} is not a valid instance name: 1 to 63 lower-case letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen (RFC 1035)"
        )
    if p["wait_timeout"] <= 0:
        fail(msg=f"wait_timeout must be a positive number of seconds, not {p['wait_timeout']}")
    if p["state"] == "absent":
        return
    for option in ("machine_type", "boot_disk"):
        if p[option] is None:
            fail(msg=f"{option} is required with state=present")

    machine_type = last_segment(p["machine_type"])
    if not TYPE_RE.match(machine_type or ""):
        fail(msg=f"machine_type {p['machine_type']!r} is not a machine type name (for example a2-highgpu-1g)")

    accelerators = p["accelerators"] or []
    seen = set()
    for acc in accelerators:
        acc_type = last_segment(acc["type"])
        if not TYPE_RE.match(acc_type or ""):
            fail(msg=f"accelerators: {acc['type']!r} is not an accelerator type name (for example nvidia-tesla-t4)")
        if acc["count"] is None or acc["count"] < 1:
            fail(msg=f"accelerators: the count of {acc_type} must be at least 1 (remove the entry for no GPU)")
        if acc_type in seen:
            fail(msg=f"accelerators: {acc_type} is listed twice; give its total count once")
        seen.add(acc_type)
    has_gpus = bool(accelerators) or has_builtin_gpus(machine_type)
    if has_gpus and p["on_host_maintenance"] == "MIGRATE":
        what = "accelerators are set" if accelerators else f"machine type {machine_type} has GPUs"
        fail(
            msg=f"on_host_maintenance is MIGRATE but {what}: VMs with GPUs cannot live-migrate, "
            "set on_host_maintenance to TERMINATE (or leave it unset)"
        )

    provisioning = p["provisioning"]
    if provisioning in ("spot", "preemptible"):
        if p["automatic_restart"]:
            fail(
                msg=f"automatic_restart is true with provisioning={provisioning}: Spot and preemptible VMs cannot "
                "restart automatically; set automatic_restart to false (or leave it unset), or provisioning to standard"
            )
        if p["on_host_maintenance"] == "MIGRATE":
            fail(
                msg=f"on_host_maintenance is MIGRATE with provisioning={provisioning}: Spot and preemptible VMs "
                "cannot live-migrate; set on_host_maintenance to TERMINATE (or leave it unset)"
            )
    if p["instance_termination_action"] and provisioning != "spot":
        fail(
            msg=f"instance_termination_action is only for Spot VMs (provisioning=spot), not provisioning={provisioning}"
        )

    boot = p["boot_disk"]
    if not IMAGE_RE.match(boot["image"].strip()):
        fail(
            msg=f"boot_disk.image {boot['image']!r} is not an image URL: use projects/PROJECT/global/images/IMAGE, "
            "projects/PROJECT/global/images/family/FAMILY (for example "
            "projects/deeplearning-platform-release/global/images/family/pytorch-latest-gpu) or global/images/IMAGE"
        )
    if boot["size_gb"] is not None and boot["size_gb"] < 10:
        fail(msg=f"boot_disk.size_gb is {boot['size_gb']}; it must be at least 10 (GB)")
    if boot["type"] is not None and not TYPE_RE.match(last_segment(boot["type"]) or ""):
        fail(msg=f"boot_disk.type {boot['type']!r} is not a disk type name (for example pd-ssd or hyperdisk-balanced)")

    names = Names(p["project"], p["zone"])
    sources = set()
    devices = set()
    for disk in p["data_disks"] or []:
        if names.disk_path(disk["source"]).count("/") != 5:
            fail(
                msg=f"data_disks: source {disk['source']!r} must be a disk name or projects/PROJECT/zones/ZONE/disks/NAME"
            )
        source = names.disk(disk["source"])
        if not NAME_RE.match(last_segment(source) or ""):
            fail(msg=f"data_disks: source {disk['source']!r} does not name a disk (RFC 1035 name)")
        if source in sources:
            fail(msg=f"data_disks: disk {source} is listed twice")
        sources.add(source)
        if disk["device_name"] is not None:
            if not NAME_RE.match(disk["device_name"]):
                fail(
                    msg=f"data_disks: device_name {disk['device_name']!r} must be 1 to 63 lower-case letters, digits "
                    "and hyphens, starting with a letter"
                )
            if disk["device_name"] in devices:
                fail(msg=f"data_disks: device_name {disk['device_name']} is used twice")
            devices.add(disk["device_name"])

    for option, value, parser in (
        ("network", p["network"], lambda v: parse_global(v, "networks", names.project)),
        (
            "subnetwork",
            p["subnetwork"],
            lambda v: parse_scoped(v, "regions", "subnetworks", names.project, names.region),
        ),
    ):
        if value is not None:
            parsed = parser(value)
            if parsed is None or not NAME_RE.match(parsed[-1]):
                fail(msg=f"{option} {value!r} must be a name or a URL of a {option}")
    if p["subnetwork"] is not None:
        region = parse_scoped(p["subnetwork"], "regions", "subnetworks", names.project, names.region)[1]
        if region != names.region:
            fail(
                msg=f"subnetwork {p['subnetwork']!r} is in region {region}, but zone {p['zone']} is in region {names.region}"
            )

    tags = p["network_tags"] or []
    for tag in tags:
        if not NAME_RE.match(tag):
            fail(
                msg=f"network_tags: {tag!r} is not a valid tag: 1 to 63 lower-case letters, digits and hyphens, "
                "starting with a letter and not ending with a hyphen"
            )
    if len(set(tags)) > MAX_TAGS:
        fail(msg=f"network_tags: at most {MAX_TAGS} tags, not {len(set(tags))}")

    sa = p["service_account"]
    if sa is not None:
        if sa["email"] != "default" and not EMAIL_RE.match(sa["email"]):
            fail(
                msg=f"service_account.email {sa['email']!r} must be a service account e-mail or 'default' "
                "(omit service_account for an instance without one)"
            )
        if not sa["scopes"]:
            fail(msg="service_account.scopes must list at least one scope (for example cloud-platform)")

    for key, value in (p["metadata"] or {}).items():
        if not METADATA_KEY_RE.match(str(key)):
            fail(msg=f"metadata key {key!r} is not valid: 1 to 128 letters, digits, '_' and '-'")
        if isinstance(value, (dict, list)):
            fail(msg=f"metadata {key}: the value must be a string, not a {type(value).__name__}")
        if len(metadata_value(value).encode("utf-8")) > METADATA_VALUE_MAX:
            fail(msg=f"metadata {key}: the value is larger than 256 KB")

    labels = p["labels"] or {}
    if len(labels) > MAX_LABELS:
        fail(msg=f"labels: at most {MAX_LABELS} labels, not {len(labels)}")
    for key, value in labels.items():
        if isinstance(value, (dict, list)):
            fail(msg=f"label {key}: the value must be a string, not a {type(value).__name__}")
        error = label_error(key, value)
        if error:
            fail(msg=error)


# ---------------------------------------------------------------------------
# The instance in the module's terms
# ---------------------------------------------------------------------------


def provisioning_of(scheduling: Dict[str, Any]) -> str:
    if scheduling.get("provisioningModel") == "SPOT":
        return "spot"
    if scheduling.get("preemptible"):
        return "preemptible"
    return "standard"


def boot_disk_of(instance: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    disks = instance.get("disks") or []
    for disk in disks:
        if disk.get("boot"):
            return disk
    return None


def current_view(instance: Dict[str, Any], names: Names, boot_disk_type: Optional[str] = None) -> Dict[str, Any]:
    """The existing instance in the module's option terms (only what the module manages)."""
    scheduling = instance.get("scheduling") or {}
    provisioning = provisioning_of(scheduling)
    accelerators = sorted(
        (
            {"type": last_segment(a.get("acceleratorType")), "count": int(a.get("acceleratorCount") or 0)}
            for a in instance.get("guestAccelerators") or []
        ),
        key=lambda a: a["type"] or "",
    )
    view: Dict[str, Any] = {
        "machine_type": last_segment(instance.get("machineType")),
        "accelerators": accelerators,
        "provisioning": provisioning,
    }
    if provisioning == "spot":
        view["instance_termination_action"] = scheduling.get("instanceTerminationAction") or "STOP"
    automatic_restart = scheduling.get("automaticRestart")
    view["automatic_restart"] = bool(automatic_restart) if automatic_restart is not None else provisioning == "standard"
    view["on_host_maintenance"] = scheduling.get("onHostMaintenance") or (
        "MIGRATE" if provisioning == "standard" and not accelerators else "TERMINATE"
    )

    boot = boot_disk_of(instance) or {}
    boot_view: Dict[str, Any] = {"auto_delete": bool(boot.get("autoDelete"))}
    if boot.get("diskSizeGb") is not None:
        boot_view["size_gb"] = int(boot["diskSizeGb"])
    if boot_disk_type is not None:
        boot_view["type"] = boot_disk_type
    view["boot_disk"] = boot_view

    data_disks = []
    for disk in instance.get("disks") or []:
        if disk.get("boot") or disk.get("type") == "SCRATCH":
            continue
        data_disks.append(
            {
                "source": names.disk(disk.get("source")),
                "device_name": disk.get("deviceName"),
                "mode": disk.get("mode") or "READ_WRITE",
                "auto_delete": bool(disk.get("autoDelete")),
            }
        )
    view["data_disks"] = sorted(data_disks, key=lambda d: d["source"] or "")

    nics = instance.get("networkInterfaces") or [{}]
    nic = nics[0]
    view["network"] = names.network(nic.get("network"))
    view["subnetwork"] = names.subnetwork(nic.get("subnetwork"))
    view["external_ip"] = any(
        ac.get("type", "ONE_TO_ONE_NAT") == "ONE_TO_ONE_NAT" for ac in nic.get("accessConfigs") or []
    )
    view["network_tags"] = sorted((instance.get("tags") or {}).get("items") or [])

    accounts = instance.get("serviceAccounts") or []
    view["service_account"] = (
        {"email": accounts[0].get("email"), "scopes": sorted(accounts[0].get("scopes") or [])} if accounts else None
    )
    view["metadata"] = {i.get("key"): i.get("value", "") for i in (instance.get("metadata") or {}).get("items") or []}
    view["labels"] = dict(instance.get("labels") or {})
    view["deletion_protection"] = bool(instance.get("deletionProtection"))
    return view


def wanted_view(p: Dict[str, Any], names: Names, current: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The instance as it should be, in the module's terms: the requested settings over `current`
    (the settings not requested keep their current value; for a new instance, their default)."""
    after: Dict[str, Any] = copy.deepcopy(current) if current else {}
    machine_type = last_segment(p["machine_type"])
    after["machine_type"] = machine_type

    if p["accelerators"] is not None:
        after["accelerators"] = sorted(
            ({"type": last_segment(a["type"]), "count": a["count"]} for a in p["accelerators"]), key=lambda a: a["type"]
        )
        if current is not None and has_builtin_gpus(machine_type) and not current["accelerators"]:
            # The GPUs of A2/G2... come with the machine type; this instance does not report them.
            after["accelerators"] = []
    elif current is None:
        after["accelerators"] = []

    provisioning = p["provisioning"]
    same_model = current is not None and current["provisioning"] == provisioning
    after["provisioning"] = provisioning
    if provisioning == "spot":
        after["instance_termination_action"] = p["instance_termination_action"] or (
            current["instance_termination_action"] if same_model else "STOP"
        )
    else:
        after.pop("instance_termination_action", None)
    if p["automatic_restart"] is not None:
        after["automatic_restart"] = p["automatic_restart"]
    elif not same_model:
        after["automatic_restart"] = provisioning == "standard"
    gpus = bool(after["accelerators"]) or has_builtin_gpus(machine_type)
    if p["on_host_maintenance"] is not None:
        after["on_host_maintenance"] = p["on_host_maintenance"]
    elif not same_model:
        after["on_host_maintenance"] = "TERMINATE" if provisioning != "standard" or gpus else "MIGRATE"

    boot = p["boot_disk"]
    boot_view: Dict[str, Any] = dict(after.get("boot_disk") or {})
    if current is None:
        boot_view["image"] = boot["image"].strip()
    if boot["size_gb"] is not None:
        boot_view["size_gb"] = boot["size_gb"]
    if boot["type"] is not None:
        boot_view["type"] = last_segment(boot["type"])
    boot_view["auto_delete"] = boot["auto_delete"]
    after["boot_disk"] = boot_view

    if p["data_disks"] is not None:
        attached = {d["source"]: d for d in (current or {}).get("data_disks") or []}
        disks = []
        for disk in p["data_disks"]:
            source = names.disk(disk["source"])
            device_name = disk["device_name"] or (attached.get(source) or {}).get("device_name")
            entry = {
                "source": source,
                "device_name": device_name,
                "mode": disk["mode"],
                "auto_delete": disk["auto_delete"],
            }
            if device_name is None:
                del entry["device_name"]
            disks.append(entry)
        after["data_disks"] = sorted(disks, key=lambda d: d["source"])
    elif current is None:
        after["data_disks"] = []

    if p["network"] is not None:
        after["network"] = names.network(p["network"])
    elif p["subnetwork"] is None:
        after["network"] = "default"
    elif current is None:
        after.pop("network", None)  # the subnetwork's network
    if p["subnetwork"] is not None:
        after["subnetwork"] = names.subnetwork(p["subnetwork"])
    elif current is None:
        after.pop("subnetwork", None)
    after["external_ip"] = p["external_ip"]

    if p["network_tags"] is not None:
        after["network_tags"] = sorted(set(p["network_tags"]))
    elif current is None:
        after["network_tags"] = []

    sa = p["service_account"]
    if sa is not None:
        email = sa["email"]
        current_sa = (current or {}).get("service_account")
        if email == "default" and current_sa and (current_sa["email"] or "").endswith(DEFAULT_COMPUTE_SA_SUFFIX):
            email = current_sa["email"]
        after["service_account"] = {"email": email, "scopes": sorted({expand_scope(s) for s in sa["scopes"]})}
    elif current is None:
        after["service_account"] = None

    for option, purge in (("metadata", "purge_metadata"), ("labels", "purge_labels")):
        if p[option] is not None:
            given = {str(k): metadata_value(v) for k, v in p[option].items()}
            if current is not None and not p[purge]:
                merged = dict(current[option])
                merged.update(given)
                given = merged
            after[option] = given
        elif current is None:
            after[option] = {}

    after["deletion_protection"] = p["deletion_protection"]
    return after


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


def _fmt(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field == "accelerators":
        return ", ".join(f"{a['count']} {a['type']}" for a in value) or "none"
    if field == "data_disks":
        return (
            ", ".join(
                d["source"] + f" ({d['mode']}" + (f", device {d['device_name']}" if d.get("device_name") else "") + ")"
                for d in value
            )
            or "none"
        )
    if field == "service_account":
        return f"{value['email']} (scopes {', '.join(value['scopes'])})"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _without(items: List[Dict[str, Any]], key: str) -> List[Dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != key} for item in items]


def _disks_for_compare(wanted: List[Dict[str, Any]], current: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The current disks as comparable with the wanted ones (device names compared only when wanted)."""
    wanted_devices = {d["source"]: "device_name" in d for d in wanted}
    result = []
    for disk in _without(current, "auto_delete"):
        if not wanted_devices.get(disk["source"], True):
            disk.pop("device_name", None)
        result.append(disk)
    return result


IMMUTABLE_FIELDS = (
    "machine_type",
    "accelerators",
    "provisioning",
    "instance_termination_action",
    "automatic_restart",
    "on_host_maintenance",
    "boot_disk.size_gb",
    "boot_disk.type",
    "data_disks",
    "network",
    "subnetwork",
    "external_ip",
    "service_account",
)


def immutable_changes(before: Dict[str, Any], after: Dict[str, Any]) -> List[Dict[str, Any]]:
    changes = []
    for field in IMMUTABLE_FIELDS:
        if field.startswith("boot_disk."):
            key = field.split(".", 1)[1]
            current, wanted = before["boot_disk"].get(key), after["boot_disk"].get(key)
        elif field == "data_disks":
            wanted = _without(after["data_disks"], "auto_delete")
            current = _disks_for_compare(wanted, before["data_disks"])
        else:
            current, wanted = before.get(field), after.get(field)
        if current != wanted:
            changes.append({"field": field, "current": current, "wanted": wanted})
    return changes


def immutable_message(name: str, changes: List[Dict[str, Any]]) -> str:
    listed = "; ".join(
        f"{c['field']}: {_fmt(c['field'].split('.')[0], c['current'])} -> {_fmt(c['field'].split('.')[0], c['wanted'])}"
        for c in changes
    )
    return (
        f"Instance {name} exists with settings that cannot be changed in place: {listed}. Nothing was changed. "
        "To apply them, delete the instance (state=absent) and create it again (state=present): data disks are "
        "separate resources and are kept (unless attached with auto_delete), the boot disk is deleted with the "
        "instance when boot_disk.auto_delete is true. Or change the options back to the current values."
    )


def update_plan(before: Dict[str, Any], after: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """[(method, {"params": ..., "body": ...})] of the in-place updates, without fingerprints."""
    plan: List[Tuple[str, Dict[str, Any]]] = []
    if before["labels"] != after["labels"]:
        plan.append(("setLabels", {"body": {"labels": after["labels"]}}))
    if before["metadata"] != after["metadata"]:
        items = [{"key": k, "value": v} for k, v in sorted(after["metadata"].items())]
        plan.append(("setMetadata", {"body": {"items": items}}))
    if before["network_tags"] != after["network_tags"]:
        plan.append(("setTags", {"body": {"items": after["network_tags"]}}))
    if before["deletion_protection"] != after["deletion_protection"]:
        plan.append(
            (
                "setDeletionProtection",
                {"params": {"deletionProtection": "true" if after["deletion_protection"] else "false"}},
            )
        )
    return plan


def auto_delete_plan(
    instance: Dict[str, Any], before: Dict[str, Any], after: Dict[str, Any], names: Names
) -> List[Tuple[str, Dict[str, Any]]]:
    plan: List[Tuple[str, Dict[str, Any]]] = []
    boot = boot_disk_of(instance)
    if boot is not None and before["boot_disk"]["auto_delete"] != after["boot_disk"]["auto_delete"]:
        plan.append(
            (
                "setDiskAutoDelete",
                {
                    "params": {
                        "autoDelete": "true" if after["boot_disk"]["auto_delete"] else "false",
                        "deviceName": boot.get("deviceName"),
                    }
                },
            )
        )
    wanted = {d["source"]: d["auto_delete"] for d in after["data_disks"]}
    for disk in instance.get("disks") or []:
        if disk.get("boot") or disk.get("type") == "SCRATCH":
            continue
        source = names.disk(disk.get("source"))
        if source in wanted and bool(disk.get("autoDelete")) != wanted[source]:
            plan.append(
                (
                    "setDiskAutoDelete",
                    {
                        "params": {
                            "autoDelete": "true" if wanted[source] else "false",
                            "deviceName": disk.get("deviceName"),
                        }
                    },
                )
            )
    return plan


# ---------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------


def scheduling_body(after: Dict[str, Any]) -> Dict[str, Any]:
    """Spot: provisioningModel SPOT + instanceTerminationAction (the API sets preemptible=true on
    the instance itself); preemptible: the legacy preemptible=true; standard: provisioningModel STANDARD."""
    scheduling: Dict[str, Any] = {
        "automaticRestart": after["automatic_restart"],
        "onHostMaintenance": after["on_host_maintenance"],
    }
    if after["provisioning"] == "spot":
        scheduling["provisioningModel"] = "SPOT"
        scheduling["instanceTerminationAction"] = after["instance_termination_action"]
    elif after["provisioning"] == "preemptible":
        scheduling["preemptible"] = True
    else:
        scheduling["provisioningModel"] = "STANDARD"
    return scheduling


def insert_body(p: Dict[str, Any], names: Names, after: Dict[str, Any]) -> Dict[str, Any]:
    boot = p["boot_disk"]
    initialize: Dict[str, Any] = {"sourceImage": boot["image"].strip()}
    if boot["size_gb"] is not None:
        initialize["diskSizeGb"] = str(boot["size_gb"])
    if boot["type"] is not None:
        initialize["diskType"] = names.zonal("diskTypes", last_segment(boot["type"]))
    disks: List[Dict[str, Any]] = [
        {
            "boot": True,
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "autoDelete": boot["auto_delete"],
            "initializeParams": initialize,
        }
    ]
    for disk in p["data_disks"] or []:
        attached = {
            "boot": False,
            "type": "PERSISTENT",
            "source": names.disk_path(disk["source"]),
            "mode": disk["mode"],
            "autoDelete": disk["auto_delete"],
        }
        if disk["device_name"]:
            attached["deviceName"] = disk["device_name"]
        disks.append(attached)

    nic: Dict[str, Any] = {}
    if p["network"] is not None or p["subnetwork"] is None:
        nic["network"] = names.network_path(p["network"] or "default")
    if p["subnetwork"] is not None:
        nic["subnetwork"] = names.subnetwork_path(p["subnetwork"])
    if p["external_ip"]:
        nic["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}]

    body: Dict[str, Any] = {
        "name": p["name"],
        "machineType": names.zonal("machineTypes", after["machine_type"]),
        "disks": disks,
        "networkInterfaces": [nic],
        "scheduling": scheduling_body(after),
        "deletionProtection": after["deletion_protection"],
    }
    if after["accelerators"] and not has_builtin_gpus(after["machine_type"]):
        body["guestAccelerators"] = [
            {"acceleratorType": names.zonal("acceleratorTypes", a["type"]), "acceleratorCount": a["count"]}
            for a in after["accelerators"]
        ]
    if after["network_tags"]:
        body["tags"] = {"items": after["network_tags"]}
    if after["service_account"]:
        body["serviceAccounts"] = [dict(after["service_account"])]
    if after["metadata"]:
        body["metadata"] = {"items": [{"key": k, "value": v} for k, v in sorted(after["metadata"].items())]}
    if after["labels"]:
        body["labels"] = dict(after["labels"])
    return body


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------


class Api:
    def __init__(self, client: GcpJsonClient, project: str, zone: str, name: str, timeout: float):
        self.client = client
        self.timeout = timeout
        self.instances = f"{API}projects/{project}/zones/{zone}/instances"
        self.instance = f"{self.instances}/{name}"
        self.operations = f"{API}projects/{project}/zones/{zone}/operations"

    def get(self) -> Optional[Dict[str, Any]]:
        return self.client.get(self.instance, allow_missing=True)

    def get_disk(self, url: str) -> Optional[Dict[str, Any]]:
        return self.client.get(url if "://" in url else API + url, allow_missing=True)

    def wait(self, operation: Dict[str, Any]) -> Dict[str, Any]:
        url = operation.get("selfLink") or (f"{self.operations}/{operation['name']}" if operation.get("name") else None)
        return self.client.wait_operation(operation, self.timeout, url=url)

    def insert(self, body: Dict[str, Any]) -> Dict[str, Any]:
        return self.wait(self.client.post(self.instances, body))

    def delete(self) -> Dict[str, Any]:
        return self.wait(self.client.delete(self.instance))

    def call(
        self, method: str, body: Optional[Dict[str, Any]] = None, params: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]:
        return self.wait(self.client.post(f"{self.instance}/{method}", body, params=params))


def fail_api(module, error: GcpApiError, action: str, **extra) -> None:
    module.fail_json(msg=f"{action} failed: {error.describe()}", error=error.as_dict(), **extra)


def outputs(instance: Dict[str, Any]) -> Dict[str, Any]:
    nic = (instance.get("networkInterfaces") or [{}])[0]
    access = nic.get("accessConfigs") or [{}]
    return {
        "self_link": instance.get("selfLink"),
        "id": str(instance["id"]) if instance.get("id") is not None else None,
        "private_ip": nic.get("networkIP"),
        "public_ip": access[0].get("natIP"),
    }


def fingerprinted(method: str, spec: Dict[str, Any], instance: Dict[str, Any]) -> Dict[str, Any]:
    """The request body of an update with the fingerprint read from `instance`."""
    body = copy.deepcopy(spec.get("body"))
    if method == "setLabels":
        body["labelFingerprint"] = instance.get("labelFingerprint")
    elif method == "setMetadata":
        body["fingerprint"] = (instance.get("metadata") or {}).get("fingerprint")
    elif method == "setTags":
        body["fingerprint"] = (instance.get("tags") or {}).get("fingerprint")
    return body


def run(module, api: Api) -> Dict[str, Any]:
    p = module.params
    names = Names(p["project"], p["zone"])
    name = p["name"]
    where = f"instance {name} in {p['project']}/{p['zone']}"

    try:
        instance = api.get()
    except GcpApiError as e:
        fail_api(module, e, f"Reading {where} (instances.get)")

    if p["state"] == "absent":
        if instance is None:
            return {"changed": False, "instance": {}, "actions": [], "diff": {"before": {}, "after": {}}}
        before = current_view(instance, names)
        if instance.get("deletionProtection"):
            module.fail_json(
                msg=f"Instance {name} has deletion protection: set deletion_protection to false (state=present) "
                "first, then delete it",
                instance=instance,
            )
        if not module.check_mode:
            try:
                api.delete()
            except GcpApiError as e:
                fail_api(module, e, f"Deleting {where} (instances.delete)")
        return {"changed": True, "instance": {}, "actions": ["delete"], "diff": {"before": before, "after": {}}}

    if instance is None:
        after = wanted_view(p, names, None)
        body = insert_body(p, names, after)
        result: Dict[str, Any] = {"changed": True, "actions": ["insert"], "diff": {"before": {}, "after": after}}
        if module.check_mode:
            result["instance"] = body
            result.update(outputs(body))
            result["self_link"] = f"https://www.googleapis.com/compute/v1/{names.zonal('instances', name)}"
            return result
        try:
            api.insert(body)
        except GcpApiError as e:
            fail_api(module, e, f"Creating {where} (instances.insert)")
        try:
            created = api.get() or {}
        except GcpApiError as e:
            fail_api(module, e, f"Reading the new {where} (instances.get)")
        result["instance"] = created
        result.update(outputs(created))
        return result

    # The instance exists: compare.
    boot_type = None
    if p["boot_disk"]["type"] is not None:
        boot = boot_disk_of(instance)
        if boot and boot.get("source"):
            try:
                disk = api.get_disk(boot["source"])
            except GcpApiError as e:
                fail_api(module, e, f"Reading the boot disk of {where} (disks.get)")
            if disk:
                boot_type = last_segment(disk.get("type"))
    before = current_view(instance, names, boot_type)
    after = wanted_view(p, names, before)
    if boot_type is None:
        after["boot_disk"].pop("type", None)

    changes = immutable_changes(before, after)
    if changes:
        module.fail_json(
            msg=immutable_message(name, changes),
            immutable_changes=changes,
            instance=instance,
            diff={"before": before, "after": after},
        )

    plan = update_plan(before, after) + auto_delete_plan(instance, before, after, names)
    result = {"changed": bool(plan), "actions": [m for m, _s in plan], "diff": {"before": before, "after": after}}
    if plan and not module.check_mode:
        done: List[str] = []
        for method, spec in plan:
            try:
                api.call(
                    method,
                    fingerprinted(method, spec, instance) if spec.get("body") is not None else None,
                    params=spec.get("params"),
                )
            except GcpApiError as e:
                # The updates made before this one stay made.
                fail_api(module, e, f"Updating {where} ({method})", changed=bool(done), actions=done)
            done.append(method)
        try:
            instance = api.get() or {}
        except GcpApiError as e:
            fail_api(module, e, f"Reading the updated {where} (instances.get)")
    result["instance"] = instance
    result.update(outputs(instance))
    return result


def main():
    argument_spec = dict(
        # GcpModule adds project (optional, GCP_PROJECT fallback) and the auth options.
        zone=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        machine_type=dict(type="str"),
        accelerators=dict(
            type="list",
            elements="dict",
            options=dict(
                type=dict(type="str", required=True),
                count=dict(type="int", default=1),
            ),
        ),
        boot_disk=dict(
            type="dict",
            options=dict(
                image=dict(type="str", required=True),
                size_gb=dict(type="int"),
                type=dict(type="str"),
                auto_delete=dict(type="bool", default=True),
            ),
        ),
        data_disks=dict(
            type="list",
            elements="dict",
            options=dict(
                source=dict(type="str", required=True),
                device_name=dict(type="str"),
                mode=dict(type="str", default="READ_WRITE", choices=["READ_WRITE", "READ_ONLY"]),
                auto_delete=dict(type="bool", default=False),
            ),
        ),
        network=dict(type="str"),
        subnetwork=dict(type="str"),
        external_ip=dict(type="bool", default=False),
        network_tags=dict(type="list", elements="str"),
        service_account=dict(
            type="dict",
            options=dict(
                email=dict(type="str", required=True),
                scopes=dict(type="list", elements="str", default=["cloud-platform"]),
            ),
        ),
        metadata=dict(type="dict"),
        purge_metadata=dict(type="bool", default=True),
        labels=dict(type="dict"),
        purge_labels=dict(type="bool", default=True),
        provisioning=dict(type="str", default="standard", choices=["standard", "spot", "preemptible"]),
        instance_termination_action=dict(type="str", choices=["STOP", "DELETE"]),
        automatic_restart=dict(type="bool"),
        on_host_maintenance=dict(type="str", choices=["TERMINATE", "MIGRATE"]),
        deletion_protection=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    )
    module = GcpModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["machine_type", "boot_disk"])],
    )
    validate_params(module)
    if not module.params["scopes"]:
        module.params["scopes"] = list(DEFAULT_AUTH_SCOPES)

    client = GcpJsonClient(module, PRODUCT)
    api = Api(
        client, module.params["project"], module.params["zone"], module.params["name"], module.params["wait_timeout"]
    )
    result = run(module, api)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
