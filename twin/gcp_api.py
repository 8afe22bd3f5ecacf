"""The twin's GCP control plane: a small in-memory emulator of the Google Cloud APIs the platform calls.

Usage::

    .venv/bin/python twin/gcp_api.py --host 127.0.0.1 --port 7000 [--access-log]

Started and stopped by ``twin/twinctl up|down`` beside moto and the Kubernetes API, on
``TWIN_GCP_PORT`` (default: the AWS port + 2000, so 7000 for the demo). The google.cloud
modules and google-auth have their Google hosts hard-coded, so callers reach this server
through the test-only redirect ``twin/gcp_redirect/sitecustomize.py`` (``TWIN_GCP_URL``),
which keeps the path and query and passes the original host in ``X-Twin-Original-Host``.

Why not an existing emulator: the only one on PyPI that serves Compute over REST (``gcplocal``
0.1.0) drops ``guestAccelerators``, has no aggregated list, setLabels or start/stop, and its
delete operations lack ``targetLink``; the others serve Storage only or gRPC IAM. So this is a
stdlib-only server (``http.server``) that serves what google.cloud's gcp_compute_network,
_subnetwork, _firewall, _disk, _instance (+ _info), gcp_iam_service_account (+ _info), the
gcp_compute inventory plugin and this collection's gcp_project_iam_member /
gcp_compute_gpu_instance use, with the real APIs' JSON shapes, field names and error bodies:

* Compute Engine v1, ``/compute/v1/projects/{p}/...`` (compute.googleapis.com, www.googleapis.com):
  global ``networks`` (insert/get/list/patch/delete; auto mode creates the regional subnetworks),
  regional ``subnetworks`` (insert/get/list/patch/delete, expandIpCidrRange,
  setPrivateIpGoogleAccess), global ``firewalls`` (insert/get/list/patch/update/delete),
  zonal ``disks`` (insert/get/list/delete, setLabels, resize; ``users`` kept up to date;
  deleting a disk in use: 400 resourceInUseByAnotherResource), zonal ``instances``
  (insert/get/list/delete, setLabels, setMetadata, setTags, stop, start, setMachineType,
  attachDisk, detachDisk, setDeletionProtection; boot disks created from
  ``initializeParams``, data disks attached by ``source``, ``networkIP`` allocated from the
  subnetwork, ``natIP`` from 203.0.113.0/24 (TEST-NET-3), ``guestAccelerators`` kept),
  ``aggregated/instances`` and ``aggregated/disks`` (with ``filter``), zone / region / global
  ``operations`` (get, ``/wait``; every write answers an operation that is already DONE, with
  ``targetLink`` and ``targetId``, deletes too), ``machineTypes`` / ``acceleratorTypes`` /
  ``diskTypes`` / ``zones`` / ``regions`` for a curated table (MACHINE_TYPES, ZONES), and
  images: ``deeplearning-platform-release`` families ``pytorch-*`` (one synthetic image each)
  and ``debian-cloud`` ``debian-12``. selfLinks are ``https://www.googleapis.com/compute/v1/...``
  URLs, as Compute Engine returns them whichever host was called (google.cloud's firewall
  module and the inventory plugin rely on that). Fingerprints (labelFingerprint,
  metadata.fingerprint, tags.fingerprint, subnetwork fingerprint) are checked: a stale one
  answers 412 conditionNotMet. Server-side checks like GCP's: names, labels, machine type in
  the zone, GPU type and count for the machine type, GPUs or Spot/preemptible need
  ``onHostMaintenance: TERMINATE``, Spot/preemptible cannot restart automatically, an existing
  name is 409 alreadyExists, a missing reference 404 notFound.
* IAM v1, ``/v1/projects/{p}/serviceAccounts[/{email|uniqueId}]`` (iam.googleapis.com): create
  (``accountId`` + ``serviceAccount``), get, list, patch (``updateMask``), update (PUT), delete.
  Deleting a service account leaves its bindings, rewritten to
  ``deleted:serviceAccount:{email}?uid={uniqueId}`` as GCP does.
* Cloud Resource Manager v1, ``/v1/projects/{p}`` and ``/v1/projects/{p}:getIamPolicy`` /
  ``:setIamPolicy`` (cloudresourcemanager.googleapis.com): etag read-modify-write (a stale etag
  answers 409 ABORTED), policy version (conditional bindings need 3; a version-1 read of a
  conditional policy gets ``_withcond_`` roles), bindings and members sorted like GCP. A project
  starts with one binding, ``roles/owner`` for ``user:owner@example.com``, so callers must keep
  the members they do not manage. ``serviceAccount:`` members of ``*.iam.gserviceaccount.com``
  must exist.
* OAuth 2.0 token endpoint: POST ``/token`` (oauth2.googleapis.com, any googleapis host),
  ``/oauth2/v4/token``, ``/o/oauth2/token``: a dummy access token, so service-account key files
  work (the JWT assertion is not verified); and iamcredentials.googleapis.com's
  ``.../serviceAccounts/{email}/allowedLocations`` (no boundary), which google-auth looks up in
  the background for service-account credentials.

Any project id is accepted; a project comes into being on first use. Every API request that
comes through the redirect (it carries ``X-Twin-Original-Host``) needs an
``Authorization: Bearer <anything>`` header, else 401 UNAUTHENTICATED as on GCP: a client that
would send no credentials to Google fails here too. The token is not checked and there is no
IAM enforcement. Direct requests to the twin's port (the twin's own tools, such as
twin/hosts/twin_hosts.py, and tests) need no token.

What it is not: no quotas, no zone-by-zone GPU availability (every curated zone offers every
curated machine type and GPU), no real VMs (instances are records; status changes at once),
no long-running operations (all DONE), no legacy networks (``autoCreateSubnetworks`` must be
set), no local SSD (SCRATCH disks), no routes, addresses, snapshots, instance templates or
groups, no Storage, no IAM roles API, no permission checks. Error messages follow GCP's where
they are known; the others are GCP-style.

Twin endpoints (no auth)::

    GET  /_twin/health        {"service": "mlinfra-twin-gcp", "status": "ok", "pid": ..., ...}
    GET  /_twin/stats         {"requests": N, "by_service": {"compute": ..., "iam": ...}}
                              (requests to /_twin/* are not counted)
    POST /_twin/stats/reset   zero the counter
    POST /_twin/reset         empty everything (projects, operations, counter); policies start
                              again from the initial owner binding

Loopback only: it refuses to bind anything but 127.0.0.0/8, ::1 or localhost.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import fnmatch
import hashlib
import ipaddress
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

SERVICE_ID = "mlinfra-twin-gcp"
LOG = logging.getLogger("twin-gcp")
LINK = "https://www.googleapis.com/compute/v1/"
EMPTY_FINGERPRINT = "42WmSpB8rSM="  # what GCP reports for empty labels
NAT_RANGE = ipaddress.ip_network("203.0.113.0/24")  # TEST-NET-3 (RFC 5737)
INITIAL_POLICY_BINDINGS = [{"role": "roles/owner", "members": ["user:owner@example.com"]}]
CALLER = "twin-caller@example.com"

# --------------------------------------------------------------------------------------
# Curated catalogue
# --------------------------------------------------------------------------------------

ZONES = {
    "us-central1": ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"],
    "us-east1": ["us-east1-b", "us-east1-c", "us-east1-d"],
    "europe-west4": ["europe-west4-a", "europe-west4-b", "europe-west4-c"],
}
ZONE_REGION = {z: r for r, zones in ZONES.items() for z in zones}
# The ranges an auto mode network gets in each region (GCP's 10.128.0.0/9 plan).
AUTO_SUBNET_RANGES = {"us-central1": "10.128.0.0/20", "us-east1": "10.142.0.0/20", "europe-west4": "10.164.0.0/20"}

# name: (vCPUs, memory MB, fixed GPUs (type, count) or None)
MACHINE_TYPES: dict[str, tuple[int, int, tuple[str, int] | None]] = {
    "a2-highgpu-1g": (12, 87040, ("nvidia-tesla-a100", 1)),
    "a2-highgpu-2g": (24, 174080, ("nvidia-tesla-a100", 2)),
    "a2-highgpu-4g": (48, 348160, ("nvidia-tesla-a100", 4)),
    "a2-highgpu-8g": (96, 696320, ("nvidia-tesla-a100", 8)),
    "a2-megagpu-16g": (96, 1392640, ("nvidia-tesla-a100", 16)),
    "a2-ultragpu-1g": (12, 174080, ("nvidia-a100-80gb", 1)),
    "a2-ultragpu-2g": (24, 348160, ("nvidia-a100-80gb", 2)),
    "a2-ultragpu-4g": (48, 696320, ("nvidia-a100-80gb", 4)),
    "a2-ultragpu-8g": (96, 1392640, ("nvidia-a100-80gb", 8)),
    "g2-standard-4": (4, 16384, ("nvidia-l4", 1)),
    "g2-standard-8": (8, 32768, ("nvidia-l4", 1)),
    "g2-standard-12": (12, 49152, ("nvidia-l4", 1)),
    "g2-standard-16": (16, 65536, ("nvidia-l4", 1)),
    "g2-standard-24": (24, 98304, ("nvidia-l4", 2)),
    "g2-standard-32": (32, 131072, ("nvidia-l4", 1)),
    "g2-standard-48": (48, 196608, ("nvidia-l4", 4)),
    "g2-standard-96": (96, 393216, ("nvidia-l4", 8)),
    **{f"n1-standard-{n}": (n, 3840 * n, None) for n in (1, 2, 4, 8, 16, 32, 64, 96)},
    **{f"e2-standard-{n}": (n, 4096 * n, None) for n in (2, 4, 8, 16)},
}
# GPUs that can be attached to N1 machine types, and the counts allowed.
N1_GPUS = {"nvidia-tesla-t4": (1, 2, 4), "nvidia-tesla-v100": (1, 2, 4, 8)}
# name: (description, maximumCardsPerInstance)
ACCELERATOR_TYPES = {
    "nvidia-tesla-a100": ("NVIDIA A100 40GB", 16),
    "nvidia-a100-80gb": ("NVIDIA A100 80GB", 8),
    "nvidia-l4": ("NVIDIA L4", 8),
    "nvidia-tesla-t4": ("NVIDIA T4", 4),
    "nvidia-tesla-v100": ("NVIDIA V100", 8),
}
DISK_TYPES = {"pd-standard": 10, "pd-balanced": 10, "pd-ssd": 10, "pd-extreme": 500}  # name: minimum GB
MAX_DISK_GB = 65536
IMAGE_VERSION = "v20250615"
DLVM_PROJECT = "deeplearning-platform-release"
DLVM_LISTED_FAMILIES = ["pytorch-latest-gpu", "pytorch-2-7-cu128-ubuntu-2204-nvidia-570"]
DEBIAN_IMAGES = {"debian-12": "debian-12-bookworm-v20250610"}
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
NAME_REGEX_TEXT = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)"
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")
ACCOUNT_ID_RE = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
MEMBER_PREFIXES = ("user:", "serviceAccount:", "group:", "domain:", "deleted:", "principal://", "principalSet://")

# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

STATUS_BY_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                  405: "METHOD_NOT_ALLOWED", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 500: "INTERNAL"}  # fmt: skip


class GcpError(Exception):
    """An API error. ``reason`` (compute style) adds the ``errors`` list Compute Engine sends."""

    def __init__(self, code: int, message: str, reason: str | None = None, status: str | None = None):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason
        self.status = status or STATUS_BY_CODE.get(code, "UNKNOWN")

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.reason:
            err["errors"] = [{"message": self.message, "domain": "global", "reason": self.reason}]
        err["status"] = self.status
        return {"error": err}


def not_found(path: str) -> GcpError:
    return GcpError(404, f"The resource '{path}' was not found", "notFound")


def already_exists(path: str) -> GcpError:
    return GcpError(409, f"The resource '{path}' already exists", "alreadyExists")


def invalid(field: str, value: Any, message: str) -> GcpError:
    if isinstance(value, bool):
        value = str(value).lower()
    return GcpError(400, f"Invalid value for field '{field}': '{value}'. {message}", "invalid")


def in_use(kind: str, path: str, user: str) -> GcpError:
    return GcpError(400, f"The {kind} resource '{path}' is already being used by '{user}'",
                    "resourceInUseByAnotherResource")  # fmt: skip


def precondition(message: str) -> GcpError:
    return GcpError(412, message, "conditionNotMet")


def one_platform(code: int, message: str, status: str | None = None) -> GcpError:
    """An error of the IAM / Resource Manager APIs (no compute ``errors`` list)."""
    return GcpError(code, message, None, status)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

PACIFIC = dt.timezone(dt.timedelta(hours=-7))


def now_ts() -> str:
    return dt.datetime.now(PACIFIC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return str(random.randrange(10**18, 9 * 10**18))


def stable_id(*parts: str) -> str:
    return str(int(hashlib.sha256("/".join(parts).encode()).hexdigest(), 16) % (8 * 10**18) + 10**18)


def fingerprint(value: Any) -> str:
    if value in (None, {}, []):
        return EMPTY_FINGERPRINT
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def random_fingerprint() -> str:
    return base64.b64encode(os.urandom(8)).decode()


def link(path: str) -> str:
    return LINK + path


def check_name(name: Any, field: str = "resource.name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise invalid(field, name if name is not None else "", f"Must be a match of regex '{NAME_REGEX_TEXT}'")
    return name


def parse_ref(value: Any, field: str, project: str, scope: str, collection: str) -> tuple[str, str, str]:
    """(project, scope value, name) of a full or partial resource URL.

    scope is "global", "regions" or "zones"; accepted forms: https://(www|compute).googleapis.com/
    compute/v1/projects/P/<scope>[/S]/<collection>/N, projects/P/..., <scope>[/S]/<collection>/N.
    """
    if not isinstance(value, str) or not value:
        raise invalid(field, value if value is not None else "", "The URL is malformed.")
    m = re.match(r"^https?://(?:www|compute)\.googleapis\.com/compute/(?:v1|beta|alpha)/(.*)$", value)
    rest = m.group(1) if m else value
    segs = rest.strip("/").split("/")
    if segs[0] == "projects":
        if len(segs) < 2 or not segs[1]:
            raise invalid(field, value, "The URL is malformed.")
        project, segs = segs[1], segs[2:]
    if scope == "global":
        if len(segs) == 3 and segs[0] == "global" and segs[1] == collection and segs[2]:
            return project, "global", segs[2]
    elif len(segs) == 4 and segs[0] == scope and segs[2] == collection and segs[1] and segs[3]:
        return project, segs[1], segs[3]
    raise invalid(field, value, "The URL is malformed.")


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def labels_of(value: Any, field: str = "resource.labels") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(field, value, "Labels must be a map of strings.")
    if len(value) > 64:
        raise invalid(field, "", "Too many labels: at most 64 are allowed.")
    for key, val in value.items():
        if not LABEL_KEY_RE.match(str(key)):
            raise invalid(field, "", f"Label key '{key}' violates format constraints. The key must start with a "
                          "lowercase character, can only contain lowercase letters, numeric characters, underscores "
                          "and dashes. The key can be at most 63 characters long. International characters are allowed.")  # fmt: skip
        if not isinstance(val, str) or not LABEL_VALUE_RE.match(val):
            raise invalid(field, "", f"Label value '{val}' violates format constraints. The value can only contain "
                          "lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 "
                          "characters long. International characters are allowed.")  # fmt: skip
    return dict(value)


def as_int(value: Any, field: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise invalid(field, value, "Must be an integer.") from None


# --------------------------------------------------------------------------------------
# List filters (the Compute Engine list `filter` syntax, simplified)
# --------------------------------------------------------------------------------------

_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<kw>AND|OR|NOT)(?=[\s()]|$)"
    r"|(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>!=|>=|<=|=|:|>|<|eq(?=\s)|ne(?=\s))\s*"
    r"(?P<val>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s()]+))"
)


def _values(resource: Any, path: list[str]) -> list[Any]:
    if not path:
        return resource if isinstance(resource, list) else [resource]
    if isinstance(resource, list):
        return [v for item in resource for v in _values(item, path)]
    if isinstance(resource, dict) and path[0] in resource:
        return _values(resource[path[0]], path[1:])
    return []


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _term(field: str, op: str, raw: str) -> Callable[[dict], bool]:
    value = raw[1:-1] if raw[:1] in "\"'" and raw[-1:] == raw[:1] and len(raw) >= 2 else raw
    path = field.split(".")

    def eq(v: Any) -> bool:
        t = _text(v)
        last = t.rsplit("/", 1)[-1] if t.startswith("https://") else None
        if "*" in value:
            return fnmatch.fnmatchcase(t, value) or (last is not None and fnmatch.fnmatchcase(last, value))
        return t == value or last == value

    def regex(v: Any) -> bool:
        try:
            return re.fullmatch(value, _text(v)) is not None
        except re.error:
            raise invalid("filter", raw, "Invalid list filter expression.") from None

    def cmp(v: Any) -> bool:
        a, b = _text(v), value
        try:
            a, b = float(a), float(b)  # type: ignore[assignment]
        except ValueError:
            pass
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]  # type: ignore[operator]

    def check(resource: dict) -> bool:
        vals = _values(resource, path)
        if op == "=":
            return any(eq(v) for v in vals)
        if op == "!=":
            return not any(eq(v) for v in vals)
        if op == ":":
            if value == "*":
                return bool(vals)
            return any(value in _text(v) or eq(v) for v in vals)
        if op == "eq":
            return any(regex(v) for v in vals)
        if op == "ne":
            return not any(regex(v) for v in vals)
        return any(cmp(v) for v in vals)

    return check


def compile_filter(expr: str | None) -> Callable[[dict], bool]:
    """A predicate for a list `filter` (terms `field op value`, parentheses, AND, OR, NOT)."""
    if not expr or not expr.strip():
        return lambda _r: True
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = expr.strip()
    while pos < len(text):
        m = _FILTER_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid("filter", expr, "Invalid list filter expression.")
        pos = m.end()
        if m.group("lp"):
            tokens.append(("(", None))
        elif m.group("rp"):
            tokens.append((")", None))
        elif m.group("kw"):
            tokens.append((m.group("kw"), None))
        else:
            tokens.append(("term", _term(m.group("field"), m.group("op"), m.group("val"))))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    i = 0

    def peek() -> str | None:
        return tokens[i][0] if i < len(tokens) else None

    def parse_or() -> Callable[[dict], bool]:
        nonlocal i
        parts = [parse_and()]
        while peek() == "OR":
            i += 1
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def parse_and() -> Callable[[dict], bool]:
        nonlocal i
        parts = [parse_unary()]
        while peek() in ("AND", "(", "term", "NOT"):
            if peek() == "AND":
                i += 1
            parts.append(parse_unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def parse_unary() -> Callable[[dict], bool]:
        nonlocal i
        kind = peek()
        if kind == "NOT":
            i += 1
            inner = parse_unary()
            return lambda r: not inner(r)
        if kind == "(":
            i += 1
            inner = parse_or()
            if peek() != ")":
                raise invalid("filter", expr, "Invalid list filter expression.")
            i += 1
            return inner
        if kind == "term":
            fn = tokens[i][1]
            i += 1
            return fn
        raise invalid("filter", expr, "Invalid list filter expression.")

    pred = parse_or()
    if i != len(tokens):
        raise invalid("filter", expr, "Invalid list filter expression.")
    return pred


# --------------------------------------------------------------------------------------
# Catalogue resources
# --------------------------------------------------------------------------------------


def zone_or_404(project: str, zone: str) -> str:
    if zone not in ZONE_REGION:
        raise not_found(f"projects/{project}/zones/{zone}")
    return ZONE_REGION[zone]


def region_or_404(project: str, region: str) -> None:
    if region not in ZONES:
        raise not_found(f"projects/{project}/regions/{region}")


def machine_type_resource(project: str, zone: str, name: str) -> dict[str, Any]:
    cpus, mem, gpus = MACHINE_TYPES[name]
    gb = f"{mem / 1024:g}"
    desc = f"{cpus} vCPU{'s' if cpus > 1 else ''}, {gb} GB RAM"
    if gpus:
        desc = f"Accelerator Optimized: {gpus[1]} {ACCELERATOR_TYPES[gpus[0]][0]} GPU{'s' if gpus[1] > 1 else ''}, {desc}"
    res: dict[str, Any] = {
        "kind": "compute#machineType", "id": stable_id("machineType", name), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
        "name": name, "description": desc, "guestCpus": cpus, "memoryMb": mem, "imageSpaceGb": 0,
        "maximumPersistentDisks": 128, "maximumPersistentDisksSizeGb": "263168", "zone": zone,
        "selfLink": link(f"projects/{project}/zones/{zone}/machineTypes/{name}"), "isSharedCpu": False,
        "architecture": "X86_64",
    }  # fmt: skip
    if gpus:
        res["accelerators"] = [{"guestAcceleratorType": gpus[0], "guestAcceleratorCount": gpus[1]}]
    return res


def accelerator_type_resource(project: str, zone: str, name: str) -> dict[str, Any]:
    desc, cards = ACCELERATOR_TYPES[name]
    return {"kind": "compute#acceleratorType", "id": stable_id("acceleratorType", name),
            "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "name": name, "description": desc,
            "zone": link(f"projects/{project}/zones/{zone}"),
            "selfLink": link(f"projects/{project}/zones/{zone}/acceleratorTypes/{name}"),
            "maximumCardsPerInstance": cards}  # fmt: skip


def disk_type_resource(project: str, zone: str, name: str) -> dict[str, Any]:
    return {"kind": "compute#diskType", "id": stable_id("diskType", name), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
            "name": name, "description": {"pd-standard": "Standard Persistent Disk", "pd-balanced": "Balanced Persistent Disk",
                                          "pd-ssd": "SSD Persistent Disk", "pd-extreme": "Extreme Persistent Disk"}[name],
            "validDiskSize": f"{DISK_TYPES[name]}GB-{MAX_DISK_GB}GB", "zone": link(f"projects/{project}/zones/{zone}"),
            "selfLink": link(f"projects/{project}/zones/{zone}/diskTypes/{name}"), "defaultDiskSizeGb": "500" if name == "pd-extreme" else "10"}  # fmt: skip


def zone_resource(project: str, zone: str) -> dict[str, Any]:
    return {"kind": "compute#zone", "id": stable_id("zone", zone), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
            "name": zone, "description": zone, "status": "UP", "region": link(f"projects/{project}/regions/{ZONE_REGION[zone]}"),
            "selfLink": link(f"projects/{project}/zones/{zone}"), "availableCpuPlatforms": ["Intel Cascade Lake", "Intel Broadwell"],
            "supportsPzs": False}  # fmt: skip


def region_resource(project: str, region: str) -> dict[str, Any]:
    return {"kind": "compute#region", "id": stable_id("region", region), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
            "name": region, "description": region, "status": "UP",
            "zones": [link(f"projects/{project}/zones/{z}") for z in ZONES[region]],
            "selfLink": link(f"projects/{project}/regions/{region}"), "supportsPzs": False}  # fmt: skip


def _image(project: str, family: str, name: str, size_gb: int, description: str) -> dict[str, Any]:
    return {
        "kind": "compute#image", "id": stable_id("image", project, name), "creationTimestamp": "2025-06-15T10:00:00.000-07:00",
        "name": name, "description": description, "sourceType": "RAW", "status": "READY",
        "archiveSizeBytes": str(size_gb * 200_000_000), "diskSizeGb": str(size_gb), "family": family,
        "selfLink": link(f"projects/{project}/global/images/{name}"), "labelFingerprint": EMPTY_FINGERPRINT,
        "guestOsFeatures": [{"type": "UEFI_COMPATIBLE"}, {"type": "VIRTIO_SCSI_MULTIQUEUE"}, {"type": "GVNIC"},
                            {"type": "SEV_CAPABLE"}],
        "storageLocations": ["us", "eu", "asia"], "architecture": "X86_64",
    }  # fmt: skip


def image_for_family(project: str, family: str) -> dict[str, Any] | None:
    if project == DLVM_PROJECT and family.startswith("pytorch-") and NAME_RE.match(family):
        return _image(project, family, f"{family}-{IMAGE_VERSION}", 50,
                      f"Google, Deep Learning VM with PyTorch ({family}), NVIDIA driver, CUDA")  # fmt: skip
    if project == "debian-cloud" and family in DEBIAN_IMAGES:
        return _image(project, family, DEBIAN_IMAGES[family], 10,
                      "Debian, Debian GNU/Linux, 12 (bookworm), amd64 built on 20250610")  # fmt: skip
    return None


def image_by_name(project: str, name: str) -> dict[str, Any] | None:
    if project == DLVM_PROJECT:
        m = re.match(rf"^(pytorch-[a-z0-9-]+)-{IMAGE_VERSION}$", name)
        return image_for_family(project, m.group(1)) if m else None
    if project == "debian-cloud":
        for family, image in DEBIAN_IMAGES.items():
            if image == name:
                return image_for_family(project, family)
    return None


def listed_images(project: str) -> list[dict[str, Any]]:
    if project == DLVM_PROJECT:
        return [image_for_family(project, f) for f in DLVM_LISTED_FAMILIES]  # type: ignore[misc]
    if project == "debian-cloud":
        return [image_for_family(project, f) for f in DEBIAN_IMAGES]  # type: ignore[misc]
    return []


def resolve_image(value: Any, field: str, project: str) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        raise invalid(field, value or "", "The URL is malformed.")
    m = re.match(r"^https?://(?:www|compute)\.googleapis\.com/compute/(?:v1|beta|alpha)/(.*)$", value)
    segs = (m.group(1) if m else value).strip("/").split("/")
    img_project = project
    if segs[0] == "projects" and len(segs) >= 2:
        img_project, segs = segs[1], segs[2:]
    if len(segs) == 4 and segs[:3] == ["global", "images", "family"]:
        image = image_for_family(img_project, segs[3])
        if image is None:
            raise not_found(f"projects/{img_project}/global/images/family/{segs[3]}")
        return image
    if len(segs) == 3 and segs[:2] == ["global", "images"]:
        image = image_by_name(img_project, segs[2])
        if image is None:
            raise not_found(f"projects/{img_project}/global/images/{segs[2]}")
        return image
    raise invalid(field, value, "The URL is malformed.")


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------


class Project:
    def __init__(self, project_id: str):
        self.id = project_id
        self.number = str(int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % (9 * 10**11) + 10**11)
        self.created = now_ts()
        self.networks: dict[str, dict] = {}
        self.subnetworks: dict[tuple[str, str], dict] = {}
        self.firewalls: dict[str, dict] = {}
        self.disks: dict[tuple[str, str], dict] = {}
        self.instances: dict[tuple[str, str], dict] = {}
        self.operations: dict[tuple[str, str], dict] = {}
        self.service_accounts: dict[str, dict] = {}  # email -> resource
        self.policy: dict[str, Any] = {"version": 1, "etag": policy_etag(),
                                       "bindings": copy.deepcopy(INITIAL_POLICY_BINDINGS)}  # fmt: skip


def policy_etag() -> str:
    # GCP's policy etags are base64 of 8 bytes starting 0x07 ("BwY...").
    return base64.b64encode(b"\x07\x06" + os.urandom(6)).decode()


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.projects: dict[str, Project] = {}
            self.nat_ips: set[str] = set()

    def project(self, project_id: str) -> Project:
        if not project_id or "/" in project_id:
            raise not_found(f"projects/{project_id}")
        proj = self.projects.get(project_id)
        if proj is None:
            proj = self.projects[project_id] = Project(project_id)
        return proj

    # -- operations
    def operation(self, proj: Project, op_type: str, target: dict[str, Any], zone: str | None = None,
                  region: str | None = None) -> dict[str, Any]:  # fmt: skip
        ts = now_ts()
        name = f"operation-{int(time.time() * 1000)}-{os.urandom(7).hex()[:13]}-{os.urandom(4).hex()}-{os.urandom(4).hex()}"
        op: dict[str, Any] = {"kind": "compute#operation", "id": new_id(), "name": name, "operationType": op_type,
                              "targetLink": target["selfLink"], "targetId": target["id"], "status": "DONE",
                              "user": CALLER, "progress": 100, "insertTime": ts, "startTime": ts, "endTime": ts}  # fmt: skip
        if zone:
            scope = f"zones/{zone}"
            op["zone"] = link(f"projects/{proj.id}/zones/{zone}")
        elif region:
            scope = f"regions/{region}"
            op["region"] = link(f"projects/{proj.id}/regions/{region}")
        else:
            scope = "global"
        op["selfLink"] = link(f"projects/{proj.id}/{scope}/operations/{name}")
        proj.operations[(scope, name)] = op
        return copy.deepcopy(op)

    def get_operation(self, project: str, scope: str, name: str) -> dict[str, Any]:
        proj = self.project(project)
        op = proj.operations.get((scope, name))
        if op is None:
            raise not_found(f"projects/{project}/{scope}/operations/{name}")
        return copy.deepcopy(op)

    # -- networks
    def network_ref(self, value: Any, field: str, project: str) -> tuple[Project, dict[str, Any]]:
        p, _, name = parse_ref(value, field, project, "global", "networks")
        proj = self.project(p)
        net = proj.networks.get(name)
        if net is None:
            raise not_found(f"projects/{p}/global/networks/{name}")
        return proj, net

    def insert_network(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        name = check_name(body.get("name"))
        if name in proj.networks:
            raise already_exists(f"projects/{project}/global/networks/{name}")
        if "autoCreateSubnetworks" not in body:
            raise invalid("resource.autoCreateSubnetworks", "", "The twin does not emulate legacy networks: set "
                          "autoCreateSubnetworks (true: auto mode, false: custom mode).")  # fmt: skip
        auto = bool(body["autoCreateSubnetworks"])
        routing = dict(body.get("routingConfig") or {})
        routing.setdefault("routingMode", "REGIONAL")
        if routing["routingMode"] not in ("REGIONAL", "GLOBAL"):
            raise invalid("resource.routingConfig.routingMode", routing["routingMode"], "Must be REGIONAL or GLOBAL.")
        mtu = as_int(body.get("mtu", 1460), "resource.mtu")
        if not 1300 <= mtu <= 8896:
            raise invalid("resource.mtu", mtu, "MTU must be between 1300 and 8896.")
        net_id = new_id()
        net: dict[str, Any] = {
            "kind": "compute#network", "id": net_id, "creationTimestamp": now_ts(), "name": name,
            "selfLink": link(f"projects/{project}/global/networks/{name}"),
            "selfLinkWithId": link(f"projects/{project}/global/networks/{net_id}"),
            "autoCreateSubnetworks": auto, "routingConfig": routing, "mtu": mtu,
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
        }  # fmt: skip
        if body.get("description"):
            net["description"] = body["description"]
        proj.networks[name] = net
        if auto:
            for region, cidr in AUTO_SUBNET_RANGES.items():
                self._add_subnetwork(proj, region, name, net, cidr, False, None, {})
        return self.operation(proj, "insert", net)

    def _network_subnets(self, proj: Project, net: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in proj.subnetworks.values() if s["network"] == net["selfLink"]]

    def _refresh_network(self, proj: Project, net: dict[str, Any]) -> None:
        subnets = sorted(s["selfLink"] for s in self._network_subnets(proj, net))
        if subnets:
            net["subnetworks"] = subnets
        else:
            net.pop("subnetworks", None)

    def patch_network(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        net = proj.networks.get(name)
        if net is None:
            raise not_found(f"projects/{project}/global/networks/{name}")
        for key in body:
            if key not in ("routingConfig", "mtu", "description", "name", "kind", "autoCreateSubnetworks"):
                raise invalid(f"resource.{key}", "", "This field cannot be patched.")
        if body.get("autoCreateSubnetworks") is not None and bool(body["autoCreateSubnetworks"]) != net["autoCreateSubnetworks"]:
            raise invalid("resource.autoCreateSubnetworks", body["autoCreateSubnetworks"],
                          "Use switchToCustomMode to change the mode of a network.")  # fmt: skip
        if body.get("routingConfig"):
            mode = body["routingConfig"].get("routingMode", net["routingConfig"]["routingMode"])
            if mode not in ("REGIONAL", "GLOBAL"):
                raise invalid("resource.routingConfig.routingMode", mode, "Must be REGIONAL or GLOBAL.")
            net["routingConfig"] = dict(net["routingConfig"], **body["routingConfig"])
        if body.get("mtu") is not None:
            net["mtu"] = as_int(body["mtu"], "resource.mtu")
        if body.get("description") is not None:
            net["description"] = body["description"]
        return self.operation(proj, "patch", net)

    def delete_network(self, project: str, name: str) -> dict[str, Any]:
        proj = self.project(project)
        net = proj.networks.get(name)
        path = f"projects/{project}/global/networks/{name}"
        if net is None:
            raise not_found(path)
        for fw in proj.firewalls.values():
            if fw["network"] == net["selfLink"]:
                raise in_use("network", path, f"projects/{project}/global/firewalls/{fw['name']}")
        for (region, sname), sub in proj.subnetworks.items():
            if sub["network"] != net["selfLink"]:
                continue
            user = self._subnet_user(proj, sub)
            if user or not net["autoCreateSubnetworks"]:
                raise in_use("network", path, user or f"projects/{project}/regions/{region}/subnetworks/{sname}")
        for key in [k for k, s in proj.subnetworks.items() if s["network"] == net["selfLink"]]:
            del proj.subnetworks[key]
        del proj.networks[name]
        return self.operation(proj, "delete", net)

    # -- subnetworks
    def _subnet_user(self, proj: Project, sub: dict[str, Any]) -> str | None:
        for (zone, iname), inst in proj.instances.items():
            if any(n.get("subnetwork") == sub["selfLink"] for n in inst["networkInterfaces"]):
                return f"projects/{proj.id}/zones/{zone}/instances/{iname}"
        return None

    def _add_subnetwork(self, proj: Project, region: str, name: str, net: dict[str, Any], cidr: str,
                        private_access: bool, description: str | None, extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        network = ipaddress.ip_network(cidr)
        sub: dict[str, Any] = {
            "kind": "compute#subnetwork", "id": new_id(), "creationTimestamp": now_ts(), "name": name,
            "network": net["selfLink"], "ipCidrRange": cidr, "gatewayAddress": str(network.network_address + 1),
            "region": link(f"projects/{proj.id}/regions/{region}"),
            "selfLink": link(f"projects/{proj.id}/regions/{region}/subnetworks/{name}"),
            "privateIpGoogleAccess": private_access, "fingerprint": random_fingerprint(), "purpose": "PRIVATE",
            "stackType": "IPV4_ONLY", "privateIpv6GoogleAccess": "DISABLE_GOOGLE_ACCESS", **extra,
        }  # fmt: skip
        if description:
            sub["description"] = description
        proj.subnetworks[(region, name)] = sub
        self._refresh_network(proj, net)
        return sub

    def insert_subnetwork(self, project: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        region_or_404(project, region)
        name = check_name(body.get("name"))
        if (region, name) in proj.subnetworks:
            raise already_exists(f"projects/{project}/regions/{region}/subnetworks/{name}")
        net_proj, net = self.network_ref(body.get("network"), "resource.network", project)
        if net_proj is not proj:
            raise invalid("resource.network", body.get("network"), "The network must be in the same project.")
        cidr_text = body.get("ipCidrRange")
        try:
            cidr = ipaddress.ip_network(str(cidr_text), strict=True)
            if cidr.version != 4 or cidr.prefixlen > 29 or cidr.prefixlen < 8:
                raise ValueError
        except ValueError:
            raise invalid("resource.ipCidrRange", cidr_text or "", f"Invalid IPCidrRange: {cidr_text}") from None
        for (other_region, other_name), other in proj.subnetworks.items():
            if other["network"] == net["selfLink"] and ipaddress.ip_network(other["ipCidrRange"]).overlaps(cidr):
                raise invalid("resource.ipCidrRange", cidr_text, f"Invalid IPCidrRange: {cidr_text} conflicts with "
                              f"existing subnetwork '{other_name}' in region '{other_region}'.")  # fmt: skip
        extra: dict[str, Any] = {}
        if body.get("secondaryIpRanges"):
            extra["secondaryIpRanges"] = [{"rangeName": r.get("rangeName"), "ipCidrRange": r.get("ipCidrRange")}
                                          for r in body["secondaryIpRanges"]]  # fmt: skip
        sub = self._add_subnetwork(proj, region, name, net, str(cidr), bool(body.get("privateIpGoogleAccess", False)),
                                   body.get("description"), extra)  # fmt: skip
        return self.operation(proj, "insert", sub, region=region)

    def _subnet(self, project: str, region: str, name: str) -> tuple[Project, dict[str, Any]]:
        proj = self.project(project)
        region_or_404(project, region)
        sub = proj.subnetworks.get((region, name))
        if sub is None:
            raise not_found(f"projects/{project}/regions/{region}/subnetworks/{name}")
        return proj, sub

    def subnetwork_action(self, project: str, region: str, name: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        proj, sub = self._subnet(project, region, name)
        if action == "expandIpCidrRange":
            new = body.get("ipCidrRange")
            try:
                cidr = ipaddress.ip_network(str(new), strict=True)
            except ValueError:
                raise invalid("ipCidrRange", new or "", f"Invalid IPCidrRange: {new}") from None
            old = ipaddress.ip_network(sub["ipCidrRange"])
            if not (old.subnet_of(cidr) and cidr != old):  # type: ignore[arg-type]
                raise invalid("ipCidrRange", new, f"The new range {new} must contain the current range "
                              f"{sub['ipCidrRange']} and be larger.")  # fmt: skip
            sub["ipCidrRange"] = str(cidr)
        elif action == "setPrivateIpGoogleAccess":
            sub["privateIpGoogleAccess"] = bool(body.get("privateIpGoogleAccess"))
        else:
            raise GcpError(404, f"Unknown subnetwork method '{action}'", "notFound")
        sub["fingerprint"] = random_fingerprint()
        return self.operation(proj, action, sub, region=region)

    def patch_subnetwork(self, project: str, region: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        proj, sub = self._subnet(project, region, name)
        if body.get("fingerprint") and body["fingerprint"] != sub["fingerprint"]:
            raise precondition("Invalid fingerprint: the subnetwork was changed since it was read (stale fingerprint).")
        for key, value in body.items():
            if key in ("fingerprint", "name", "kind", "region", "network", "ipCidrRange") or value is None:
                if key == "ipCidrRange" and value != sub["ipCidrRange"]:
                    raise invalid("resource.ipCidrRange", value, "Use expandIpCidrRange to change the range.")
                continue
            if key == "secondaryIpRanges":
                if value:
                    sub["secondaryIpRanges"] = [{"rangeName": r.get("rangeName"), "ipCidrRange": r.get("ipCidrRange")}
                                                for r in value]  # fmt: skip
                else:
                    sub.pop("secondaryIpRanges", None)
            elif key in ("privateIpGoogleAccess", "privateIpv6GoogleAccess", "description", "logConfig"):
                sub[key] = value
            else:
                raise invalid(f"resource.{key}", "", "This field cannot be patched.")
        sub["fingerprint"] = random_fingerprint()
        return self.operation(proj, "patch", sub, region=region)

    def delete_subnetwork(self, project: str, region: str, name: str) -> dict[str, Any]:
        proj, sub = self._subnet(project, region, name)
        user = self._subnet_user(proj, sub)
        path = f"projects/{project}/regions/{region}/subnetworks/{name}"
        if user:
            raise in_use("subnetwork", path, user)
        net = next((n for n in proj.networks.values() if n["selfLink"] == sub["network"]), None)
        if net is not None and net["autoCreateSubnetworks"] and AUTO_SUBNET_RANGES.get(region) == sub["ipCidrRange"]:
            raise invalid("resource", path, "The subnetworks of an auto mode network cannot be deleted.")
        del proj.subnetworks[(region, name)]
        if net is not None:
            self._refresh_network(proj, net)
        return self.operation(proj, "delete", sub, region=region)

    # -- firewalls
    def _firewall_fields(self, project: str, body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        fw = copy.deepcopy(current) if current else {}
        for key, value in body.items():
            if key in ("kind", "id", "selfLink", "creationTimestamp"):
                continue
            if key == "network":
                _, net = self.network_ref(value, "resource.network", project)
                if current and net["selfLink"] != current["network"]:
                    raise invalid("resource.network", value, "The network of a firewall rule cannot be changed.")
                fw["network"] = net["selfLink"]
            elif key in ("allowed", "denied"):
                rules = []
                for i, rule in enumerate(value or []):
                    proto = str(rule.get("IPProtocol", "")).lower()
                    if proto not in ("tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all") and not proto.isdigit():
                        raise invalid(f"resource.{key}[{i}].IPProtocol", rule.get("IPProtocol", ""),
                                      "Invalid IP protocol specification.")  # fmt: skip
                    entry: dict[str, Any] = {"IPProtocol": proto}
                    if rule.get("ports"):
                        if proto not in ("tcp", "udp", "sctp", "all"):
                            raise invalid(f"resource.{key}[{i}].ports", ",".join(rule["ports"]),
                                          "Ports can only be given for tcp, udp, sctp or all.")  # fmt: skip
                        entry["ports"] = [str(p) for p in rule["ports"]]
                    rules.append(entry)
                if rules:
                    fw[key] = rules
                else:
                    fw.pop(key, None)
            elif key == "priority":
                prio = as_int(value, "resource.priority")
                if not 0 <= prio <= 65535:
                    raise invalid("resource.priority", prio, "Priority must be between 0 and 65535.")
                fw["priority"] = prio
            elif key == "direction":
                if value not in ("INGRESS", "EGRESS"):
                    raise invalid("resource.direction", value, "Must be INGRESS or EGRESS.")
                fw["direction"] = value
            elif key in ("sourceRanges", "destinationRanges"):
                for cidr in value or []:
                    try:
                        ipaddress.ip_network(cidr, strict=False)
                    except ValueError:
                        raise invalid(f"resource.{key}", cidr, "Invalid IPCidrRange.") from None
                fw[key] = list(value or [])
            elif key in ("sourceTags", "targetTags", "sourceServiceAccounts", "targetServiceAccounts"):
                fw[key] = list(value or [])
            elif key in ("name", "description", "disabled", "logConfig"):
                fw[key] = value
            else:
                raise invalid(f"resource.{key}", "", "Unknown field.")
        for key in [k for k, v in fw.items() if v in ([], None)]:
            del fw[key]
        fw.setdefault("direction", "INGRESS")
        fw.setdefault("priority", 1000)
        fw.setdefault("disabled", False)
        fw.setdefault("logConfig", {"enable": False})
        if "allowed" in fw and "denied" in fw:
            raise invalid("resource", "", "A firewall rule can have allowed or denied rules, not both.")
        if "allowed" not in fw and "denied" not in fw:
            raise invalid("resource.allowed", "", "A firewall rule must have allowed or denied rules.")
        if fw["direction"] == "INGRESS":
            if "destinationRanges" in fw:
                raise invalid("resource.destinationRanges", "", "destinationRanges is for EGRESS rules.")
            if not any(k in fw for k in ("sourceRanges", "sourceTags", "sourceServiceAccounts")):
                fw["sourceRanges"] = ["0.0.0.0/0"]
        else:
            if any(k in fw for k in ("sourceTags", "sourceServiceAccounts")):
                raise invalid("resource.sourceTags", "", "Source tags and service accounts are for INGRESS rules.")
            if "destinationRanges" not in fw:
                fw["destinationRanges"] = ["0.0.0.0/0"]
        return fw

    def insert_firewall(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        name = check_name(body.get("name"))
        if name in proj.firewalls:
            raise already_exists(f"projects/{project}/global/firewalls/{name}")
        body = dict(body)
        body.setdefault("network", f"projects/{project}/global/networks/default")
        fw = self._firewall_fields(project, body, None)
        fw.update(kind="compute#firewall", id=new_id(), creationTimestamp=now_ts(), name=name,
                  selfLink=link(f"projects/{project}/global/firewalls/{name}"))  # fmt: skip
        proj.firewalls[name] = fw
        return self.operation(proj, "insert", fw)

    def update_firewall(self, project: str, name: str, body: dict[str, Any], replace: bool) -> dict[str, Any]:
        proj = self.project(project)
        current = proj.firewalls.get(name)
        if current is None:
            raise not_found(f"projects/{project}/global/firewalls/{name}")
        if body.get("name") not in (None, name):
            raise invalid("resource.name", body["name"], "The name of a firewall rule cannot be changed.")
        if replace:  # PUT: what is not given goes back to its default
            base = {k: current[k] for k in ("kind", "id", "creationTimestamp", "name", "selfLink", "network")}
            body = dict(body)
            body.setdefault("network", current["network"])
            fw = self._firewall_fields(project, body, base)
        else:
            fw = self._firewall_fields(project, body, current)
        proj.firewalls[name] = fw
        return self.operation(proj, "update" if replace else "patch", fw)

    def delete_firewall(self, project: str, name: str) -> dict[str, Any]:
        proj = self.project(project)
        fw = proj.firewalls.pop(name, None)
        if fw is None:
            raise not_found(f"projects/{project}/global/firewalls/{name}")
        return self.operation(proj, "delete", fw)

    # -- disks
    def disk_type_ref(self, value: Any, field: str, project: str, zone: str) -> str:
        p, z, name = parse_ref(value, field, project, "zones", "diskTypes")
        if name not in DISK_TYPES:
            raise invalid(field, value, f"The referenced diskType resource '{name}' cannot be found.")
        if z != zone:
            raise invalid(field, value, f"The disk type must be in zone '{zone}'.")
        return link(f"projects/{p}/zones/{z}/diskTypes/{name}")

    def _new_disk(self, proj: Project, zone: str, name: str, size: Any, disk_type: Any, image: Any, labels: Any,
                  description: str | None, field: str) -> dict[str, Any]:  # fmt: skip
        """A disk record (not stored yet); field: the request field prefix for errors."""
        check_name(name, f"{field}.name" if field == "resource" else f"{field}.diskName")
        type_link = (self.disk_type_ref(disk_type, f"{field}.type" if field == "resource" else f"{field}.diskType",
                                        proj.id, zone) if disk_type else link(f"projects/{proj.id}/zones/{zone}/diskTypes/pd-standard"))  # fmt: skip
        type_name = type_link.rsplit("/", 1)[1]
        img = resolve_image(image, f"{field}.sourceImage", proj.id) if image else None
        size_field = f"{field}.sizeGb" if field == "resource" else f"{field}.diskSizeGb"
        if size is None:
            size_gb = int(img["diskSizeGb"]) if img else (500 if type_name == "pd-extreme" else 10)
        else:
            size_gb = as_int(size, size_field)
        if img and size_gb < int(img["diskSizeGb"]):
            raise invalid(size_field, size_gb, f"Requested disk size cannot be smaller than the image size "
                          f"({img['diskSizeGb']} GB)")  # fmt: skip
        if not DISK_TYPES[type_name] <= size_gb <= MAX_DISK_GB:
            raise invalid(size_field, size_gb, f"Disk size must be between {DISK_TYPES[type_name]} GB and "
                          f"{MAX_DISK_GB} GB for {type_name} disks.")  # fmt: skip
        label_map = labels_of(labels, f"{field}.labels")
        disk: dict[str, Any] = {
            "kind": "compute#disk", "id": new_id(), "creationTimestamp": now_ts(), "name": name, "sizeGb": str(size_gb),
            "zone": link(f"projects/{proj.id}/zones/{zone}"), "status": "READY",
            "selfLink": link(f"projects/{proj.id}/zones/{zone}/disks/{name}"), "type": type_link,
            "labelFingerprint": fingerprint(label_map), "physicalBlockSizeBytes": "4096", "architecture": "X86_64",
        }  # fmt: skip
        if label_map:
            disk["labels"] = label_map
        if description:
            disk["description"] = description
        if img:
            disk["sourceImage"] = img["selfLink"]
            disk["sourceImageId"] = img["id"]
            disk["guestOsFeatures"] = copy.deepcopy(img["guestOsFeatures"])
        return disk

    def insert_disk(self, project: str, zone: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        zone_or_404(project, zone)
        name = check_name(body.get("name"))
        if (zone, name) in proj.disks:
            raise already_exists(f"projects/{project}/zones/{zone}/disks/{name}")
        for key in ("sourceSnapshot", "sourceDisk", "sourceInstantSnapshot"):
            if body.get(key):
                raise invalid(f"resource.{key}", body[key], "The twin does not emulate snapshots or disk clones.")
        disk = self._new_disk(proj, zone, name, body.get("sizeGb"), body.get("type"), body.get("sourceImage"),
                              body.get("labels"), body.get("description"), "resource")  # fmt: skip
        proj.disks[(zone, name)] = disk
        return self.operation(proj, "insert", disk, zone=zone)

    def _disk(self, project: str, zone: str, name: str) -> tuple[Project, dict[str, Any]]:
        proj = self.project(project)
        zone_or_404(project, zone)
        disk = proj.disks.get((zone, name))
        if disk is None:
            raise not_found(f"projects/{project}/zones/{zone}/disks/{name}")
        return proj, disk

    def disk_action(self, project: str, zone: str, name: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        proj, disk = self._disk(project, zone, name)
        if action == "setLabels":
            self._set_labels(disk, body)
        elif action == "resize":
            size = as_int(body.get("sizeGb"), "sizeGb")
            if size < int(disk["sizeGb"]):
                raise invalid("sizeGb", size, f"Requested disk size cannot be smaller than the current size "
                              f"({disk['sizeGb']} GB).")  # fmt: skip
            if size > MAX_DISK_GB:
                raise invalid("sizeGb", size, f"Disk size must be at most {MAX_DISK_GB} GB.")
            disk["sizeGb"] = str(size)
        else:
            raise GcpError(404, f"Unknown disk method '{action}'", "notFound")
        return self.operation(proj, action, disk, zone=zone)

    def delete_disk(self, project: str, zone: str, name: str) -> dict[str, Any]:
        proj, disk = self._disk(project, zone, name)
        if disk.get("users"):
            user = disk["users"][0].split("/compute/v1/", 1)[1]
            raise in_use("disk", f"projects/{project}/zones/{zone}/disks/{name}", user)
        del proj.disks[(zone, name)]
        return self.operation(proj, "delete", disk, zone=zone)

    @staticmethod
    def _set_labels(resource: dict[str, Any], body: dict[str, Any]) -> None:
        given = body.get("labelFingerprint")
        if not given:
            raise invalid("labelFingerprint", "", "Required field 'labelFingerprint' not specified.")
        if given != resource["labelFingerprint"]:
            raise precondition("Labels fingerprint either invalid or resource labels have changed")
        labels = labels_of(body.get("labels"), "labels")
        if labels:
            resource["labels"] = labels
        else:
            resource.pop("labels", None)
        resource["labelFingerprint"] = fingerprint(labels)

    # -- instances
    def _machine_type(self, value: Any, field: str, project: str, zone: str) -> str:
        _, z, name = parse_ref(value, field, project, "zones", "machineTypes")
        if z != zone:
            raise invalid(field, value, f"Machine type must be in zone '{zone}'.")
        if name not in MACHINE_TYPES:
            raise invalid(field, value, f"Machine type with name '{name}' does not exist in zone '{zone}'.")
        return name

    def _accelerators(self, body_accels: Any, machine_type: str, project: str, zone: str,
                      field: str = "resource.guestAccelerators") -> list[dict[str, Any]]:  # fmt: skip
        given = []
        for i, acc in enumerate(body_accels or []):
            _, z, name = parse_ref(acc.get("acceleratorType"), f"{field}[{i}].acceleratorType", project, "zones",
                                   "acceleratorTypes")  # fmt: skip
            if z != zone or name not in ACCELERATOR_TYPES:
                raise invalid(f"{field}[{i}].acceleratorType", acc.get("acceleratorType"),
                              f"Accelerator type '{name}' does not exist in zone '{zone}'.")  # fmt: skip
            count = as_int(acc.get("acceleratorCount", 1), f"{field}[{i}].acceleratorCount")
            if count < 1:
                raise invalid(f"{field}[{i}].acceleratorCount", count, "The accelerator count must be at least 1.")
            given.append((name, count, i))
        if len({g[0] for g in given}) < len(given):
            raise invalid(field, "", "An accelerator type can only be listed once.")
        fixed = MACHINE_TYPES[machine_type][2]
        if fixed:
            if not given:
                given = [(fixed[0], fixed[1], 0)]
            for name, count, i in given:
                if name != fixed[0]:
                    raise GcpError(400, f"[{machine_type}, {name}] features are not compatible for creating instance.",
                                   "invalid")  # fmt: skip
                if count != fixed[1]:
                    raise invalid(f"{field}[{i}].acceleratorCount", count, f"Machine type {machine_type} comes with "
                                  f"{fixed[1]} {name} accelerator{'s' if fixed[1] > 1 else ''}; the count must be {fixed[1]}.")  # fmt: skip
        else:
            for name, count, i in given:
                if not machine_type.startswith("n1-") or name not in N1_GPUS:
                    raise GcpError(400, f"[{machine_type}, {name}] features are not compatible for creating instance.",
                                   "invalid")  # fmt: skip
                if count not in N1_GPUS[name]:
                    allowed = ", ".join(str(c) for c in N1_GPUS[name])
                    raise invalid(f"{field}[{i}].acceleratorCount", count, f"Accelerator count {count} is not valid "
                                  f"for {name}; valid counts are {allowed}.")  # fmt: skip
        return [{"acceleratorType": link(f"projects/{project}/zones/{zone}/acceleratorTypes/{name}"),
                 "acceleratorCount": count} for name, count, _ in given]  # fmt: skip

    @staticmethod
    def _scheduling(body: Any, has_gpus: bool, field: str = "resource.scheduling") -> dict[str, Any]:
        sched = dict(body or {})
        model = sched.get("provisioningModel") or "STANDARD"
        if model not in ("STANDARD", "SPOT"):
            raise invalid(f"{field}.provisioningModel", model, "Must be STANDARD or SPOT.")
        preemptible = bool(sched.get("preemptible", False))
        if model == "SPOT":
            preemptible = True  # Spot VMs report the legacy preemptible flag too
        interruptible = model == "SPOT" or preemptible
        restart = sched.get("automaticRestart")
        if interruptible and restart is True:
            raise invalid(f"{field}.preemptible", "true", "Scheduling must have preemptible be false when "
                          "AutomaticRestart is true.")  # fmt: skip
        if restart is None:
            restart = not interruptible
        ohm = sched.get("onHostMaintenance") or ("TERMINATE" if interruptible else "MIGRATE")
        if ohm not in ("MIGRATE", "TERMINATE"):
            raise invalid(f"{field}.onHostMaintenance", ohm, "Must be MIGRATE or TERMINATE.")
        if has_gpus and ohm == "MIGRATE":
            raise invalid(f"{field}.onHostMaintenance", ohm, "Instances with guest accelerators do not support "
                          "live migration.")  # fmt: skip
        if interruptible and ohm == "MIGRATE":
            raise invalid(f"{field}.onHostMaintenance", ohm, "Preemptible and Spot instances do not support live "
                          "migration: onHostMaintenance must be TERMINATE.")  # fmt: skip
        result: dict[str, Any] = {"onHostMaintenance": ohm, "automaticRestart": bool(restart),
                                  "preemptible": preemptible, "provisioningModel": model}  # fmt: skip
        action = sched.get("instanceTerminationAction")
        if model == "SPOT":
            action = action or "STOP"
        if action:
            if action not in ("STOP", "DELETE"):
                raise invalid(f"{field}.instanceTerminationAction", action, "Must be STOP or DELETE.")
            if model != "SPOT":
                raise invalid(f"{field}.instanceTerminationAction", action,
                              "instanceTerminationAction is only for Spot instances.")  # fmt: skip
            result["instanceTerminationAction"] = action
        for key in ("minNodeCpus", "nodeAffinities", "locationHint"):
            if key in sched:
                result[key] = sched[key]
        return result

    def _used_ips(self, proj: Project, sub_link: str) -> set[str]:
        return {n["networkIP"] for inst in proj.instances.values() for n in inst["networkInterfaces"]
                if n.get("subnetwork") == sub_link and n.get("networkIP")}  # fmt: skip

    def _allocate_ip(self, proj: Project, sub: dict[str, Any], taken: set[str]) -> str:
        net = ipaddress.ip_network(sub["ipCidrRange"])
        reserved = {net.network_address, net.network_address + 1, net.broadcast_address, net.broadcast_address - 1}
        for host in net.hosts():
            if host not in reserved and str(host) not in taken:
                return str(host)
        raise GcpError(400, f"IP space of '{sub['selfLink'].split('/compute/v1/', 1)[1]}' is exhausted.",
                       "ipSpaceExhausted")  # fmt: skip

    def _allocate_nat(self, taken: set[str]) -> str:
        for host in NAT_RANGE.hosts():
            if str(host) not in self.nat_ips and str(host) not in taken:
                return str(host)
        raise GcpError(400, "The twin's external IP range 203.0.113.0/24 is exhausted.", "ipSpaceExhausted")

    def _nics(self, proj: Project, zone: str, body_nics: Any) -> list[dict[str, Any]]:
        region = ZONE_REGION[zone]
        if not body_nics:
            raise invalid("resource.networkInterfaces", "", "At least one network interface is required.")
        nics = []
        taken_ips: dict[str, set[str]] = {}
        taken_nat: set[str] = set()
        for i, nic in enumerate(body_nics):
            field = f"resource.networkInterfaces[{i}]"
            sub = None
            if nic.get("subnetwork"):
                p, r, sname = parse_ref(nic["subnetwork"], f"{field}.subnetwork", proj.id, "regions", "subnetworks")
                sub = self.project(p).subnetworks.get((r, sname))
                if sub is None:
                    raise not_found(f"projects/{p}/regions/{r}/subnetworks/{sname}")
                if r != region:
                    raise invalid(f"{field}.subnetwork", nic["subnetwork"], f"Subnetwork must be in region '{region}', "
                                  f"the region of zone '{zone}'.")  # fmt: skip
                if nic.get("network"):
                    _, net = self.network_ref(nic["network"], f"{field}.network", proj.id)
                    if net["selfLink"] != sub["network"]:
                        raise invalid(f"{field}.subnetwork", nic["subnetwork"], "Subnetwork does not belong to the "
                                      "network of the interface.")  # fmt: skip
            else:
                network = nic.get("network") or f"projects/{proj.id}/global/networks/default"
                net_proj, net = self.network_ref(network, f"{field}.network", proj.id)
                if not net["autoCreateSubnetworks"]:
                    raise invalid(field, "", "Subnetwork should be specified for custom subnetmode network")
                sub = next((s for (r, _), s in net_proj.subnetworks.items()
                            if r == region and s["network"] == net["selfLink"]), None)  # fmt: skip
                if sub is None:
                    raise invalid(field, "", f"The network has no subnetwork in region '{region}'.")
            sub_proj = self.project(sub["selfLink"].split("/projects/", 1)[1].split("/", 1)[0])
            taken = taken_ips.setdefault(sub["selfLink"], self._used_ips(sub_proj, sub["selfLink"]))
            if nic.get("networkIP"):
                ip = nic["networkIP"]
                try:
                    inside = ipaddress.ip_address(ip) in ipaddress.ip_network(sub["ipCidrRange"])
                except ValueError:
                    inside = False
                if not inside:
                    raise invalid(f"{field}.networkIP", ip, f"Requested internal IP address is outside the "
                                  f"subnetwork's range {sub['ipCidrRange']}.")  # fmt: skip
                if ip in taken:
                    raise GcpError(400, f"IP '{ip}' is already being used by another resource.", "resourceInUse")
            else:
                ip = self._allocate_ip(sub_proj, sub, taken)
            taken.add(ip)
            entry: dict[str, Any] = {"kind": "compute#networkInterface", "network": sub["network"],
                                     "subnetwork": sub["selfLink"], "networkIP": ip, "name": f"nic{i}",
                                     "fingerprint": random_fingerprint(), "stackType": "IPV4_ONLY"}  # fmt: skip
            if nic.get("nicType"):
                entry["nicType"] = nic["nicType"]
            if nic.get("aliasIpRanges"):
                entry["aliasIpRanges"] = nic["aliasIpRanges"]
            configs = nic.get("accessConfigs") or []
            if len(configs) > 1:
                raise invalid(f"{field}.accessConfigs", "", "At most one access config per network interface.")
            acs = []
            for j, ac in enumerate(configs):
                if (ac.get("type") or "ONE_TO_ONE_NAT") != "ONE_TO_ONE_NAT":
                    raise invalid(f"{field}.accessConfigs[{j}].type", ac.get("type"), "Must be ONE_TO_ONE_NAT.")
                nat = ac.get("natIP")
                if nat:
                    if nat in self.nat_ips or nat in taken_nat:
                        raise GcpError(400, f"IP '{nat}' is already being used by another resource.", "resourceInUse")
                    ephemeral = False
                else:
                    nat, ephemeral = self._allocate_nat(taken_nat), True
                taken_nat.add(nat)
                out = {"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT", "name": ac.get("name") or "External NAT",
                       "natIP": nat, "networkTier": ac.get("networkTier") or "PREMIUM"}  # fmt: skip
                for key in ("setPublicPtr", "publicPtrDomainName"):
                    if key in ac:
                        out[key] = ac[key]
                out["_ephemeral"] = ephemeral  # internal, stripped on output
                acs.append(out)
            if acs:
                entry["accessConfigs"] = acs
            nics.append(entry)
        return nics

    def _service_accounts(self, proj: Project, body_sas: Any) -> list[dict[str, Any]]:
        result = []
        for i, sa in enumerate(body_sas or []):
            email = sa.get("email") or "default"
            if email == "default":
                email = f"{proj.number}-compute@developer.gserviceaccount.com"
            elif email.endswith(".iam.gserviceaccount.com"):
                if self.find_service_account(email) is None:
                    raise invalid(f"resource.serviceAccounts[{i}].email", email, f"The user does not have access to "
                                  f"service account '{email}'.  User: '{CALLER}'.  Ask a project owner to grant you "
                                  "the iam.serviceAccountUser role on the service account")  # fmt: skip
            result.append({"email": email, "scopes": list(sa.get("scopes") or [])})
        if len(result) > 1:
            raise invalid("resource.serviceAccounts", "", "At most one service account per instance.")
        return result

    @staticmethod
    def _metadata(body: Any, field: str = "resource.metadata") -> dict[str, Any]:
        items = (body or {}).get("items") or []
        seen = set()
        out = []
        for i, item in enumerate(items):
            key = item.get("key")
            if not key or not re.match(r"^[a-zA-Z0-9-_]{1,128}$", key):
                raise invalid(f"{field}.items[{i}].key", key or "", "Metadata keys must be 1 to 128 letters, digits, "
                              "dashes or underscores.")  # fmt: skip
            if key in seen:
                raise invalid(f"{field}.items[{i}].key", key, "Duplicate metadata key.")
            seen.add(key)
            out.append({"key": key, "value": "" if item.get("value") is None else str(item["value"])})
        meta: dict[str, Any] = {"kind": "compute#metadata", "fingerprint": fingerprint(out)}
        if out:
            meta["items"] = out
        return meta

    @staticmethod
    def _tags(body: Any, field: str = "resource.tags") -> dict[str, Any]:
        items = list((body or {}).get("items") or [])
        for i, tag in enumerate(items):
            if not isinstance(tag, str) or not NAME_RE.match(tag):
                raise invalid(f"{field}.items[{i}]", tag, f"Must be a match of regex '{NAME_REGEX_TEXT}'")
        tags: dict[str, Any] = {"fingerprint": fingerprint(items)}
        if items:
            tags["items"] = items
        return tags

    def insert_instance(self, project: str, zone: str, body: dict[str, Any]) -> dict[str, Any]:
        proj = self.project(project)
        zone_or_404(project, zone)
        name = check_name(body.get("name"))
        path = f"projects/{project}/zones/{zone}/instances/{name}"
        if (zone, name) in proj.instances:
            raise already_exists(path)
        if body.get("sourceMachineImage") or body.get("sourceInstanceTemplate"):
            raise invalid("resource", "", "The twin does not emulate machine images or instance templates.")
        machine_type = self._machine_type(body.get("machineType"), "resource.machineType", project, zone)
        accels = self._accelerators(body.get("guestAccelerators"), machine_type, project, zone)
        scheduling = self._scheduling(body.get("scheduling"), bool(accels))
        labels = labels_of(body.get("labels"))
        metadata = self._metadata(body.get("metadata"))
        tags = self._tags(body.get("tags"))
        sas = self._service_accounts(proj, body.get("serviceAccounts"))
        inst_link = link(path)

        # Disks: check everything before anything is created or attached.
        body_disks = body.get("disks") or []
        if not body_disks or not body_disks[0].get("boot"):
            raise invalid("resource.disks[0].boot", "", "Boot disk must be the first disk attached to the instance.")
        plan: list[tuple[dict[str, Any], dict[str, Any], bool]] = []  # (attached entry, disk, new)
        new_names: set[str] = set()
        for i, d in enumerate(body_disks):
            field = f"resource.disks[{i}]"
            if i > 0 and d.get("boot"):
                raise invalid(f"{field}.boot", True, "Only the first disk can be a boot disk.")
            if (d.get("type") or "PERSISTENT") != "PERSISTENT":
                raise invalid(f"{field}.type", d.get("type"), "The twin does not emulate local SSD (SCRATCH) disks.")
            mode = d.get("mode") or "READ_WRITE"
            if mode not in ("READ_WRITE", "READ_ONLY"):
                raise invalid(f"{field}.mode", mode, "Must be READ_WRITE or READ_ONLY.")
            params = d.get("initializeParams")
            if d.get("source"):
                p, z, dname = parse_ref(d["source"], f"{field}.source", project, "zones", "disks")
                disk = self.project(p).disks.get((z, dname))
                if disk is None:
                    raise not_found(f"projects/{p}/zones/{z}/disks/{dname}")
                if z != zone:
                    raise invalid(f"{field}.source", d["source"], f"Disk must be in zone '{zone}'.")
                new = False
            elif params:
                if i == 0 and not params.get("sourceImage"):
                    raise invalid(f"{field}.initializeParams.sourceImage", "", "A boot disk created from "
                                  "initializeParams needs a sourceImage.")  # fmt: skip
                dname = params.get("diskName") or (name if i == 0 else f"{name}-{i}")
                existing = proj.disks.get((zone, dname))
                if existing is not None:  # GCP attaches an existing disk of that name
                    disk, new = existing, False
                else:
                    if dname in new_names:
                        raise already_exists(f"projects/{project}/zones/{zone}/disks/{dname}")
                    disk = self._new_disk(proj, zone, dname, params.get("diskSizeGb"), params.get("diskType"),
                                          params.get("sourceImage"), params.get("labels"), None,
                                          f"{field}.initializeParams")  # fmt: skip
                    new = True
                    new_names.add(dname)
            else:
                raise invalid(field, "", "A disk needs a source or initializeParams.")
            if not new:
                users = disk.get("users") or []
                if users and (mode == "READ_WRITE" or disk.get("_mode") == "READ_WRITE"):
                    raise in_use("disk", disk["selfLink"].split("/compute/v1/", 1)[1],
                                 users[0].split("/compute/v1/", 1)[1])  # fmt: skip
                if any(disk is other for _, other, _ in plan):
                    raise invalid(f"{field}.source", d.get("source", ""), "The same disk is attached twice.")
            entry = {
                "kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": mode, "source": disk["selfLink"],
                "deviceName": d.get("deviceName") or f"persistent-disk-{i}", "index": i, "boot": i == 0,
                "autoDelete": bool(d.get("autoDelete", False)), "interface": d.get("interface") or "SCSI",
                "diskSizeGb": disk["sizeGb"], "architecture": "X86_64",
            }  # fmt: skip
            if i == 0 and disk.get("guestOsFeatures"):
                entry["guestOsFeatures"] = copy.deepcopy(disk["guestOsFeatures"])
            plan.append((entry, disk, new))
        devices = [e["deviceName"] for e, _, _ in plan]
        if len(set(devices)) != len(devices):
            raise invalid("resource.disks", "", "Device names must be unique.")
        nics = self._nics(proj, zone, body.get("networkInterfaces"))

        # Commit.
        ts = now_ts()
        for entry, disk, new in plan:
            if new:
                proj.disks[(zone, disk["name"])] = disk
            disk.setdefault("users", []).append(inst_link)
            disk["_mode"] = entry["mode"]
            disk["lastAttachTimestamp"] = ts
        for nic in nics:
            for ac in nic.get("accessConfigs", []):
                self.nat_ips.add(ac["natIP"])
        cpu = "Intel Cascade Lake" if machine_type.startswith(("a2-", "g2-")) else "Intel Broadwell"
        inst: dict[str, Any] = {
            "kind": "compute#instance", "id": new_id(), "creationTimestamp": ts, "name": name, "tags": tags,
            "machineType": link(f"projects/{project}/zones/{zone}/machineTypes/{machine_type}"), "status": "RUNNING",
            "zone": link(f"projects/{project}/zones/{zone}"), "canIpForward": bool(body.get("canIpForward", False)),
            "networkInterfaces": nics, "disks": [e for e, _, _ in plan], "metadata": metadata, "selfLink": inst_link,
            "scheduling": scheduling, "cpuPlatform": cpu, "labelFingerprint": fingerprint(labels),
            "startRestricted": False, "deletionProtection": bool(body.get("deletionProtection", False)),
            "shieldedInstanceConfig": body.get("shieldedInstanceConfig") or {"enableSecureBoot": False, "enableVtpm": True,
                                                                             "enableIntegrityMonitoring": True},
            "shieldedInstanceIntegrityPolicy": {"updateAutoLearnPolicy": True}, "fingerprint": random_fingerprint(),
            "lastStartTimestamp": ts, "keyRevocationActionType": "NONE", "satisfiesPzi": True,
        }  # fmt: skip
        if labels:
            inst["labels"] = labels
        if accels:
            inst["guestAccelerators"] = accels
        if sas:
            inst["serviceAccounts"] = sas
        for key in ("description", "hostname", "minCpuPlatform", "confidentialInstanceConfig", "reservationAffinity"):
            if body.get(key) is not None:
                inst[key] = body[key]
        proj.instances[(zone, name)] = inst
        return self.operation(proj, "insert", inst, zone=zone)

    def _instance(self, project: str, zone: str, name: str) -> tuple[Project, dict[str, Any]]:
        proj = self.project(project)
        zone_or_404(project, zone)
        inst = proj.instances.get((zone, name))
        if inst is None:
            raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
        return proj, inst

    def _detach(self, proj: Project, inst: dict[str, Any], entry: dict[str, Any], delete_auto: bool) -> None:
        p, z, dname = parse_ref(entry["source"], "source", proj.id, "zones", "disks")
        owner = self.project(p)
        disk = owner.disks.get((z, dname))
        if disk is None:
            return
        users = [u for u in disk.get("users", []) if u != inst["selfLink"]]
        if users:
            disk["users"] = users
        else:
            disk.pop("users", None)
            disk.pop("_mode", None)
        disk["lastDetachTimestamp"] = now_ts()
        if delete_auto and entry.get("autoDelete") and not users:
            del owner.disks[(z, dname)]

    def delete_instance(self, project: str, zone: str, name: str) -> dict[str, Any]:
        proj, inst = self._instance(project, zone, name)
        if inst.get("deletionProtection"):
            raise GcpError(400, "Invalid resource usage: 'Resource cannot be deleted if it's protected against "
                           "deletion.'.", "resourceIsProtected")  # fmt: skip
        for entry in inst["disks"]:
            self._detach(proj, inst, entry, delete_auto=True)
        for nic in inst["networkInterfaces"]:
            for ac in nic.get("accessConfigs", []):
                self.nat_ips.discard(ac.get("natIP", ""))
        del proj.instances[(zone, name)]
        return self.operation(proj, "delete", inst, zone=zone)

    def instance_action(self, project: str, zone: str, name: str, action: str, body: dict[str, Any],
                        query: dict[str, str]) -> dict[str, Any]:  # fmt: skip
        proj, inst = self._instance(project, zone, name)
        if action == "setLabels":
            self._set_labels(inst, body)
        elif action == "setMetadata":
            if body.get("fingerprint") != inst["metadata"]["fingerprint"]:
                raise precondition("Supplied fingerprint does not match current metadata fingerprint.")
            inst["metadata"] = self._metadata(body, "metadata")
        elif action == "setTags":
            if body.get("fingerprint") != inst["tags"]["fingerprint"]:
                raise precondition("Supplied fingerprint does not match current tags fingerprint.")
            inst["tags"] = self._tags(body, "tags")
        elif action == "stop":
            if inst["status"] == "RUNNING":
                for nic in inst["networkInterfaces"]:  # ephemeral external IPs are released on stop
                    for ac in nic.get("accessConfigs", []):
                        if ac.get("_ephemeral") and ac.get("natIP"):
                            self.nat_ips.discard(ac.pop("natIP"))
            inst["status"] = "TERMINATED"
            inst["lastStopTimestamp"] = now_ts()
        elif action == "start":
            if inst["status"] != "RUNNING":
                for nic in inst["networkInterfaces"]:
                    for ac in nic.get("accessConfigs", []):
                        if not ac.get("natIP"):
                            ac["natIP"] = self._allocate_nat(set())
                            self.nat_ips.add(ac["natIP"])
                inst["status"] = "RUNNING"
                inst["lastStartTimestamp"] = now_ts()
        elif action == "setMachineType":
            if inst["status"] != "TERMINATED":
                raise GcpError(400, "Invalid resource usage: 'Instance must be stopped before changing its machine "
                               "type.'.", "resourceNotReady")  # fmt: skip
            mt = self._machine_type(body.get("machineType"), "machineType", project, zone)
            accels = self._accelerators(None if MACHINE_TYPES[mt][2] else inst.get("guestAccelerators"), mt, project, zone)
            if accels and inst["scheduling"]["onHostMaintenance"] == "MIGRATE":
                raise invalid("machineType", body.get("machineType"), "Instances with guest accelerators do not "
                              "support live migration.")  # fmt: skip
            inst["machineType"] = link(f"projects/{project}/zones/{zone}/machineTypes/{mt}")
            if accels:
                inst["guestAccelerators"] = accels
            else:
                inst.pop("guestAccelerators", None)
        elif action == "setDeletionProtection":
            value = query.get("deletionProtection", "true").lower()
            inst["deletionProtection"] = value != "false"
        elif action == "attachDisk":
            p, z, dname = parse_ref(body.get("source"), "source", project, "zones", "disks")
            disk = self.project(p).disks.get((z, dname))
            if disk is None:
                raise not_found(f"projects/{p}/zones/{z}/disks/{dname}")
            mode = body.get("mode") or "READ_WRITE"
            if disk.get("users") and (mode == "READ_WRITE" or disk.get("_mode") == "READ_WRITE"):
                raise in_use("disk", f"projects/{p}/zones/{z}/disks/{dname}", disk["users"][0].split("/compute/v1/", 1)[1])
            index = max(e["index"] for e in inst["disks"]) + 1
            device = body.get("deviceName") or f"persistent-disk-{index}"
            if any(e["deviceName"] == device for e in inst["disks"]):
                raise invalid("deviceName", device, "Device names must be unique.")
            inst["disks"].append({"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": mode,
                                  "source": disk["selfLink"], "deviceName": device, "index": index, "boot": False,
                                  "autoDelete": bool(body.get("autoDelete", False)), "interface": body.get("interface") or "SCSI",
                                  "diskSizeGb": disk["sizeGb"], "architecture": "X86_64"})  # fmt: skip
            disk.setdefault("users", []).append(inst["selfLink"])
            disk["_mode"] = mode
            disk["lastAttachTimestamp"] = now_ts()
        elif action == "detachDisk":
            device = query.get("deviceName", "")
            entry = next((e for e in inst["disks"] if e["deviceName"] == device), None)
            if entry is None:
                raise invalid("deviceName", device, f"No attached disk found with device name '{device}'")
            if entry["boot"]:
                raise invalid("deviceName", device, "The boot disk cannot be detached from a running instance.")
            inst["disks"].remove(entry)
            self._detach(proj, inst, entry, delete_auto=False)
        else:
            raise GcpError(404, f"Unknown instance method '{action}'", "notFound")
        inst["fingerprint"] = random_fingerprint()
        return self.operation(proj, action, inst, zone=zone)

    # -- IAM service accounts
    def find_service_account(self, ident: str) -> dict[str, Any] | None:
        for proj in self.projects.values():
            for email, sa in proj.service_accounts.items():
                if email == ident.lower() or sa["uniqueId"] == ident:
                    return sa
        return None

    def create_service_account(self, project: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise one_platform(400, "Invalid JSON payload received.")
        unknown = [k for k in body if k not in ("accountId", "serviceAccount")]
        if unknown:
            raise one_platform(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        proj = self.project(project)
        account_id = body.get("accountId") or ""
        if not ACCOUNT_ID_RE.match(account_id):
            raise one_platform(400, f"Invalid account ID '{account_id}': it must be 6 to 30 lowercase letters, digits "
                               "or hyphens, start with a letter and not end with a hyphen "
                               "([a-z](?:[-a-z0-9]{4,28}[a-z0-9])).")  # fmt: skip
        email = f"{account_id}@{project}.iam.gserviceaccount.com"
        if email in proj.service_accounts:
            raise one_platform(409, f"Service account {account_id} already exists within project projects/{project}.")
        details = body.get("serviceAccount") or {}
        unique_id = str(random.randrange(10**20, 10**21))
        sa: dict[str, Any] = {"name": f"projects/{project}/serviceAccounts/{email}", "projectId": project,
                              "uniqueId": unique_id, "email": email, "etag": random_fingerprint(),
                              "oauth2ClientId": unique_id}  # fmt: skip
        self._sa_fields(sa, details, ("displayName", "description"))
        proj.service_accounts[email] = sa
        return copy.deepcopy(sa)

    @staticmethod
    def _sa_fields(sa: dict[str, Any], values: dict[str, Any], fields: tuple[str, ...] | list[str]) -> None:
        for key in fields:
            if key not in ("displayName", "description"):
                raise one_platform(400, f"Invalid update mask field '{key}': only displayName and description can "
                                   "be updated.")  # fmt: skip
            value = values.get(key)
            limit = 100 if key == "displayName" else 256
            if value and len(value) > limit:
                raise one_platform(400, f"{key} must be at most {limit} characters.")
            if value:
                sa[key] = value
            else:
                sa.pop(key, None)

    def get_service_account(self, project: str, ident: str) -> dict[str, Any]:
        sa = self.find_service_account(ident)
        if sa is None or (project != "-" and ident.isdigit() and sa["projectId"] != project):
            raise one_platform(404, "Unknown service account")
        return sa

    def update_service_account(self, project: str, ident: str, body: Any, patch: bool) -> dict[str, Any]:
        sa = self.get_service_account(project, ident)
        if not isinstance(body, dict):
            raise one_platform(400, "Invalid JSON payload received.")
        if patch:
            values = body.get("serviceAccount") or {}
            mask = [m.strip() for m in (body.get("updateMask") or "").split(",") if m.strip()]
            if not mask:
                raise one_platform(400, "Field updateMask is required.")
        else:
            unknown = [k for k in body if k not in ("displayName", "description", "etag", "name", "email",
                                                    "projectId", "uniqueId", "oauth2ClientId", "disabled")]  # fmt: skip
            if unknown:
                raise one_platform(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
            values, mask = body, ["displayName", "description"]
        etag = values.get("etag") if isinstance(values, dict) else None
        if etag and etag != sa["etag"]:
            raise one_platform(409, "The service account was changed since it was read (etag mismatch).", "ABORTED")
        self._sa_fields(sa, values, mask)
        sa["etag"] = random_fingerprint()
        return copy.deepcopy(sa)

    def delete_service_account(self, project: str, ident: str) -> dict[str, Any]:
        sa = self.get_service_account(project, ident)
        del self.projects[sa["projectId"]].service_accounts[sa["email"]]
        member = f"serviceAccount:{sa['email']}"
        for proj in self.projects.values():
            changed = False
            for binding in proj.policy["bindings"]:
                members = binding.get("members", [])
                new = [f"deleted:{member}?uid={sa['uniqueId']}" if m.lower() == member.lower() else m for m in members]
                if new != members:
                    binding["members"] = sorted(new)
                    changed = True
            if changed:
                proj.policy["etag"] = policy_etag()
        return {}

    def list_service_accounts(self, project: str, query: dict[str, str]) -> dict[str, Any]:
        proj = self.project(project)
        accounts = [copy.deepcopy(sa) for _, sa in sorted(proj.service_accounts.items())]
        size = min(max(as_int(query.get("pageSize", 20) or 20, "pageSize"), 1), 100)
        start = as_int(query.get("pageToken") or 0, "pageToken")
        page = accounts[start:start + size]
        out: dict[str, Any] = {}
        if page:
            out["accounts"] = page
        if start + size < len(accounts):
            out["nextPageToken"] = str(start + size)
        return out

    # -- Resource Manager
    def project_resource(self, project: str) -> dict[str, Any]:
        proj = self.project(project)
        return {"projectNumber": proj.number, "projectId": proj.id, "lifecycleState": "ACTIVE", "name": proj.id,
                "createTime": proj.created}  # fmt: skip

    def get_iam_policy(self, project: str, body: Any) -> dict[str, Any]:
        proj = self.project(project)
        requested = as_int((((body or {}).get("options") or {}).get("requestedPolicyVersion")) or 0,
                           "options.requestedPolicyVersion")  # fmt: skip
        if requested not in (0, 1, 2, 3):
            raise one_platform(400, f"Invalid requested policy version {requested}: must be 1, 2 or 3.")
        policy = copy.deepcopy(proj.policy)
        if requested < 3 and any(b.get("condition") for b in policy["bindings"]):
            for b in policy["bindings"]:
                cond = b.pop("condition", None)
                if cond:
                    b["role"] += "_withcond_" + hashlib.md5(json.dumps(cond, sort_keys=True).encode()).hexdigest()[:20]
            policy["version"] = 1
        return policy

    def set_iam_policy(self, project: str, body: Any) -> dict[str, Any]:
        proj = self.project(project)
        if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
            raise one_platform(400, "Request contains an invalid argument: 'policy' is required.")
        policy = body["policy"]
        mask = [m.strip() for m in (body.get("updateMask") or "bindings,etag").split(",") if m.strip()]
        for m in mask:
            if m not in ("bindings", "etag", "auditConfigs", "version"):
                raise one_platform(400, f"Invalid update mask path '{m}'.")
        etag = policy.get("etag")
        if etag and etag != proj.policy["etag"]:
            raise one_platform(409, "There were concurrent policy changes. Please retry the whole read-modify-write "
                               f"with exponential backoff. The request's ETag '{etag}' did not match the current "
                               f"policy's ETag '{proj.policy['etag']}'.", "ABORTED")  # fmt: skip
        new = copy.deepcopy(proj.policy)
        if "bindings" in mask:
            merged: dict[str, dict[str, Any]] = {}
            for i, binding in enumerate(policy.get("bindings") or []):
                role = binding.get("role") or ""
                if not re.match(r"^(roles/|projects/[^/]+/roles/|organizations/\d+/roles/)[A-Za-z0-9_.]+$", role):
                    raise one_platform(400, f"Role {role!r} in bindings[{i}] is not a valid role name.")
                cond = binding.get("condition")
                if cond and as_int(policy.get("version") or 1, "policy.version") < 3:
                    raise one_platform(400, "Conditional role bindings require policy version 3; set policy.version "
                                       "to 3.")  # fmt: skip
                members = []
                for member in binding.get("members") or []:
                    self._check_member(member)
                    if member not in members:
                        members.append(member)
                if not members:
                    continue
                key = json.dumps([role, cond], sort_keys=True)
                if key in merged:
                    merged[key]["members"] = sorted(set(merged[key]["members"]) | set(members))
                else:
                    entry: dict[str, Any] = {"role": role, "members": sorted(members)}
                    if cond:
                        entry["condition"] = cond
                    merged[key] = entry
            new["bindings"] = sorted(merged.values(), key=lambda b: (b["role"], json.dumps(b.get("condition"), sort_keys=True)))
        if "auditConfigs" in mask:
            if policy.get("auditConfigs"):
                new["auditConfigs"] = policy["auditConfigs"]
            else:
                new.pop("auditConfigs", None)
        new["version"] = 3 if any(b.get("condition") for b in new["bindings"]) else 1
        new["etag"] = policy_etag()
        proj.policy = new
        return copy.deepcopy(new)

    def _check_member(self, member: Any) -> None:
        if not isinstance(member, str) or not member.startswith(MEMBER_PREFIXES):
            raise one_platform(400, f"Invalid member {member!r}: a member must start with user:, serviceAccount:, "
                               "group:, domain:, deleted:, principal:// or principalSet://.")  # fmt: skip
        if member.startswith("serviceAccount:"):
            email = member.split(":", 1)[1]
            if "@" not in email:
                raise one_platform(400, f"Invalid member {member!r}: not an e-mail address.")
            if email.lower().endswith(".iam.gserviceaccount.com") and self.find_service_account(email) is None:
                raise one_platform(400, f"Service account {email} does not exist.")
        elif member.startswith(("user:", "group:")) and "@" not in member:
            raise one_platform(400, f"Invalid member {member!r}: not an e-mail address.")


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def public(value: Any) -> Any:
    """A deep copy without the internal keys (``_mode``, ``_ephemeral``)."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


def list_response(kind: str, id_path: str, items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    pred = compile_filter(query.get("filter"))
    items = [public(i) for i in items if pred(i)]
    size = as_int(query.get("maxResults") or 500, "maxResults")
    if not 0 <= size <= 500:
        raise invalid("maxResults", size, "Must be between 0 and 500.")
    size = size or 500
    start = as_int(query.get("pageToken") or 0, "pageToken")
    out: dict[str, Any] = {"kind": kind, "id": id_path}
    page = items[start:start + size]
    if page:
        out["items"] = page
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    out["selfLink"] = link(id_path)
    return out


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

UNAUTHENTICATED = ("Request is missing required authentication credential. Expected OAuth 2 access token, login "
                   "cookie or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    server_version = "mlinfra-twin-gcp"
    protocol_version = "HTTP/1.1"
    store: Store  # set on the class by make_server
    stats: Counter  # idem
    stats_lock: threading.Lock

    def log_message(self, fmt: str, *args: Any) -> None:
        if getattr(self.server, "access_log", False):
            LOG.info("%s %s [%s]", self.address_string(), fmt % args, self.headers.get("X-Twin-Original-Host", ""))

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body, indent=1).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _service(self, path: str) -> str:
        if path in ("/token", "/oauth2/v4/token", "/o/oauth2/token"):
            return "oauth2"  # the token endpoint, on whichever googleapis host
        host = (self.headers.get("X-Twin-Original-Host") or "").lower().split(":")[0]
        if host.endswith(".googleapis.com") and host != "www.googleapis.com":
            return host.split(".")[0]
        if path.startswith("/compute/"):
            return "compute"
        if "/serviceAccounts" in path:
            return "iam"
        if path.startswith("/v1/projects"):
            return "cloudresourcemanager"
        return "unknown"

    def _dispatch(self) -> None:
        try:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            raw = self._raw_body()
            if path.startswith("/_twin/"):
                return self._send(*self._twin(path))
            service = self._service(path)
            with self.stats_lock:
                self.stats["_total"] += 1
                self.stats[service] += 1
            if service == "oauth2":
                return self._send(*self._token(raw))
            auth = self.headers.get("Authorization", "")
            redirected = bool(self.headers.get("X-Twin-Original-Host"))
            if redirected and (not auth.startswith("Bearer ") or not auth[7:].strip()):
                raise one_platform(401, UNAUTHENTICATED)
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise one_platform(400, "Invalid JSON payload received.") from None
            with self.store.lock:
                if service == "compute":
                    result = self._compute(path, query, body)
                elif service == "iam":
                    result = self._iam(path, query, body)
                elif service == "cloudresourcemanager":
                    result = self._crm(path, body)
                elif service == "iamcredentials":
                    result = self._iamcredentials(path)
                else:
                    raise one_platform(404, f"The twin's GCP API does not serve {self.command} {path}")
            self._send(200, public(result))
        except GcpError as e:
            self._send(e.code, e.body())
        except Exception as e:  # a bug in the twin: say so, like GCP's 500
            LOG.exception("internal error on %s %s", self.command, self.path)
            self._send(500, GcpError(500, f"twin GCP API internal error: {e}").body())

    # -- twin endpoints
    def _twin(self, path: str) -> tuple[int, Any]:
        if path == "/_twin/health" and self.command in ("GET", "HEAD"):
            with self.store.lock:
                counts = {"projects": len(self.store.projects),
                          "instances": sum(len(p.instances) for p in self.store.projects.values())}  # fmt: skip
            return 200, {"service": SERVICE_ID, "status": "ok", "pid": os.getpid(), **counts}
        if path == "/_twin/stats" and self.command == "GET":
            return 200, self._stats()
        if path == "/_twin/stats/reset" and self.command == "POST":
            with self.stats_lock:
                self.stats.clear()
            return 200, self._stats()
        if path == "/_twin/reset" and self.command == "POST":
            self.store.reset()
            with self.stats_lock:
                self.stats.clear()
            return 200, {"reset": True}
        raise one_platform(404, f"no {self.command} {path}")

    def _stats(self) -> dict[str, Any]:
        with self.stats_lock:
            by_service = {k: v for k, v in sorted(self.stats.items()) if k != "_total"}
            return {"requests": self.stats["_total"], "by_service": by_service}

    # -- OAuth 2.0
    def _token(self, raw: bytes) -> tuple[int, Any]:
        if self.command != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST is required"}
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if not form and raw:
            try:
                form = json.loads(raw)
            except ValueError:
                form = {}
        if not form.get("grant_type"):
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}
        if form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" and not form.get("assertion"):
            return 400, {"error": "invalid_request", "error_description": "Missing required parameter: assertion"}
        answer: dict[str, Any] = {"access_token": "ya29.twin-" + os.urandom(16).hex(), "expires_in": 3599,
                                  "token_type": "Bearer"}  # fmt: skip
        if "target_audience" in raw.decode("utf-8", "replace"):
            header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            claims = base64.urlsafe_b64encode(json.dumps({"iss": "https://accounts.google.com",
                                                          "exp": int(time.time()) + 3600}).encode()).rstrip(b"=").decode()  # fmt: skip
            answer = {"id_token": f"{header}.{claims}."}
        return 200, answer

    # -- Compute Engine
    def _compute(self, path: str, query: dict[str, str], body: Any) -> Any:
        segs = path.split("/")[1:]
        if segs[:2] != ["compute", "v1"] or len(segs) < 4 or segs[2] != "projects":
            raise not_found(path.lstrip("/"))
        project, rest = segs[3], segs[4:]
        store, method = self.store, self.command
        body = body if isinstance(body, dict) else {}
        n = len(rest)
        proj = store.project(project)

        def unsupported() -> GcpError:
            return GcpError(404, f"The twin's GCP API does not serve {method} {path}", "notFound")

        if n == 0 and method == "GET":
            return {"kind": "compute#project", "id": proj.number, "creationTimestamp": proj.created, "name": project,
                    "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": EMPTY_FINGERPRINT},
                    "selfLink": link(f"projects/{project}"), "defaultServiceAccount":
                    f"{proj.number}-compute@developer.gserviceaccount.com", "xpnProjectStatus":
                    "UNSPECIFIED_XPN_PROJECT_STATUS", "defaultNetworkTier": "PREMIUM"}  # fmt: skip
        # global/...
        if n >= 2 and rest[0] == "global":
            coll = rest[1]
            if coll == "operations" and n >= 3:
                op = store.get_operation(project, "global", rest[2])
                if n == 3 and method == "GET" or n == 4 and rest[3] == "wait" and method == "POST":
                    return op
                if n == 3 and method == "DELETE":
                    del proj.operations[("global", rest[2])]
                    return {}
            if coll == "networks":
                if n == 2 and method == "GET":
                    return list_response("compute#networkList", f"projects/{project}/global/networks",
                                         list(proj.networks.values()), query)  # fmt: skip
                if n == 2 and method == "POST":
                    return store.insert_network(project, body)
                if n == 3:
                    if method == "GET":
                        if rest[2] not in proj.networks:
                            raise not_found(f"projects/{project}/global/networks/{rest[2]}")
                        return proj.networks[rest[2]]
                    if method == "PATCH":
                        return store.patch_network(project, rest[2], body)
                    if method == "DELETE":
                        return store.delete_network(project, rest[2])
            if coll == "firewalls":
                if n == 2 and method == "GET":
                    return list_response("compute#firewallList", f"projects/{project}/global/firewalls",
                                         list(proj.firewalls.values()), query)  # fmt: skip
                if n == 2 and method == "POST":
                    return store.insert_firewall(project, body)
                if n == 3:
                    if method == "GET":
                        if rest[2] not in proj.firewalls:
                            raise not_found(f"projects/{project}/global/firewalls/{rest[2]}")
                        return proj.firewalls[rest[2]]
                    if method in ("PATCH", "PUT"):
                        return store.update_firewall(project, rest[2], body, replace=method == "PUT")
                    if method == "DELETE":
                        return store.delete_firewall(project, rest[2])
            if coll == "images" and method == "GET":
                if n == 2:
                    return list_response("compute#imageList", f"projects/{project}/global/images",
                                         listed_images(project), query)  # fmt: skip
                if n == 3:
                    image = image_by_name(project, rest[2])
                    if image is None:
                        raise not_found(f"projects/{project}/global/images/{rest[2]}")
                    return image
                if n == 4 and rest[2] == "family":
                    image = image_for_family(project, rest[3])
                    if image is None:
                        raise not_found(f"projects/{project}/global/images/family/{rest[3]}")
                    return image
            raise unsupported()
        if n >= 1 and rest[0] == "regions":
            if n == 1 and method == "GET":
                return list_response("compute#regionList", f"projects/{project}/regions",
                                     [region_resource(project, r) for r in ZONES], query)  # fmt: skip
            region = rest[1]
            region_or_404(project, region)
            if n == 2 and method == "GET":
                return region_resource(project, region)
            coll = rest[2]
            if coll == "operations" and n >= 4:
                op = store.get_operation(project, f"regions/{region}", rest[3])
                if n == 4 and method == "GET" or n == 5 and rest[4] == "wait" and method == "POST":
                    return op
            if coll == "subnetworks":
                if n == 3 and method == "GET":
                    subs = [s for (r, _), s in proj.subnetworks.items() if r == region]
                    return list_response("compute#subnetworkList", f"projects/{project}/regions/{region}/subnetworks",
                                         subs, query)  # fmt: skip
                if n == 3 and method == "POST":
                    return store.insert_subnetwork(project, region, body)
                if n == 4:
                    if method == "GET":
                        return store._subnet(project, region, rest[3])[1]
                    if method == "PATCH":
                        return store.patch_subnetwork(project, region, rest[3], body)
                    if method == "DELETE":
                        return store.delete_subnetwork(project, region, rest[3])
                if n == 5 and method == "POST":
                    return store.subnetwork_action(project, region, rest[3], rest[4], body)
            raise unsupported()
        if n >= 1 and rest[0] == "zones":
            if n == 1 and method == "GET":
                return list_response("compute#zoneList", f"projects/{project}/zones",
                                     [zone_resource(project, z) for z in ZONE_REGION], query)  # fmt: skip
            zone = rest[1]
            zone_or_404(project, zone)
            if n == 2 and method == "GET":
                return zone_resource(project, zone)
            coll = rest[2]
            if coll == "operations" and n >= 4:
                op = store.get_operation(project, f"zones/{zone}", rest[3])
                if n == 4 and method == "GET" or n == 5 and rest[4] == "wait" and method == "POST":
                    return op
                if n == 4 and method == "DELETE":
                    del proj.operations[(f"zones/{zone}", rest[3])]
                    return {}
            catalogue = {"machineTypes": (MACHINE_TYPES, machine_type_resource, "compute#machineTypeList"),
                         "acceleratorTypes": (ACCELERATOR_TYPES, accelerator_type_resource, "compute#acceleratorTypeList"),
                         "diskTypes": (DISK_TYPES, disk_type_resource, "compute#diskTypeList")}  # fmt: skip
            if coll in catalogue and method == "GET":
                table, make, kind = catalogue[coll]
                if n == 3:
                    return list_response(kind, f"projects/{project}/zones/{zone}/{coll}",
                                         [make(project, zone, name) for name in table], query)  # fmt: skip
                if n == 4:
                    if rest[3] not in table:
                        raise not_found(f"projects/{project}/zones/{zone}/{coll}/{rest[3]}")
                    return make(project, zone, rest[3])
            if coll == "disks":
                if n == 3 and method == "GET":
                    disks = [d for (z, _), d in proj.disks.items() if z == zone]
                    return list_response("compute#diskList", f"projects/{project}/zones/{zone}/disks", disks, query)
                if n == 3 and method == "POST":
                    return store.insert_disk(project, zone, body)
                if n == 4 and method == "GET":
                    return store._disk(project, zone, rest[3])[1]
                if n == 4 and method == "DELETE":
                    return store.delete_disk(project, zone, rest[3])
                if n == 5 and method == "POST":
                    return store.disk_action(project, zone, rest[3], rest[4], body)
            if coll == "instances":
                if n == 3 and method == "GET":
                    insts = [i for (z, _), i in proj.instances.items() if z == zone]
                    return list_response("compute#instanceList", f"projects/{project}/zones/{zone}/instances", insts,
                                         query)  # fmt: skip
                if n == 3 and method == "POST":
                    return store.insert_instance(project, zone, body)
                if n == 4 and method == "GET":
                    return store._instance(project, zone, rest[3])[1]
                if n == 4 and method == "DELETE":
                    return store.delete_instance(project, zone, rest[3])
                if n == 5 and method == "POST":
                    return store.instance_action(project, zone, rest[3], rest[4], body, query)
            raise unsupported()
        if n == 2 and rest[0] == "aggregated" and method == "GET":
            kinds = {"instances": ("instances", proj.instances, "compute#instanceAggregatedList"),
                     "disks": ("disks", proj.disks, "compute#diskAggregatedList")}  # fmt: skip
            if rest[1] in kinds:
                key, table, kind = kinds[rest[1]]
                pred = compile_filter(query.get("filter"))
                items: dict[str, Any] = {}
                for zone in ZONE_REGION:
                    found = [public(r) for (z, _), r in table.items() if z == zone and pred(r)]
                    if found:
                        items[f"zones/{zone}"] = {key: found}
                    else:
                        items[f"zones/{zone}"] = {"warning": {
                            "code": "NO_RESULTS_ON_PAGE",
                            "message": f"There are no results for scope 'zones/{zone}' on this page.",
                            "data": [{"key": "scope", "value": f"zones/{zone}"}]}}  # fmt: skip
                return {"kind": kind, "id": f"projects/{project}/aggregated/{rest[1]}", "items": items,
                        "selfLink": link(f"projects/{project}/aggregated/{rest[1]}")}  # fmt: skip
        raise unsupported()

    # -- IAM
    def _iam(self, path: str, query: dict[str, str], body: Any) -> Any:
        m = re.match(r"^/v1/projects/([^/]+)/serviceAccounts(?:/([^/:]+))?$", path)
        if not m:
            raise one_platform(404, f"The twin's GCP API does not serve {self.command} {path}")
        project, ident = m.group(1), m.group(2)
        store, method = self.store, self.command
        if ident is None:
            if method == "GET":
                return store.list_service_accounts(project, query)
            if method == "POST":
                return store.create_service_account(project, body)
        else:
            if method == "GET":
                return store.get_service_account(project, ident)
            if method in ("PATCH", "PUT"):
                return store.update_service_account(project, ident, body, patch=method == "PATCH")
            if method == "DELETE":
                return store.delete_service_account(project, ident)
        raise one_platform(405, f"Method {method} is not allowed on {path}")

    # -- IAM Service Account Credentials: google-auth's Regional Access Boundary lookup, which
    # service-account credentials make in the background after a token refresh.
    def _iamcredentials(self, path: str) -> Any:
        if self.command == "GET" and re.match(r"^/v1/projects/[^/]+/serviceAccounts/[^/]+/allowedLocations$", path):
            return {"locations": [], "encodedLocations": "0x0"}  # no boundary
        raise one_platform(404, f"The twin's GCP API does not serve {self.command} {path}")

    # -- Cloud Resource Manager
    def _crm(self, path: str, body: Any) -> Any:
        m = re.match(r"^/v1/projects/([^/:]+)(?::(getIamPolicy|setIamPolicy|testIamPermissions))?$", path)
        if not m:
            raise one_platform(404, f"The twin's GCP API does not serve {self.command} {path}")
        project, verb = m.group(1), m.group(2)
        if verb is None and self.command == "GET":
            return self.store.project_resource(project)
        if self.command != "POST" or verb is None:
            raise one_platform(405, f"Method {self.command} is not allowed on {path}")
        if verb == "getIamPolicy":
            return self.store.get_iam_policy(project, body)
        if verb == "setIamPolicy":
            return self.store.set_iam_policy(project, body)
        return {"permissions": list((body or {}).get("permissions") or [])}  # no enforcement: everything allowed


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(host: str, port: int, access_log: bool = False) -> Server:
    """A server bound to a loopback address (not yet serving: call serve_forever)."""
    if not is_loopback_host(host):
        raise ValueError(f"refusing to bind to non-loopback host {host!r}")
    handler = type("TwinGcpHandler", (Handler,), {"store": Store(), "stats": Counter(), "stats_lock": threading.Lock()})
    bind = host.strip("[]")
    server_class = Server
    if ":" in bind:
        server_class = type("Server6", (Server,), {"address_family": __import__("socket").AF_INET6})
    server = server_class((bind, port), handler)
    server.access_log = access_log  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("TWIN_GCP_PORT", "7000")))
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s twin-gcp: %(message)s", stream=sys.stderr)
    if not is_loopback_host(args.host):
        print(f"twin: refusing to bind to non-loopback host {args.host!r}: the twin serves only "
              "127.0.0.0/8, ::1 or localhost", file=sys.stderr)  # fmt: skip
        return 2
    server = make_server(args.host, args.port, args.access_log)

    def stop(signum: int, frame: Any) -> None:
        LOG.info("stopping (signal %d)", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info("GCP API (Compute v1, IAM v1, Resource Manager v1, OAuth token) on http://%s:%d (pid %d)",
             args.host, args.port, os.getpid())  # fmt: skip
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
