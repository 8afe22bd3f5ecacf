"""The twin's Kubernetes API: a small in-memory Kubernetes API server for the EKS endpoint.

Usage::

    .venv/bin/python twin/k8s_api.py --host 127.0.0.1 --port 6000 [--kubernetes-version 1.34]
    .venv/bin/python twin/k8s_api.py token CLUSTER [--region us-west-2]   # print an EKS token

With env=local, moto's EKS clusters report this server's URL as their ``endpoint`` (patch
``patch_eks_k8s_endpoint`` in twin/moto_server.py). It is started and stopped by
``twin/twinctl up|down`` beside moto, on ``TWIN_K8S_PORT`` (default: the AWS port + 1000).

Why not a real API server: none can run on these machines (no kube-apiserver/k3s/kind/kwok
package, no Go proxy). ``kmock`` (PyPI) was considered; it needed three fixes (Namespace
crash, lists without ``kind``, ``dryRun=All`` ignored) and has no merge-patch semantics, so
this is a stdlib-only server (``http.server``) that implements what kubernetes.core's
k8s / k8s_info and the ``kubernetes`` Python client use:

* discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>[/<version>]``
  for core/v1, apps/v1, batch/v1, scheduling.k8s.io/v1, node.k8s.io/v1,
  rbac.authorization.k8s.io/v1, policy/v1, coordination.k8s.io/v1, storage.k8s.io/v1,
  networking.k8s.io/v1 (RESOURCES below; no CRDs, no watch, no OpenAPI);
* for every resource: GET (one; list with ``labelSelector`` / ``fieldSelector``, also across
  namespaces), POST (create; 409 AlreadyExists; ``generateName``), PUT (replace; 409 on a stale
  ``resourceVersion``), PATCH (``application/merge-patch+json`` (RFC 7386),
  ``application/strategic-merge-patch+json`` (merge patch, lists of containers, env, volumes,
  ports ... merged by their Kubernetes merge keys, ``$patch: delete|replace``),
  ``application/json-patch+json`` and ``application/apply-patch+yaml`` (server-side apply,
  simplified: create, or merge the applied configuration; ``fieldManager`` required, recorded
  in ``managedFields``)), DELETE (one and collection; ``propagationPolicy``, preconditions,
  finalizers keep an object with a ``deletionTimestamp``); the ``status`` subresource;
* ``dryRun=All`` on every write: validated, answered with the would-be object, nothing stored;
* metadata kept like the API server: ``uid``, ``creationTimestamp``, ``resourceVersion`` (one
  counter, bumped only when an object really changes), ``generation`` (bumped when anything
  but metadata/status changes); errors are ``Status`` objects (400, 401, 404, 405, 409, 422);
* namespaces default, kube-system, kube-public, kube-node-lease and the priority classes
  system-node-critical / system-cluster-critical exist from the start; deleting a namespace
  deletes what is in it; a namespaced object needs its namespace.

What it is not: no controllers (a DaemonSet makes no pods, status stays empty), no
defaulting, no admission, no OpenAPI validation (unknown fields are stored), no watch.

Authentication, like EKS: every request except ``/version``, ``/healthz``, ``/livez``,
``/readyz`` (anonymous on EKS too) and the twin's ``/_twin/*`` needs
``Authorization: Bearer k8s-aws-v1.<base64url of a presigned STS GetCallerIdentity URL>``,
which is what ``aws eks get-token`` and :func:`eks_token` make. The URL must be https on an
STS host (``sts[.REGION].amazonaws.com``; a loopback host is accepted for a token presigned
against the twin's moto), ``Action=GetCallerIdentity``, SigV4 query parameters with
``x-k8s-aws-id`` among the signed headers, a signature, and be at most 15 minutes old (EKS's
token lifetime). STS is never called, so the signature and the identity are not checked:
any well-formed token is admitted as cluster admin. Anything else: 401 Unauthorized.

Twin endpoints (no auth, loopback only)::

    GET  /_twin/health   {"service": "mlinfra-twin-k8s", "status": "ok", "pid": ..., ...}
    POST /_twin/reset    back to the initial state (empty namespaces, no nodes)
    POST /_twin/nodes    register the nodes of EKS managed node groups (sync_nodegroups):
                         a JSON list of node groups as DescribeNodegroup describes them, or
                         {"cluster": NAME, "region": ..., "version": "1.34",
                          "nodegroups": [...], "instanceTypes": {...}, "subnetZones": {...}}
    POST /_twin/cluster  {"name": NAME, "version": "1.34"}: the version /version reports

Loopback only: it refuses to bind anything but 127.0.0.0/8, ::1 or localhost.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import random
import re
import signal
import string
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVICE_ID = "mlinfra-twin-k8s"
DEFAULT_KUBERNETES_VERSION = "1.34"
TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_LIFETIME_SECONDS = 15 * 60
LOG = logging.getLogger("twin-k8s")

# Latest EKS patch release per minor version (what /version reports as gitVersion).
EKS_PATCH_RELEASES = {
    "1.28": "1.28.15", "1.29": "1.29.15", "1.30": "1.30.14", "1.31": "1.31.13",
    "1.32": "1.32.9", "1.33": "1.33.5", "1.34": "1.34.1", "1.35": "1.35.0",
}  # fmt: skip


# --------------------------------------------------------------------------------------
# Resources served
# --------------------------------------------------------------------------------------

# (group, version, plural, kind, namespaced, short names)
RESOURCES: list[tuple[str, str, str, str, bool, list[str]]] = [
    ("", "v1", "namespaces", "Namespace", False, ["ns"]),
    ("", "v1", "nodes", "Node", False, ["no"]),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"]),
    ("", "v1", "pods", "Pod", True, ["po"]),
    ("", "v1", "services", "Service", True, ["svc"]),
    ("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    ("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    ("", "v1", "secrets", "Secret", True, []),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    ("", "v1", "events", "Event", True, ["ev"]),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"]),
    ("", "v1", "limitranges", "LimitRange", True, ["limits"]),
    ("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"]),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"]),
    ("apps", "v1", "deployments", "Deployment", True, ["deploy"]),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"]),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"]),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"]),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, []),
    ("batch", "v1", "jobs", "Job", True, []),
    ("batch", "v1", "cronjobs", "CronJob", True, ["cj"]),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, []),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, []),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, []),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, []),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, []),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, []),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"]),
]
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
# Kinds whose objects carry no spec-like content the API server counts in metadata.generation.
NO_GENERATION = {"Namespace", "Node", "ConfigMap", "Secret", "ServiceAccount", "Event", "Endpoints", "Lease"}
# Strategic-merge-patch merge keys (patchMergeKey of the Kubernetes types), by field name.
SMP_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "ports": "containerPort",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey", "readinessGates": "conditionType", "ownerReferences": "uid",
}  # fmt: skip
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


class Res:
    def __init__(self, group: str, version: str, plural: str, kind: str, namespaced: bool, short: list[str]):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short = namespaced, short

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> list[dict[str, Any]]:
        entry = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
        }
        if self.short:
            entry["shortNames"] = self.short
        status = {"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                  "kind": self.kind, "verbs": ["get", "patch", "update"]}  # fmt: skip
        return [entry, status]


RES = {(r[0], r[1], r[2]): Res(*r) for r in RESOURCES}


class ApiError(Exception):
    REASONS = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
               409: "Conflict", 415: "UnsupportedMediaType", 422: "Invalid"}  # fmt: skip

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or self.REASONS.get(code, "InternalError")
        self.details = details

    def status(self) -> dict[str, Any]:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}  # fmt: skip
        if self.details:
            body["details"] = self.details
        return body


def not_found(res: Res, name: str) -> ApiError:
    gr = f"{res.plural}.{res.group}" if res.group else res.plural
    return ApiError(404, f'{gr} "{name}" not found', details={"name": name, "group": res.group, "kind": res.plural})


def invalid(res: Res, name: str, causes: list[tuple[str, str]]) -> ApiError:
    gk = f"{res.kind}.{res.group}" if res.group else res.kind
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    details = {"name": name, "group": res.group, "kind": res.kind,
               "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]}  # fmt: skip
    return ApiError(422, f'{gk} "{name}" is invalid: {text}', details=details)


# --------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch, simplified: maps merge, lists named in SMP_MERGE_KEYS merge by key,
    other lists are replaced; ``$patch: replace|delete`` directives; other ``$`` keys ignored."""
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        clean = {k: v for k, v in patch.items() if not k.startswith("$")}
        if directive == "replace":
            return strip_directives(clean)
        if directive == "delete":
            return None
        result = dict(target) if isinstance(target, dict) else {}
        for key, value in clean.items():
            if value is None:
                result.pop(key, None)
                continue
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if isinstance(patch, list) and field in SMP_MERGE_KEYS and isinstance(target, list):
        key = SMP_MERGE_KEYS[field]
        if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
            return [strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
        result = [copy.deepcopy(t) for t in target]
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                result.append(strip_directives(item))
                continue
            idx = next((i for i, t in enumerate(result) if isinstance(t, dict) and t.get(key) == item[key]), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    result.pop(idx)
            elif idx is None:
                result.append(strip_directives(item))
            else:
                result[idx] = strategic_merge(result[idx], item)
        return result
    return strip_directives(patch)


def strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return copy.deepcopy(value)


# --------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matches(labels: dict[str, str], selector: str) -> bool:
    for term in _split_selector(selector):
        m = _SET_RE.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if (op == "in") != (labels.get(key) in values if key in labels else False):
                if op == "in" or key in labels:
                    return False
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    return str(cur).lower() if isinstance(cur, bool) else str(cur)


def field_matches(obj: dict[str, Any], selector: str) -> bool:
    for term in _split_selector(selector):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if _field_value(obj, key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if _field_value(obj, key) != value:
                return False
        else:
            raise ApiError(400, f'invalid field selector: "{term}"')
    return True


# --------------------------------------------------------------------------------------
# EKS tokens
# --------------------------------------------------------------------------------------


def eks_token(
    cluster_name: str,
    region: str = "us-west-2",
    *,
    session: Any = None,
    endpoint_url: str | None = None,
) -> str:
    """An EKS bearer token, as ``aws eks get-token`` makes it: ``k8s-aws-v1.`` + the unpadded
    base64url of an STS GetCallerIdentity URL presigned (60 s) with the signed header
    ``x-k8s-aws-id: CLUSTER``. Without ``session``, dummy credentials (``testing``) are used."""
    import boto3

    if session is None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
    sts = session.client("sts", region_name=region, endpoint_url=endpoint_url)

    def add_cluster_header(request: Any, **kwargs: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


_STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")


def check_token(authorization: str, now: dt.datetime | None = None) -> str | None:
    """None if the Authorization header carries a well-formed EKS token, else why not."""
    if not authorization.startswith("Bearer "):
        return "no bearer token"
    token = authorization[len("Bearer ") :].strip()
    if not token.startswith(TOKEN_PREFIX):
        return "not an EKS token (k8s-aws-v1.)"
    payload = token[len(TOKEN_PREFIX) :]
    try:
        url = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except Exception:
        return "token is not base64url"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = host == "localhost" or _is_loopback_ip(host)
    if not (parts.scheme == "https" and _STS_HOST.match(host)) and not (loopback and parts.scheme in ("http", "https")):
        return f"token is not an STS URL ({parts.scheme}://{host})"
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    if query.get("action") != "GetCallerIdentity":
        return "token is not a GetCallerIdentity request"
    if query.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or not query.get("x-amz-signature"):
        return "token is not presigned with SigV4"
    if "x-k8s-aws-id" not in query.get("x-amz-signedheaders", "").split(";"):
        return "x-k8s-aws-id is not a signed header"
    if not re.match(r"^[^/]+/\d{8}/[^/]+/sts/aws4_request$", query.get("x-amz-credential", "")):
        return "token is not signed for STS"
    try:
        signed = dt.datetime.strptime(query.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return "token has no X-Amz-Date"
    age = ((now or dt.datetime.now(dt.timezone.utc)) - signed).total_seconds()
    if age > TOKEN_LIFETIME_SECONDS or age < -300:
        return "token expired"
    return None


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    return host.lower() == "localhost" or _is_loopback_ip(host)


# --------------------------------------------------------------------------------------
# EKS managed node groups -> Node objects
# --------------------------------------------------------------------------------------

# vCPUs, memory GiB, NVIDIA GPUs, architecture; used when the caller gives no instanceTypes data.
INSTANCE_TYPES = {
    "g4dn.xlarge": (4, 16, 1), "g4dn.2xlarge": (8, 32, 1), "g4dn.4xlarge": (16, 64, 1),
    "g4dn.8xlarge": (32, 128, 1), "g4dn.12xlarge": (48, 192, 4), "g4dn.16xlarge": (64, 256, 1),
    "g4dn.metal": (96, 384, 8), "g5.xlarge": (4, 16, 1), "g5.2xlarge": (8, 32, 1), "g5.4xlarge": (16, 64, 1),
    "g5.8xlarge": (32, 128, 1), "g5.12xlarge": (48, 192, 4), "g5.16xlarge": (64, 256, 1),
    "g5.24xlarge": (96, 384, 4), "g5.48xlarge": (192, 768, 8), "g6.xlarge": (4, 16, 1),
    "g6.2xlarge": (8, 32, 1), "g6.4xlarge": (16, 64, 1), "g6.8xlarge": (32, 128, 1),
    "g6.12xlarge": (48, 192, 4), "g6.16xlarge": (64, 256, 1), "g6.24xlarge": (96, 384, 4),
    "g6.48xlarge": (192, 768, 8), "g6e.xlarge": (4, 32, 1), "g6e.12xlarge": (48, 384, 4),
    "p4d.24xlarge": (96, 1152, 8), "p5.48xlarge": (192, 2048, 8), "p3.2xlarge": (8, 61, 1),
    "p3.8xlarge": (32, 244, 4), "p3.16xlarge": (64, 488, 8), "t3.medium": (2, 4, 0), "t3.large": (2, 8, 0),
    "m5.large": (2, 8, 0), "m5.xlarge": (4, 16, 0), "m5.2xlarge": (8, 32, 0), "m6i.large": (2, 8, 0),
    "m6i.xlarge": (4, 16, 0), "c5.xlarge": (4, 8, 0), "c5.2xlarge": (8, 16, 0),
}  # fmt: skip
TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
NODE_ANNOTATION_CLUSTER = "twin.mlinfra.io/eks-cluster"


def instance_info(instance_type: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"vcpus", "memoryMiB", "gpus", "arch"} from the caller's data (EC2 DescribeInstanceTypes
    style or already in that form), else the built-in table, else a guess from the size."""
    if given:
        if "VCpuInfo" in given:
            gpus = sum(g.get("Count", 0) for g in (given.get("GpuInfo") or {}).get("Gpus", [])
                       if g.get("Manufacturer", "NVIDIA") == "NVIDIA")  # fmt: skip
            archs = (given.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ["x86_64"]
            return {"vcpus": given["VCpuInfo"].get("DefaultVCpus", 2), "memoryMiB": given["MemoryInfo"]["SizeInMiB"],
                    "gpus": gpus, "arch": "arm64" if archs[0] == "arm64" else "amd64"}  # fmt: skip
        return {"vcpus": 2, "memoryMiB": 8192, "gpus": 0, "arch": "amd64", **given}
    arch = "arm64" if re.match(r"^[a-z]+\d+g", instance_type) else "amd64"
    if instance_type in INSTANCE_TYPES:
        vcpus, mem, gpus = INSTANCE_TYPES[instance_type]
        return {"vcpus": vcpus, "memoryMiB": mem * 1024, "gpus": gpus, "arch": arch}
    size = instance_type.split(".")[-1]
    m = re.match(r"^(\d*)xlarge$", size)
    vcpus = (int(m.group(1) or 1) * 4) if m else {"large": 2, "medium": 2}.get(size, 2)
    return {"vcpus": vcpus, "memoryMiB": vcpus * 4096, "gpus": 0, "arch": arch}


def nodes_for_nodegroups(
    cluster: str,
    nodegroups: list[dict[str, Any]],
    region: str = "us-west-2",
    version: str = DEFAULT_KUBERNETES_VERSION,
    instance_types: dict[str, Any] | None = None,
    subnet_zones: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The Node objects EKS managed node groups (as DescribeNodegroup describes them) would
    register: ``scalingConfig.desiredSize`` nodes each, with EKS's labels, the group's own
    labels and taints, and capacity / allocatable (``nvidia.com/gpu`` on GPU instance types)."""
    nodes = []
    kubelet = EKS_PATCH_RELEASES.get(version, f"{version}.0")
    for ng in nodegroups:
        name = ng.get("nodegroupName") or ng.get("name")
        desired = int((ng.get("scalingConfig") or {}).get("desiredSize", 0) or 0)
        types = ng.get("instanceTypes") or ["t3.medium"]
        zones = [z for z in ((subnet_zones or {}).get(s) for s in ng.get("subnets") or []) if z]
        zones = sorted(set(zones)) or [f"{region}a", f"{region}b", f"{region}c"]
        capacity_type = ng.get("capacityType") or "ON_DEMAND"
        ng_version = str(ng.get("version") or version)
        kubelet = EKS_PATCH_RELEASES.get(ng_version, f"{ng_version}.0")
        for i in range(desired):
            itype = types[i % len(types)]
            info = instance_info(itype, (instance_types or {}).get(itype))
            zone = zones[i % len(zones)]
            digest = hashlib.sha256(f"{cluster}/{name}/{i}".encode()).digest()
            ip = f"10.{digest[0] % 256}.{digest[1] % 256}.{1 + digest[2] % 254}"
            node_name = f"ip-{ip.replace('.', '-')}.{region}.compute.internal"
            instance_id = "i-0" + digest[3:11].hex()[:16]
            labels = {
                "beta.kubernetes.io/arch": info["arch"], "beta.kubernetes.io/instance-type": itype,
                "beta.kubernetes.io/os": "linux", "eks.amazonaws.com/capacityType": capacity_type,
                "eks.amazonaws.com/nodegroup": name, "eks.amazonaws.com/nodegroup-image": ng.get("twinAmi", "ami-twin"),
                "failure-domain.beta.kubernetes.io/region": region, "failure-domain.beta.kubernetes.io/zone": zone,
                "k8s.io/cloud-provider-aws": hashlib.md5(cluster.encode()).hexdigest(),
                "kubernetes.io/arch": info["arch"], "kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": itype, "topology.k8s.aws/zone-id": f"usw2-az{1 + zones.index(zone)}",
                "topology.kubernetes.io/region": region, "topology.kubernetes.io/zone": zone,
            }  # fmt: skip
            lt = ng.get("launchTemplate") or {}
            if lt.get("id"):
                labels["eks.amazonaws.com/sourceLaunchTemplateId"] = lt["id"]
                labels["eks.amazonaws.com/sourceLaunchTemplateVersion"] = str(lt.get("version", "1"))
            labels.update({str(k): str(v) for k, v in (ng.get("labels") or {}).items()})
            taints = [
                {"key": t["key"], **({"value": t["value"]} if t.get("value") else {}),
                 "effect": TAINT_EFFECTS.get(t.get("effect", "NO_SCHEDULE"), t.get("effect"))}
                for t in ng.get("taints") or []
            ]  # fmt: skip
            mem_ki = info["memoryMiB"] * 1024
            capacity = {"cpu": str(info["vcpus"]), "memory": f"{mem_ki}Ki", "pods": "110",
                        "ephemeral-storage": f"{int(ng.get('diskSize') or 20) * 1024 * 1024}Ki",
                        "hugepages-1Gi": "0", "hugepages-2Mi": "0"}  # fmt: skip
            allocatable = dict(capacity, cpu=f"{info['vcpus'] * 1000 - 80}m", memory=f"{mem_ki - 600 * 1024}Ki")
            if info["gpus"]:
                capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(info["gpus"])
            spec: dict[str, Any] = {"providerID": f"aws:///{zone}/{instance_id}"}
            if taints:
                spec["taints"] = taints
            nodes.append({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node_name, "labels": labels,
                             "annotations": {NODE_ANNOTATION_CLUSTER: cluster,
                                             "node.alpha.kubernetes.io/ttl": "0",
                                             "alpha.kubernetes.io/provided-node-ip": ip}},
                "spec": spec,
                "status": {
                    "capacity": capacity, "allocatable": allocatable,
                    "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": node_name},
                                  {"type": "InternalDNS", "address": node_name}],
                    "conditions": [{"type": t, "status": "False", "reason": r, "message": m}
                                   for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                                                   ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                                                   ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))]
                                  + [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                    "nodeInfo": {"architecture": info["arch"], "operatingSystem": "linux",
                                 "osImage": "Amazon Linux 2023", "kernelVersion": "6.1.0-twin",
                                 "containerRuntimeVersion": "containerd://1.7.27",
                                 "kubeletVersion": f"v{kubelet}-eks-twin", "kubeProxyVersion": f"v{kubelet}-eks-twin",
                                 "machineID": digest.hex()[:32], "systemUUID": str(uuid.UUID(bytes=digest[:16])),
                                 "bootID": str(uuid.UUID(bytes=digest[16:32]))},
                },
            })  # fmt: skip
    return nodes


# --------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------


def now_ts() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return dict(obj, metadata=meta)


class Store:
    """Objects by (group, plural, namespace, name). All access under one lock."""

    def __init__(self, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION):
        self.lock = threading.RLock()
        self.kubernetes_version = kubernetes_version
        self.cluster_name: str | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
            self.rv = 0
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self.create(RES["", "v1", "namespaces"], "", {"metadata": {"name": ns}}, dry_run=False)
            for name, value in (("system-node-critical", 2000001000), ("system-cluster-critical", 2000000000)):
                self.create(
                    RES["scheduling.k8s.io", "v1", "priorityclasses"], "",
                    {"metadata": {"name": name}, "value": value, "preemptionPolicy": "PreemptLowerPriority",
                     "description": "Used for system critical pods that must not be moved from their current node."},
                    dry_run=False,
                )  # fmt: skip

    # -- helpers
    def _key(self, res: Res, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (res.group, res.plural, namespace if res.namespaced else "", name)

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def get(self, res: Res, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get(self._key(res, namespace, name))
            if obj is None:
                raise not_found(res, name)
            return copy.deepcopy(obj)

    def list(self, res: Res, namespace: str | None, label_selector: str = "", field_selector: str = "") -> dict:
        with self.lock:
            items = [
                copy.deepcopy(o)
                for (g, p, ns, _), o in sorted(self.objects.items())
                if g == res.group and p == res.plural and (not namespace or not res.namespaced or ns == namespace)
            ]
            rv = str(self.rv)
        items = [
            o for o in items
            if (not label_selector or label_matches(o["metadata"].get("labels") or {}, label_selector))
            and (not field_selector or field_matches(o, field_selector))
        ]  # fmt: skip
        for o in items:  # the API server leaves kind/apiVersion out of list items
            o.pop("kind", None)
            o.pop("apiVersion", None)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": {"resourceVersion": rv}, "items": items}

    def _validate(self, res: Res, namespace: str, obj: dict[str, Any], url_name: str | None = None) -> None:
        if not isinstance(obj, dict):
            raise ApiError(400, "the body of the request was not a JSON object")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind is not None and kind != res.kind:
            raise ApiError(400, f"the kind of the object ({kind}) does not match the resource ({res.kind})")
        if api_version is not None and api_version != res.api_version:
            raise ApiError(400, f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})")
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        name = meta.get("name") or ""
        if url_name is not None and name != url_name:
            raise ApiError(400, f"the name of the object ({name}) does not match the name on the URL ({url_name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        causes: list[tuple[str, str]] = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        else:
            pattern, limit = (DNS_LABEL, 63) if res.kind in ("Namespace", "Service") else (DNS_SUBDOMAIN, 253)
            if res.kind.startswith(("Role", "ClusterRole")):
                pattern = re.compile(r"^[^/%]+$")
            if len(name) > limit or not pattern.match(name) or name in (".", ".."):
                causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 name must consist of '
                                                "lower case alphanumeric characters, '-' or '.'"))
        for field in ("labels", "annotations"):
            values = meta.get(field) or {}
            if not isinstance(values, dict):
                raise ApiError(400, f"metadata.{field} must be a map of strings")
            for k, v in values.items():
                if not isinstance(v, str):
                    raise ApiError(400, f"json: cannot unmarshal {type(v).__name__} into Go struct field "
                                        f"ObjectMeta.metadata.{field} of type string")  # fmt: skip
                key_name = k.split("/")[-1]
                if not LABEL_NAME.match(key_name) or len(key_name) > 63 or k.count("/") > 1:
                    causes.append((f"metadata.{field}", f'Invalid value: "{k}": name part must consist of alphanumeric characters'))
                if field == "labels" and (len(v) > 63 or not LABEL_VALUE.match(v)):
                    causes.append(("metadata.labels", f'Invalid value: "{v}": a valid label must be an empty string or '
                                                      "consist of alphanumeric characters, '-', '_' or '.'"))
        if res.kind == "PriorityClass" and not isinstance(obj.get("value"), int):
            causes.append(("value", "Required value"))
        if res.kind == "DaemonSet" or res.kind == "Deployment" or res.kind == "StatefulSet":
            spec = obj.get("spec") or {}
            tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            sel = (spec.get("selector") or {}).get("matchLabels")
            if not spec.get("selector"):
                causes.append(("spec.selector", "Required value"))
            elif sel and any(tmpl_labels.get(k) != v for k, v in sel.items()):
                causes.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`"))
            if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
                causes.append(("spec.template.spec.containers", "Required value"))
        if res.kind == "Pod" and not (obj.get("spec") or {}).get("containers"):
            causes.append(("spec.containers", "Required value"))
        if causes:
            raise invalid(res, name, causes)

    def _check_namespace(self, res: Res, namespace: str) -> None:
        if res.namespaced and ("", "namespaces", "", namespace) not in self.objects:
            raise ApiError(404, f'namespaces "{namespace}" not found',
                           details={"name": namespace, "kind": "namespaces"})  # fmt: skip
        ns = self.objects.get(("", "namespaces", "", namespace))
        if res.namespaced and ns and ns["metadata"].get("deletionTimestamp"):
            raise ApiError(403, f'unable to create new content in namespace {namespace} because it is being terminated', "Forbidden")

    # -- writes
    def create(self, res: Res, namespace: str, obj: dict[str, Any], dry_run: bool, field_manager: str = "") -> dict:
        with self.lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {}) if isinstance(obj, dict) else None
            if isinstance(meta, dict) and not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            self._validate(res, namespace, obj)
            name = meta["name"]
            self._check_namespace(res, namespace)
            key = self._key(res, namespace, name)
            if key in self.objects:
                gr = f"{res.plural}.{res.group}" if res.group else res.plural
                raise ApiError(409, f'{gr} "{name}" already exists', "AlreadyExists",
                               details={"name": name, "group": res.group, "kind": res.plural})  # fmt: skip
            obj["kind"], obj["apiVersion"] = res.kind, res.api_version
            for field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "selfLink"):
                meta.pop(field, None)
            if res.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_ts()
            if res.kind not in NO_GENERATION:
                meta["generation"] = 1
            if res.kind == "Namespace":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
            if field_manager:
                meta["managedFields"] = [self._managed_entry(res, field_manager, "Update")]
            if dry_run:
                return obj
            meta["resourceVersion"] = self._next_rv()
            self.objects[key] = obj
            return copy.deepcopy(obj)

    @staticmethod
    def _managed_entry(res: Res, manager: str, operation: str) -> dict[str, Any]:
        return {"manager": manager, "operation": operation, "apiVersion": res.api_version,
                "time": now_ts(), "fieldsType": "FieldsV1", "fieldsV1": {}}  # fmt: skip

    def update(self, res: Res, namespace: str, name: str, new: dict[str, Any], dry_run: bool,
               subresource: str = "", field_manager: str = "", operation: str = "Update",
               check_rv: bool = True) -> dict:  # fmt: skip
        """Store ``new`` in place of the object (metadata the server owns is kept)."""
        with self.lock:
            key = self._key(res, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise not_found(res, name)
            new = copy.deepcopy(new)
            self._validate(res, namespace, new, url_name=name)
            meta = new["metadata"]
            sent_rv = meta.get("resourceVersion")
            if check_rv and sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(409, f'Operation cannot be fulfilled on {res.plural} "{name}": the object has been '
                                    "modified; please apply your changes to the latest version and try again")  # fmt: skip
            if subresource == "status":
                merged = copy.deepcopy(current)
                merged["status"] = new.get("status", {})
                new = merged
            elif res.kind not in ("Namespace",):
                new["status"] = copy.deepcopy(current.get("status")) if "status" in current else new.get("status")
                if new["status"] is None:
                    new.pop("status")
            else:
                new["status"] = current["status"]
                new["spec"] = current["spec"]
            meta = new["metadata"]
            for field in ("uid", "creationTimestamp", "deletionTimestamp", "generation", "namespace"):
                if field in current["metadata"]:
                    meta[field] = current["metadata"][field]
                else:
                    meta.pop(field, None)
            if res.kind == "Namespace":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            new["kind"], new["apiVersion"] = res.kind, res.api_version
            if "managedFields" in current["metadata"] and "managedFields" not in meta:
                meta["managedFields"] = current["metadata"]["managedFields"]
            if _comparable(new) == _comparable(current):
                return copy.deepcopy(current)  # no-op: nothing changes, resourceVersion stays
            if "generation" in meta and _content(new) != _content(current):
                meta["generation"] = current["metadata"]["generation"] + 1
            if field_manager:
                entries = [e for e in meta.get("managedFields") or [] if not (e["manager"] == field_manager and e["operation"] == operation)]
                meta["managedFields"] = entries + [self._managed_entry(res, field_manager, operation)]
            if dry_run:
                return new
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                del self.objects[key]  # the last finalizer is gone
                self.rv += 1
                return new
            meta["resourceVersion"] = self._next_rv()
            self.objects[key] = new
            return copy.deepcopy(new)

    def patch(self, res: Res, namespace: str, name: str, content_type: str, body: bytes, dry_run: bool,
              subresource: str = "", field_manager: str = "", force: bool = False) -> tuple[int, dict]:  # fmt: skip
        ctype = content_type.split(";")[0].strip().lower()
        with self.lock:
            if ctype == "application/apply-patch+yaml":
                if not field_manager:
                    raise ApiError(422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                                        "is required for apply patch")  # fmt: skip
                applied = _load_yaml(body)
                if not isinstance(applied, dict):
                    raise ApiError(400, "the apply patch must be an object")
                if (applied.get("metadata") or {}).get("name") not in (None, name):
                    raise ApiError(400, "the name of the object does not match the name on the URL")
                applied.setdefault("metadata", {})["name"] = name
                if self._key(res, namespace, name) not in self.objects:
                    if not applied.get("kind") or not applied.get("apiVersion"):
                        raise ApiError(400, "apply patches must carry kind and apiVersion")
                    obj = self.create(res, namespace, applied, dry_run)
                    obj["metadata"]["managedFields"] = [self._managed_entry(res, field_manager, "Apply")]
                    if not dry_run:
                        self.objects[self._key(res, namespace, name)]["metadata"]["managedFields"] = obj["metadata"]["managedFields"]
                    return 201, obj
                current = self.get(res, namespace, name)
                merged = strategic_merge(current, applied)
                return 200, self.update(res, namespace, name, merged, dry_run, subresource, field_manager, "Apply", check_rv=False)
            current = self.get(res, namespace, name)
            try:
                patch = json.loads(body or b"{}")
            except ValueError as e:
                raise ApiError(400, f"the patch is not JSON: {e}") from e
            if ctype == "application/merge-patch+json":
                merged = merge_patch(current, patch)
            elif ctype == "application/strategic-merge-patch+json":
                if res.group not in ("", "apps", "batch", "policy", "rbac.authorization.k8s.io", "scheduling.k8s.io",
                                     "node.k8s.io", "coordination.k8s.io", "storage.k8s.io", "networking.k8s.io"):
                    raise ApiError(415, "strategic merge patch is not supported for this resource")  # fmt: skip
                merged = strategic_merge(current, patch)
            elif ctype == "application/json-patch+json":
                try:
                    import jsonpatch

                    merged = jsonpatch.apply_patch(current, patch)
                except ImportError as e:
                    raise ApiError(415, "json-patch needs the jsonpatch package") from e
                except Exception as e:
                    raise ApiError(422, f"the JSON patch could not be applied: {e}") from e
            else:
                raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: "
                                    "application/json-patch+json, application/merge-patch+json, "
                                    f"application/apply-patch+yaml, application/strategic-merge-patch+json (got {ctype})")
            if not isinstance(merged, dict):
                raise ApiError(422, "the patch did not produce an object")
            if subresource != "status" and "status" in current:
                merged["status"] = current["status"]
            return 200, self.update(res, namespace, name, merged, dry_run, subresource, field_manager, "Update")

    def delete(self, res: Res, namespace: str, name: str, dry_run: bool, options: dict[str, Any]) -> dict:
        with self.lock:
            key = self._key(res, namespace, name)
            current = self.objects.get(key)
            if current is None:
                raise not_found(res, name)
            pre = options.get("preconditions") or {}
            for field in ("uid", "resourceVersion"):
                if pre.get(field) and pre[field] != current["metadata"].get(field):
                    raise ApiError(409, f"Precondition failed: {field}: {pre[field]}, "
                                        f"ObjectMeta.{field}: {current['metadata'].get(field)}")  # fmt: skip
            policy = options.get("propagationPolicy")
            if policy not in (None, "Orphan", "Background", "Foreground"):
                raise ApiError(422, f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}"')
            obj = copy.deepcopy(current)
            if res.kind == "Namespace":
                obj["status"] = {"phase": "Terminating"}
            if obj["metadata"].get("finalizers") and res.kind != "Namespace":
                obj["metadata"].setdefault("deletionTimestamp", now_ts())
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                if not dry_run and not current["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["resourceVersion"] = self._next_rv()
                    self.objects[key] = copy.deepcopy(obj)
                return obj
            if dry_run:
                return obj
            del self.objects[key]
            if res.kind == "Namespace":
                for k in [k for k in self.objects if k[2] == name and RES_BY_PLURAL.get((k[0], k[1]), res).namespaced]:
                    del self.objects[k]
            self.rv += 1
            return obj

    # -- nodes of EKS managed node groups
    def sync_nodes(self, cluster: str, nodes: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Make the cluster's registered nodes exactly ``nodes``: create, update, delete."""
        node_res = RES["", "v1", "nodes"]
        result: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
        with self.lock:
            wanted = {n["metadata"]["name"]: n for n in nodes}
            for (g, p, _, name), obj in list(self.objects.items()):
                if (g, p) == ("", "nodes") and obj["metadata"].get("annotations", {}).get(NODE_ANNOTATION_CLUSTER) == cluster:
                    if name not in wanted:
                        del self.objects[(g, p, "", name)]
                        self.rv += 1
                        result["deleted"].append(name)
            for name, node in wanted.items():
                key = ("", "nodes", "", name)
                if key not in self.objects:
                    self.create(node_res, "", node, dry_run=False)
                    result["created"].append(name)
                    continue
                current = self.objects[key]
                new = copy.deepcopy(current)
                new["metadata"]["labels"] = node["metadata"]["labels"]
                new["metadata"]["annotations"] = {**current["metadata"].get("annotations", {}), **node["metadata"]["annotations"]}
                new["spec"] = node["spec"]
                before = current["metadata"]["resourceVersion"]
                after = self.update(node_res, "", name, new, dry_run=False)
                after = self.update(node_res, "", name, dict(after, status=node["status"]), dry_run=False, subresource="status")
                result["updated" if after["metadata"]["resourceVersion"] != before else "unchanged"].append(name)
        return result


RES_BY_PLURAL = {(r.group, r.plural): r for r in RES.values()}


def _load_yaml(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        import yaml
    except ImportError as e:
        raise ApiError(415, "YAML apply patches need PyYAML; send JSON") from e
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as e:
        raise ApiError(400, f"the apply patch is not YAML: {e}") from e


def sync_nodegroups(store: Store, payload: Any) -> dict[str, Any]:
    """``POST /_twin/nodes``: register the nodes of EKS managed node groups (see module doc)."""
    if isinstance(payload, list):
        payload = {"nodegroups": payload}
    if not isinstance(payload, dict) or not isinstance(payload.get("nodegroups", []), list):
        raise ApiError(400, "expected a list of node groups or {cluster, nodegroups: [...]}")
    cluster = str(payload.get("cluster") or store.cluster_name or "twin")
    if payload.get("version"):
        store.kubernetes_version = str(payload["version"])
        store.cluster_name = cluster
    nodes = nodes_for_nodegroups(
        cluster,
        payload.get("nodegroups") or [],
        region=str(payload.get("region") or "us-west-2"),
        version=store.kubernetes_version,
        instance_types=payload.get("instanceTypes"),
        subnet_zones=payload.get("subnetZones"),
    )
    return {"cluster": cluster, **store.sync_nodes(cluster, nodes)}


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

ANONYMOUS = {"/version", "/healthz", "/livez", "/readyz"}


def version_info(version: str) -> dict[str, Any]:
    full = EKS_PATCH_RELEASES.get(version, f"{version}.0")
    major, minor = (version.split(".") + ["0"])[:2]
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "gitVersion": f"v{full}-eks-twin", "gitCommit": "0" * 40, "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
            "platform": "linux/amd64"}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    server_version = "mlinfra-twin-k8s"
    protocol_version = "HTTP/1.1"
    store: Store  # set on the class by make_server

    def log_message(self, fmt: str, *args: Any) -> None:
        if getattr(self.server, "access_log", False):
            LOG.info("%s %s", self.address_string(), fmt % args)

    # -- plumbing
    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        raw = self._body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return _load_yaml(raw)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if path.startswith("/_twin/"):
                return self._send(*self._twin(path))
            if path not in ANONYMOUS:
                why = check_token(self.headers.get("Authorization", ""))
                if why:
                    self._body()
                    raise ApiError(401, "Unauthorized", details={"causes": [{"message": why}]})
            self._send(*self._api(path, query))
        except ApiError as e:
            self._send(e.code, e.status())
        except Exception as e:  # a bug in the twin: say so, like the API server's 500
            LOG.exception("internal error on %s %s", self.command, self.path)
            self._send(500, ApiError(500, f"twin k8s API internal error: {e}").status())

    # -- twin endpoints
    def _twin(self, path: str) -> tuple[int, Any]:
        store = self.store
        if path == "/_twin/health" and self.command in ("GET", "HEAD"):
            with store.lock:
                counts = {"objects": len(store.objects), "resourceVersion": store.rv}
            return 200, {"service": SERVICE_ID, "status": "ok", "pid": os.getpid(),
                         "kubernetesVersion": store.kubernetes_version, "cluster": store.cluster_name, **counts}  # fmt: skip
        if path == "/_twin/reset" and self.command == "POST":
            self._body()
            store.reset()
            return 200, {"reset": True}
        if path == "/_twin/nodes" and self.command == "POST":
            return 200, sync_nodegroups(store, self._json_body())
        if path == "/_twin/cluster" and self.command == "POST":
            body = self._json_body() or {}
            if body.get("version"):
                store.kubernetes_version = str(body["version"])
            if body.get("name"):
                store.cluster_name = str(body["name"])
            return 200, {"cluster": store.cluster_name, "kubernetesVersion": store.kubernetes_version}
        raise ApiError(404, f"no {self.command} {path}")

    # -- Kubernetes API
    def _api(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        method = self.command
        if path in ("/healthz", "/livez", "/readyz"):
            return 200, "ok"
        if path == "/version":
            return 200, version_info(self.store.kubernetes_version)
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.headers.get("Host", "")}]}  # fmt: skip
        groups = sorted({(r.group, r.version) for r in RES.values() if r.group})
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g, _ in groups]}
        segs = [s for s in path.split("/") if s]
        if segs[0] == "api" and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 2:
            if len(segs) == 2:
                if not any(g == segs[1] for g, _ in groups):
                    raise ApiError(404, "the server could not find the requested resource")
                return 200, dict(self._group(segs[1]), kind="APIGroup", apiVersion="v1")
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource")
        served = [r for r in RES.values() if r.group == group and r.version == version]
        if not served:
            raise ApiError(404, "the server could not find the requested resource")
        if not rest:
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": served[0].api_version,
                         "resources": [e for r in served for e in r.discovery()]}  # fmt: skip
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = RES.get((group, version, rest[0]))
        if res is None or (namespace and not res.namespaced):
            raise ApiError(404, "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or sub not in ("", "status"):
            raise ApiError(404, "the server could not find the requested resource")
        if res.namespaced and name and not namespace:
            raise ApiError(404, "the server could not find the requested resource")
        if query.get("watch") in ("true", "1"):
            raise ApiError(405, "watch is not supported by the twin's Kubernetes API", "MethodNotAllowed")
        dry = query.get("dryRun", "")
        if dry not in ("", "All"):
            raise ApiError(400, f'dryRun: Unsupported value: "{dry}": supported values: "All"')
        dry_run = dry == "All"
        manager = query.get("fieldManager", "")
        store = self.store
        if method in ("GET", "HEAD"):
            if name:
                return 200, store.get(res, namespace, name)
            return 200, store.list(res, namespace or None, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        if method == "POST" and not name:
            body = self._json_body()
            if not isinstance(body, dict):
                raise ApiError(400, "the body of the request was not a JSON object")
            return 201, store.create(res, namespace, body, dry_run, manager)
        if method == "PUT" and name:
            body = self._json_body()
            if not isinstance(body, dict):
                raise ApiError(400, "the body of the request was not a JSON object")
            return 200, store.update(res, namespace, name, body, dry_run, sub, manager)
        if method == "PATCH" and name:
            return store.patch(res, namespace, name, self.headers.get("Content-Type", ""), self._body(), dry_run, sub,
                               manager, query.get("force") == "true")  # fmt: skip
        if method == "DELETE" and not sub:
            options = self._json_body() or {}
            if not isinstance(options, dict):
                raise ApiError(400, "DeleteOptions must be an object")
            dry_run = dry_run or options.get("dryRun") == ["All"]
            for opt in ("propagationPolicy", "gracePeriodSeconds"):
                if opt in query:
                    options.setdefault(opt, query[opt])
            if name:
                return 200, store.delete(res, namespace, name, dry_run, options)
            listed = store.list(res, namespace or None, query.get("labelSelector", ""), query.get("fieldSelector", ""))
            items = [store.delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"], dry_run, options)
                     for o in listed["items"]]  # fmt: skip
            return 200, dict(listed, items=items)
        raise ApiError(405, f"{method} is not supported on {path}")

    @staticmethod
    def _group(group: str) -> dict[str, Any]:
        versions = sorted({r.version for r in RES.values() if r.group == group})
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(host: str, port: int, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
                access_log: bool = False) -> Server:  # fmt: skip
    """A server bound to a loopback address (not yet serving: call serve_forever)."""
    if not is_loopback_host(host):
        raise ValueError(f"refusing to bind to non-loopback host {host!r}")
    handler = type("TwinK8sHandler", (Handler,), {"store": Store(kubernetes_version)})
    bind = host.strip("[]")
    server_class = Server
    if ":" in bind:
        server_class = type("Server6", (Server,), {"address_family": __import__("socket").AF_INET6})
    server = server_class((bind, port), handler)
    server.access_log = access_log  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "token":
        p = argparse.ArgumentParser(prog="k8s_api.py token", description="print an EKS bearer token")
        p.add_argument("cluster")
        p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-west-2"))
        a = p.parse_args(argv[1:])
        print(eks_token(a.cluster, a.region))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("TWIN_K8S_PORT", "6000")))
    parser.add_argument("--kubernetes-version", default=os.environ.get("TWIN_K8S_VERSION", DEFAULT_KUBERNETES_VERSION),
                        help="what /version reports until an EKS cluster sets it (default %(default)s)")  # fmt: skip
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s twin-k8s: %(message)s", stream=sys.stderr)
    if not is_loopback_host(args.host):
        print(f"twin: refusing to bind to non-loopback host {args.host!r}: the twin serves only "
              "127.0.0.0/8, ::1 or localhost", file=sys.stderr)  # fmt: skip
        return 2
    server = make_server(args.host, args.port, args.kubernetes_version, args.access_log)

    def stop(signum: int, frame: Any) -> None:
        LOG.info("stopping (signal %d)", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info("Kubernetes API (v%s) on http://%s:%d (pid %d)", args.kubernetes_version, args.host, args.port, os.getpid())
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
