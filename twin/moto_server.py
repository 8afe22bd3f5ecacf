"""The twin's AWS control plane: a moto server with a request counter and emulator patches.

Usage::

    .venv/bin/python twin/moto_server.py --host 127.0.0.1 --port 5000

What it adds on top of ``python -m moto.server``:

* it binds only to loopback addresses (127.0.0.0/8, ::1, localhost) and refuses anything else;
* it loads AWS managed IAM policies (``MOTO_IAM_LOAD_MANAGED_POLICIES=true``), so
  AmazonEKSClusterPolicy, AmazonEKSWorkerNodePolicy ... can be attached;
* a WSGI middleware counts every request (total and per AWS service) and serves
  ``GET /_twin/health``, ``GET /_twin/stats`` and ``POST /_twin/stats/reset``;
* at start-up it patches moto's model/response classes to close gaps between moto and AWS
  that make amazon.aws / community.aws modules fail or report ``changed`` on every run
  (see PATCHES below and docs/twin.md). The patches touch moto internals, so the launcher
  refuses to start unless moto is exactly PINNED_MOTO_VERSION.

Normally started through ``twin/twinctl up``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import threading
from collections import Counter
from typing import Any, Callable, Iterable

PINNED_MOTO_VERSION = "5.2.5"
SERVICE_ID = "mlinfra-twin-aws"
LOG = logging.getLogger("twin")


# --------------------------------------------------------------------------------------
# Loopback guard
# --------------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for literal loopback addresses (127.0.0.0/8, ::1) and the name ``localhost``.

    Other names are not resolved: the twin must never listen on a routable interface.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------
# Request counter / control endpoints
# --------------------------------------------------------------------------------------

_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_QUERY_SCOPE_RE = re.compile(
    r"X-Amz-Credential=[^/&]+(?:/|%2F)\d{8}(?:/|%2F)[^/&%]+(?:/|%2F)([^/&%]+)(?:/|%2F)aws4_request", re.I
)
_HOST_RE = re.compile(r"^([a-z0-9-]+)\.(?:[a-z0-9-]+\.)?amazonaws\.com", re.I)


def service_of(environ: dict[str, Any]) -> str:
    """The AWS service a request is for.

    The SigV4 credential scope (``Credential=KEY/DATE/REGION/SERVICE/aws4_request`` in the
    Authorization header, or X-Amz-Credential in a presigned URL) is the most reliable source;
    then an ``<service>.<region>.amazonaws.com`` Host header; then moto's own API.
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _SCOPE_RE.search(auth)
    if m:
        return m.group(2)
    m = _QUERY_SCOPE_RE.search(environ.get("QUERY_STRING", ""))
    if m:
        return m.group(1)
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return "moto-api"
    m = _HOST_RE.match(environ.get("HTTP_HOST", ""))
    if m:
        return m.group(1).lower()
    return "unknown"


class TwinMiddleware:
    """Counts requests and serves /_twin/* before handing everything else to moto."""

    def __init__(self, app: Callable, moto_version: str, patches: list[str]):
        self.app = app
        self.moto_version = moto_version
        self.patches = patches
        self._lock = threading.Lock()
        self._total = 0
        self._by_service: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self._total, "by_service": dict(sorted(self._by_service.items()))}

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_service.clear()

    @staticmethod
    def _json(start_response: Callable, status: str, body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _control(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_twin/health" and method in ("GET", "HEAD"):
            return self._json(
                start_response,
                "200 OK",
                {
                    "service": SERVICE_ID,
                    "status": "ok",
                    "moto_version": self.moto_version,
                    "pid": os.getpid(),
                    "patches": self.patches,
                },
            )
        if path == "/_twin/stats" and method == "GET":
            return self._json(start_response, "200 OK", self.stats())
        if path == "/_twin/stats/reset" and method == "POST":
            self.reset()
            return self._json(start_response, "200 OK", {"reset": True})
        return self._json(start_response, "404 Not Found", {"error": f"no {method} {path}"})

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_twin/"):
            return self._control(environ, start_response)
        service = service_of(environ)
        with self._lock:
            self._total += 1
            self._by_service[service] += 1
        return self.app(environ, start_response)


# --------------------------------------------------------------------------------------
# Emulator patches (moto 5.2.5). Each: what AWS does, what moto did, how it is fixed.
# --------------------------------------------------------------------------------------


def _require(obj: Any, *names: str) -> None:
    for name in names:
        if not hasattr(obj, name):
            raise RuntimeError(f"moto internals changed: {obj!r} has no attribute {name!r}")


def patch_kms_key_arn() -> None:
    """KMS: DisableKey/EnableKey/CancelKeyDeletion/ScheduleKeyDeletion accept a key ARN.

    AWS accepts a key id or a key ARN as KeyId, and ScheduleKeyDeletion/CancelKeyDeletion
    answer with the key ARN (plus KeyState/PendingWindowInDays for ScheduleKeyDeletion).
    moto 5.2.5 validated the ARN, then looked the raw string up in its key table: 500
    KeyError (amazon.aws.kms_key state=absent failed). Fixed by normalising the id in the
    backend methods and answering with the ARN.
    """
    from moto.kms.models import KmsBackend
    from moto.kms.responses import KmsResponse

    names = ("disable_key", "enable_key", "cancel_key_deletion", "schedule_key_deletion")
    _require(KmsBackend, "get_key_id", *names)
    _require(KmsResponse, "_validate_cmk_id", "_get_param")

    def normalising(orig: Callable) -> Callable:
        def method(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
            return orig(self, self.get_key_id(key_id), *args, **kwargs)

        method.__name__ = orig.__name__
        method.__doc__ = orig.__doc__
        return method

    for name in names:
        setattr(KmsBackend, name, normalising(getattr(KmsBackend, name)))

    def schedule_key_deletion(self: Any) -> str:
        key_id = self._get_param("KeyId")
        window = self._get_param("PendingWindowInDays")
        window = 30 if window is None else window
        self._validate_cmk_id(key_id)
        deletion_date = self.kms_backend.schedule_key_deletion(key_id, window)
        key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
        return json.dumps(
            {
                "KeyId": key.arn,
                "DeletionDate": deletion_date,
                "KeyState": key.key_state,
                "PendingWindowInDays": window,
            }
        )

    def cancel_key_deletion(self: Any) -> str:
        key_id = self._get_param("KeyId")
        self._validate_cmk_id(key_id)
        self.kms_backend.cancel_key_deletion(key_id)
        key = self.kms_backend.keys[self.kms_backend.get_key_id(key_id)]
        return json.dumps({"KeyId": key.arn})

    KmsResponse.schedule_key_deletion = schedule_key_deletion
    KmsResponse.cancel_key_deletion = cancel_key_deletion


# moto's names -> AWS's names for DescribeTags resource types.
EC2_TAG_TYPE_TO_AWS = {"vpc-elastic-ip": "elastic-ip", "nat-gateway": "natgateway"}
EC2_TAG_TYPE_FROM_AWS = {v: k for k, v in EC2_TAG_TYPE_TO_AWS.items()}


def patch_ec2_tag_resource_types() -> None:
    """EC2 DescribeTags: Elastic IPs are "elastic-ip", NAT gateways "natgateway".

    AWS reports (and filters on) resource-type "elastic-ip" and "natgateway". moto 5.2.5 used
    its internal names "vpc-elastic-ip" and "nat-gateway", so a resource-type filter with the
    AWS name found no tags and amazon.aws.ec2_eip / ec2_vpc_nat_gateway re-applied their tags
    (changed) on every run. Fixed by translating filter values to moto's names and the
    ResourceType of every result to AWS's.
    """
    from moto.ec2.models.tags import TagBackend

    _require(TagBackend, "describe_tags")
    orig = TagBackend.describe_tags

    def describe_tags(self: Any, filters: dict[str, list[str]] | None = None) -> list[dict[str, str]]:
        if filters and "resource-type" in filters:
            filters = dict(filters)
            filters["resource-type"] = [EC2_TAG_TYPE_FROM_AWS.get(v, v) for v in filters["resource-type"]]
        results = orig(self, filters=filters)
        for result in results:
            rtype = result.get("resource_type")
            result["resource_type"] = EC2_TAG_TYPE_TO_AWS.get(rtype, rtype)
        return results

    TagBackend.describe_tags = describe_tags


DEFAULT_NODEGROUP_UPDATE_CONFIG = {"maxUnavailable": 1}


def patch_eks_nodegroup_update_config() -> None:
    """EKS: nodegroups carry updateConfig (default {"maxUnavailable": 1}).

    AWS always returns updateConfig in CreateNodegroup/DescribeNodegroup: what was given at
    create time or by UpdateNodegroupConfig, else {"maxUnavailable": 1}. moto 5.2.5 dropped
    updateConfig from CreateNodegroup and returned none, so community.aws.eks_nodegroup
    failed on its second run with KeyError 'updateConfig'. Fixed by defaulting it in the
    Nodegroup model and storing CreateNodegroup's updateConfig/nodeRepairConfig
    (UpdateNodegroupConfig already stored it). Each nodegroup also gets its own copy of the
    scalingConfig (moto shared one default dict, which UpdateNodegroupConfig mutated).
    """
    from moto.eks.models import Nodegroup
    from moto.eks.responses import EKSResponse

    _require(EKSResponse, "create_nodegroup", "_get_param")
    orig_init = Nodegroup.__init__
    orig_create = EKSResponse.create_nodegroup

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        if not getattr(self, "update_config", None):
            self.update_config = dict(DEFAULT_NODEGROUP_UPDATE_CONFIG)
        self.scaling_config = dict(self.scaling_config)

    def create_nodegroup(self: Any) -> Any:
        result = orig_create(self)
        nodegroup = result.result["nodegroup"]
        update_config = self._get_param("updateConfig")
        if update_config:
            nodegroup.update_config = update_config
        node_repair_config = self._get_param("nodeRepairConfig")
        if node_repair_config:
            nodegroup.node_repair_config = node_repair_config
        return result

    Nodegroup.__init__ = __init__
    EKSResponse.create_nodegroup = create_nodegroup


def patch_eks_nodegroup_tags() -> None:
    """EKS: TagResource/UntagResource/ListTagsForResource work on nodegroup ARNs.

    AWS tags clusters, managed nodegroups and Fargate profiles by ARN; tags given to
    CreateNodegroup are listed by ListTagsForResource(nodegroupArn). moto 5.2.5 searched
    clusters only and answered ResourceNotFoundException for a nodegroup ARN, so
    community.aws.eks_nodegroup failed on re-run ("Unable to list or compare tags for
    Nodegroup"). Fixed by resolving the ARN among clusters, their nodegroups and Fargate
    profiles, and answering NotFoundException (404) for unknown ARNs as AWS does.
    """
    from moto.eks.exceptions import EKSError
    from moto.eks.models import EKSBackend

    _require(EKSBackend, "tag_resource", "untag_resource", "list_tags_for_resource")

    class NotFoundException(EKSError):
        TYPE = "NotFoundException"
        STATUS = 404

    def find(self: Any, arn: str) -> Any:
        for cluster in self.clusters.values():
            if cluster.arn == arn:
                return cluster
            for child in list(cluster.nodegroups.values()) + list(cluster.fargate_profiles.values()):
                if getattr(child, "arn", None) == arn:
                    return child
        raise NotFoundException(message="Resource was not found")

    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        find(self, resource_arn).tags.update(tags or {})

    def untag_resource(self: Any, resource_arn: str, tag_keys: list[str]) -> None:
        resource = find(self, resource_arn)
        if not isinstance(tag_keys, list):
            tag_keys = [tag_keys]
        for key in tag_keys:
            resource.tags.pop(key, None)

    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        return find(self, resource_arn).tags

    EKSBackend.tag_resource = tag_resource
    EKSBackend.untag_resource = untag_resource
    EKSBackend.list_tags_for_resource = list_tags_for_resource


def patch_ec2_delete_launch_template_versions() -> None:
    """EC2: DeleteLaunchTemplateVersions is implemented.

    AWS deletes the given versions of a launch template (never the default one) and reports
    each in SuccessfullyDeletedLaunchTemplateVersions or UnsuccessfullyDeletedLaunchTemplate-
    Versions; version numbers are never reused. moto 5.2.5 had no such action (500), so
    amazon.aws.ec2_launch_template state=absent failed on a template with several versions.
    Fixed by marking deleted versions (they keep their slot, so numbering stays right), hiding
    them from DescribeLaunchTemplateVersions/$Latest/lookups, and adding the action.
    """
    from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
    from moto.ec2.responses.launch_templates import LaunchTemplates

    _require(LaunchTemplate, "get_version", "latest_version", "default_version", "is_default")
    _require(
        LaunchTemplateBackend, "describe_launch_template_versions", "get_launch_template", "get_launch_template_by_name"
    )
    if hasattr(LaunchTemplates, "delete_launch_template_versions"):
        raise RuntimeError("moto now implements DeleteLaunchTemplateVersions: drop this patch")

    orig_get_version = LaunchTemplate.get_version
    orig_describe = LaunchTemplateBackend.describe_launch_template_versions

    def is_deleted(version: Any) -> bool:
        return getattr(version, "twin_deleted", False)

    def get_version(self: Any, num: Any) -> Any:
        if str(num).lower() == "$latest":
            return self.latest_version()
        version = orig_get_version(self, num)
        if is_deleted(version):
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    def latest_version(self: Any) -> Any:
        return [v for v in self.versions if not is_deleted(v)][-1]

    def describe_launch_template_versions(
        self: Any,
        template_name: str,
        template_id: str,
        versions: list[str],
        min_version: int,
        max_version: int,
        max_results: int,
    ) -> list[Any]:
        found = orig_describe(self, template_name, template_id, versions, min_version, max_version, 10**9)
        found = [(t, v) for t, v in found if not is_deleted(v)]
        return found[:max_results] if max_results else found

    def delete_launch_template_versions(self: Any) -> Any:
        from moto.core.responses import ActionResult

        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        numbers = [str(v) for v in self._get_param("Versions", [])]
        self.error_on_dryrun()
        if template_id:
            template = self.ec2_backend.get_launch_template(template_id)
        else:
            template = self.ec2_backend.get_launch_template_by_name(name)
        ok, failed = [], []
        for number in numbers:
            entry: dict[str, Any] = {
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
            }
            version = None
            if number.isdigit() and 1 <= int(number) <= len(template.versions):
                version = template.versions[int(number) - 1]
                entry["VersionNumber"] = version.number
            if version is None or is_deleted(version):
                entry["ResponseError"] = {
                    "Code": "launchTemplateVersionDoesNotExist",
                    "Message": f"The specified launch template version {number} does not exist.",
                }
                failed.append(entry)
            elif template.is_default(version):
                entry["ResponseError"] = {
                    "Code": "unexpectedError",
                    "Message": "You cannot delete the default version of a launch template.",
                }
                failed.append(entry)
            else:
                version.twin_deleted = True
                ok.append(entry)
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": ok,
                "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
            }
        )

    LaunchTemplate.get_version = get_version
    LaunchTemplate.latest_version = latest_version
    LaunchTemplateBackend.describe_launch_template_versions = describe_launch_template_versions
    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions


def patch_ec2_launch_template_version_data() -> None:
    """EC2 CreateLaunchTemplate: template tags stay off the version's LaunchTemplateData.

    AWS applies CreateLaunchTemplate's TagSpecifications (type launch-template) to the template
    itself; the version's LaunchTemplateData is exactly what was given as LaunchTemplateData.
    moto 5.2.5 appended those tag specifications to the version data, so
    amazon.aws.ec2_launch_template with tags saw a difference and created a new version on
    every run. Fixed by a CreateLaunchTemplate that leaves the version data alone.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.responses.launch_templates import LaunchTemplates
    from moto.ec2.utils import parse_user_data

    _require(LaunchTemplates, "create_launch_template", "_parse_tag_specification")

    def create_launch_template(self: Any) -> Any:
        name = self._get_param("LaunchTemplateName")
        version_description = self._get_param("VersionDescription")
        tag_spec = self._parse_tag_specification()
        data = self._get_param("LaunchTemplateData", {})
        data["UserData"] = parse_user_data(self._get_param("LaunchTemplateData.UserData"))
        self.error_on_dryrun()
        template = self.ec2_backend.create_launch_template(name, version_description, data, tag_spec)
        version = template.default_version()
        return ActionResult(
            {
                "LaunchTemplate": {
                    "CreateTime": version.create_time,
                    "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                    "DefaultVersionNumber": template.default_version_number,
                    "LatestVersionNumber": version.number,
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "Tags": template.tags,
                }
            }
        )

    LaunchTemplates.create_launch_template = create_launch_template


ASG_ALL_METRICS = [
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupInServiceCapacity",
    "GroupPendingCapacity",
    "GroupStandbyCapacity",
    "GroupTerminatingCapacity",
    "GroupTotalCapacity",
    "WarmPoolDesiredCapacity",
    "WarmPoolWarmedCapacity",
    "WarmPoolPendingCapacity",
    "WarmPoolTerminatingCapacity",
    "WarmPoolTotalCapacity",
    "GroupAndWarmPoolDesiredCapacity",
    "GroupAndWarmPoolTotalCapacity",
]


def patch_autoscaling_metrics_collection() -> None:
    """AutoScaling: EnableMetricsCollection/DisableMetricsCollection with granularity.

    AWS: EnableMetricsCollection adds the given metrics (all metrics when none are given) at
    the given Granularity; DisableMetricsCollection removes the given metrics (all when none
    are given); DescribeAutoScalingGroups lists them in EnabledMetrics. moto 5.2.5 had no
    DisableMetricsCollection (500: amazon.aws.autoscaling_group failed on every run with
    metrics_collection=false, its default), and its EnableMetricsCollection replaced the list
    and ignored Granularity. Fixed in the group model, the backend and the response.
    """
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    _require(FakeAutoScalingGroup, "enabled_metrics", "enable_metrics_collection")
    _require(AutoScalingBackend, "describe_auto_scaling_groups")
    if hasattr(AutoScalingResponse, "disable_metrics_collection"):
        raise RuntimeError("moto now implements DisableMetricsCollection: review this patch")

    def group_enable(self: Any, metrics: list[str] | None, granularity: str | None = None) -> None:
        current = list(getattr(self, "metrics", []) or [])
        for metric in metrics or ASG_ALL_METRICS:
            if metric not in current:
                current.append(metric)
        self.metrics = current
        self.twin_metrics_granularity = granularity or "1Minute"

    def group_disable(self: Any, metrics: list[str] | None) -> None:
        self.metrics = [m for m in (self.metrics or []) if metrics and m not in metrics]

    def enabled_metrics(self: Any) -> list[dict[str, str]]:
        granularity = getattr(self, "twin_metrics_granularity", "1Minute")
        return [{"Metric": m, "Granularity": granularity} for m in self.metrics]

    def backend_enable(self: Any, group_name: str, metrics: list[str], granularity: str | None = None) -> None:
        self.describe_auto_scaling_groups([group_name])[0].enable_metrics_collection(metrics, granularity)

    def backend_disable(self: Any, group_name: str, metrics: list[str] | None) -> None:
        self.describe_auto_scaling_groups([group_name])[0].disable_metrics_collection(metrics)

    def response_enable(self: Any) -> Any:
        self.autoscaling_backend.enable_metrics_collection(
            self._get_param("AutoScalingGroupName"),
            self._get_param("Metrics"),
            self._get_param("Granularity"),
        )
        return EmptyResult()

    def response_disable(self: Any) -> Any:
        self.autoscaling_backend.disable_metrics_collection(
            self._get_param("AutoScalingGroupName"), self._get_param("Metrics")
        )
        return EmptyResult()

    FakeAutoScalingGroup.enable_metrics_collection = group_enable
    FakeAutoScalingGroup.disable_metrics_collection = group_disable
    FakeAutoScalingGroup.enabled_metrics = property(enabled_metrics)
    AutoScalingBackend.enable_metrics_collection = backend_enable
    AutoScalingBackend.disable_metrics_collection = backend_disable
    AutoScalingResponse.enable_metrics_collection = response_enable
    AutoScalingResponse.disable_metrics_collection = response_disable


def patch_autoscaling_tag_order() -> None:
    """AutoScaling: a group's Tags come back sorted by key.

    AWS returns an Auto Scaling group's tags sorted by key. moto 5.2.5 kept insertion order;
    amazon.aws.autoscaling_group sorts the tag list it fetched in place (which is also its
    "before" snapshot) and compares it with a fresh, unsorted one, so a group whose tags were
    not given in key order reported changed on every run. Fixed by keeping the group's tag
    list sorted by key whenever it is set.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup

    prop = FakeAutoScalingGroup.__dict__.get("tags")
    if not isinstance(prop, property) or prop.fset is None:
        raise RuntimeError("moto internals changed: FakeAutoScalingGroup.tags is not a property")

    def set_tags(self: Any, tags: list[dict[str, Any]]) -> None:
        prop.fset(self, tags)
        self._tags = sorted(self._tags, key=lambda t: t["Key"])

    FakeAutoScalingGroup.tags = property(prop.fget, set_tags)


def patch_ec2_rule_description_updates() -> None:
    """EC2 UpdateSecurityGroupRuleDescriptions{Ingress,Egress} answer {"Return": true}.

    AWS answers both calls with Return=true. moto 5.2.5 updated the descriptions but answered
    with an empty body, so amazon.aws.ec2_security_group, which reads response["Return"],
    failed with KeyError 'Return' whenever a rule's description changed. Fixed by answering
    Return=true after moto's own update.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.responses.security_groups import SecurityGroups

    _require(SecurityGroups, "update_security_group_rule_descriptions_ingress",
             "update_security_group_rule_descriptions_egress")
    for name in ("update_security_group_rule_descriptions_ingress", "update_security_group_rule_descriptions_egress"):
        orig = getattr(SecurityGroups, name)

        def answer_return(self: Any, _orig: Callable[[Any], Any] = orig) -> Any:
            _orig(self)
            return ActionResult({"Return": True})

        setattr(SecurityGroups, name, answer_return)


EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
EKS_AUTHENTICATION_MODES = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]  # allowed moves: left to right only
EKS_ENDPOINT_KEYS = ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs")


def _eks_logging(enabled: Iterable[str]) -> dict[str, Any]:
    """AWS's form of a cluster's logging: one entry for the enabled types, one for the rest."""
    enabled = set(enabled)
    entries = []
    on = [t for t in EKS_LOG_TYPES if t in enabled]
    off = [t for t in EKS_LOG_TYPES if t not in enabled]
    if on:
        entries.append({"types": on, "enabled": True})
    if off:
        entries.append({"types": off, "enabled": False})
    return {"clusterLogging": entries}


def _eks_enabled_log_types(logging_config: dict[str, Any] | None, start: Iterable[str] = ()) -> set[str]:
    enabled = set(start)
    for entry in (logging_config or {}).get("clusterLogging") or []:
        types = set(entry.get("types") or [])
        if entry.get("enabled"):
            enabled |= types
        else:
            enabled -= types
    return enabled


def patch_eks_cluster_create_defaults() -> None:
    """EKS CreateCluster: resourcesVpcConfig defaults, every log type listed, accessConfig kept.

    AWS describes every cluster's resourcesVpcConfig with endpointPublicAccess (default true),
    endpointPrivateAccess (default false), publicAccessCidrs (default ["0.0.0.0/0"]) and
    securityGroupIds ([] when none were given); logging.clusterLogging lists all five log types
    (those not enabled as disabled); accessConfig is kept (authenticationMode defaults to
    CONFIG_MAP for clusters created through the API, bootstrapClusterCreatorAdminPermissions to
    true). moto 5.2.5 stored resourcesVpcConfig and logging exactly as sent (no endpoint flags or
    CIDRs unless given, only the log types named) and dropped accessConfig. Fixed in the Cluster
    model and CreateCluster.
    """
    from moto.eks.models import Cluster
    from moto.eks.responses import EKSResponse

    _require(EKSResponse, "create_cluster", "_get_param")
    orig_init = Cluster.__init__
    orig_create = EKSResponse.create_cluster

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        vpc_config = {
            "securityGroupIds": [],
            "endpointPublicAccess": True,
            "endpointPrivateAccess": False,
            "publicAccessCidrs": ["0.0.0.0/0"],
        }
        vpc_config.update({k: v for k, v in (self.resources_vpc_config or {}).items() if v is not None})
        self.resources_vpc_config = vpc_config
        self.logging = _eks_logging(_eks_enabled_log_types(self.logging))
        self.access_config = {"bootstrapClusterCreatorAdminPermissions": True, "authenticationMode": "CONFIG_MAP"}

    def create_cluster(self: Any) -> Any:
        result = orig_create(self)
        access_config = self._get_param("accessConfig") or {}
        result.result["cluster"].access_config.update({k: v for k, v in access_config.items() if v is not None})
        return result

    Cluster.__init__ = __init__
    EKSResponse.create_cluster = create_cluster


def patch_eks_cluster_updates() -> None:
    """EKS: UpdateClusterConfig merges and answers an update; UpdateClusterVersion,
    AssociateEncryptionConfig and DescribeUpdate exist.

    AWS: UpdateClusterConfig changes one kind of setting per call (else InvalidParameterException
    "Only one type of update can be allowed."), changes only what was sent (log types one by one;
    the endpoint flags/publicAccessCidrs or the subnetIds/securityGroupIds of resourcesVpcConfig),
    refuses a call that changes nothing, moves authenticationMode only CONFIG_MAP ->
    API_AND_CONFIG_MAP -> API, and answers {"update": ...} (LoggingUpdate, EndpointAccessUpdate,
    VpcConfigUpdate, AccessConfigUpdate) whose progress DescribeUpdate reports. UpdateClusterVersion
    goes up exactly one minor version (VersionUpdate); AssociateEncryptionConfig adds secrets
    encryption to a cluster that has none (it cannot be changed or removed). moto 5.2.5 replaced
    resourcesVpcConfig and logging with what was sent (an endpoint update dropped the subnets),
    ignored accessConfig, answered no update, and had no UpdateClusterVersion,
    AssociateEncryptionConfig or DescribeUpdate (404). Fixed with a merging UpdateClusterConfig,
    the three actions and their routes; the emulated updates complete at once (Successful).
    """
    import uuid as _uuid

    from moto.core import responses as core_responses
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks import urls as eks_urls
    from moto.eks.exceptions import InvalidParameterException, InvalidRequestException, ResourceNotFoundException
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    _require(EKSBackend, "describe_cluster", "update_cluster_config")
    _require(EKSResponse, "update_cluster_config", "_get_param")
    _require(eks_urls, "url_paths", "response")
    _require(core_responses, "get_service_model")
    for name in ("update_cluster_version", "associate_encryption_config", "describe_update"):
        if hasattr(EKSResponse, name):
            raise RuntimeError(f"moto now implements EKSResponse.{name}: review this patch")
    orig_backend_update = EKSBackend.update_cluster_config
    # Every UpdateClusterConfig member but these is one "type" of update.
    not_a_setting = ("name", "clientRequestToken")

    def invalid(name: str, message: str) -> Exception:
        return InvalidParameterException(clusterName=name, message=message)

    def record(cluster: Any, update_type: str, params: dict[str, Any]) -> dict[str, Any]:
        update = {
            "id": str(_uuid.uuid4()),
            "status": "Successful",
            "type": update_type,
            "params": [{"type": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in params.items()],
            "createdAt": utcnow(),
            "errors": [],
        }
        if not hasattr(cluster, "twin_updates"):
            cluster.twin_updates = {}
        cluster.twin_updates[update["id"]] = update
        return update

    def update_vpc_config(cluster: Any, sent: dict[str, Any]) -> dict[str, Any]:
        sent = {k: v for k, v in sent.items() if v is not None}
        current = dict(cluster.resources_vpc_config or {})
        merged = dict(current, **sent)
        if "subnetIds" in sent or "securityGroupIds" in sent:
            update_type = "VpcConfigUpdate"
            params = {"Subnets": merged.get("subnetIds", []), "SecurityGroups": merged.get("securityGroupIds", [])}
        elif any(k in sent for k in EKS_ENDPOINT_KEYS):
            update_type = "EndpointAccessUpdate"
            params = {
                "EndpointPublicAccess": json.dumps(bool(merged.get("endpointPublicAccess"))),
                "EndpointPrivateAccess": json.dumps(bool(merged.get("endpointPrivateAccess"))),
                "PublicAccessCidrs": merged.get("publicAccessCidrs", []),
            }

            def endpoint(cfg: dict[str, Any]) -> tuple:
                return (
                    bool(cfg.get("endpointPrivateAccess")),
                    bool(cfg.get("endpointPublicAccess")),
                    sorted(cfg.get("publicAccessCidrs") or []),
                )

            if endpoint(merged) == endpoint(current):
                private, public, cidrs = endpoint(current)
                raise invalid(
                    cluster.name,
                    f"Cluster is already at the desired configuration with endpointPrivateAccess: "
                    f"{json.dumps(private)} , endpointPublicAccess: {json.dumps(public)}, and Public "
                    f"Endpoint Restrictions: [{', '.join(cidrs)}]",
                )
        else:
            update_type = "VpcConfigUpdate"
            params = {k[0].upper() + k[1:]: v for k, v in sent.items()}
        cluster.resources_vpc_config = merged
        return record(cluster, update_type, params)

    def update_logging(cluster: Any, sent: dict[str, Any]) -> dict[str, Any]:
        current = _eks_enabled_log_types(cluster.logging)
        wanted = _eks_enabled_log_types(sent, start=current)
        if wanted == current:
            raise invalid(cluster.name, "No changes needed for the logging config provided")
        cluster.logging = _eks_logging(wanted)
        return record(cluster, "LoggingUpdate", {"ClusterLogging": sent})

    def update_access_config(cluster: Any, sent: dict[str, Any]) -> dict[str, Any]:
        access_config = getattr(cluster, "access_config", None) or {"authenticationMode": "CONFIG_MAP"}
        current = access_config.get("authenticationMode") or "CONFIG_MAP"
        wanted = sent.get("authenticationMode") or current
        if EKS_AUTHENTICATION_MODES.index(wanted) <= EKS_AUTHENTICATION_MODES.index(current):
            raise invalid(cluster.name, f"Unsupported authentication mode update from {current} to {wanted}")
        cluster.access_config = dict(access_config, authenticationMode=wanted)
        return record(cluster, "AccessConfigUpdate", {"AuthenticationMode": wanted})

    def update_cluster_config(self: Any) -> Any:
        name = self._get_param("name")
        operation = core_responses.get_service_model("eks").operation_model("UpdateClusterConfig")
        sent = {
            member: self._get_param(member)
            for member in operation.input_shape.members
            if member not in not_a_setting and self._get_param(member) is not None
        }
        cluster = self.eks_backend.describe_cluster(name=name)
        if len(sent) != 1:
            raise invalid(name, "Only one type of update can be allowed." if sent else "No changes were specified.")
        kind, value = next(iter(sent.items()))
        if kind == "resourcesVpcConfig":
            update = update_vpc_config(cluster, value)
        elif kind == "logging":
            update = update_logging(cluster, value)
        elif kind == "accessConfig":
            update = update_access_config(cluster, value)
        else:
            orig_backend_update(
                self.eks_backend,
                name=name,
                resources_vpc_config=None,
                kubernetes_network_config=sent.get("kubernetesNetworkConfig"),
                remote_network_config=sent.get("remoteNetworkConfig"),
            )
            update = record(cluster, "ConfigUpdate", {kind[0].upper() + kind[1:]: value})
        return ActionResult({"update": update})

    def update_cluster_version(self: Any) -> Any:
        name = self._get_param("name")
        wanted = str(self._get_param("version") or "")
        cluster = self.eks_backend.describe_cluster(name=name)
        current = str(cluster.version)

        def minor(version: str) -> tuple[int, int] | None:
            m = re.fullmatch(r"(\d+)\.(\d+)", version)
            return (int(m.group(1)), int(m.group(2))) if m else None

        cur, new = minor(current), minor(wanted)
        if not (cur and new and new[0] == cur[0] and new[1] == cur[1] + 1):
            raise invalid(name, f"Unsupported Kubernetes minor version update from {current} to {wanted}")
        cluster.version = wanted
        update = record(cluster, "VersionUpdate", {"Version": wanted, "PlatformVersion": cluster.platformVersion})
        return ActionResult({"update": update})

    def associate_encryption_config(self: Any) -> Any:
        # the URI's {name} is the clusterName member
        name = self._get_param("clusterName") or self._get_param("name")
        encryption_config = self._get_param("encryptionConfig") or []
        cluster = self.eks_backend.describe_cluster(name=name)
        if cluster.encryption_config:
            raise InvalidRequestException(clusterName=name, message="Cluster already has an encryption config")
        if not encryption_config or not all(
            (e.get("provider") or {}).get("keyArn") and e.get("resources") == ["secrets"] for e in encryption_config
        ):
            raise invalid(name, "encryptionConfig needs resources ['secrets'] and a provider keyArn")
        cluster.encryption_config = encryption_config
        update = record(cluster, "AssociateEncryptionConfig", {"EncryptionConfig": encryption_config})
        return ActionResult({"update": update})

    def describe_update(self: Any) -> Any:
        name = self._get_param("name")
        update_id = self._get_param("updateId")
        cluster = self.eks_backend.describe_cluster(name=name)
        update = getattr(cluster, "twin_updates", {}).get(update_id)
        if update is None or self._get_param("nodegroupName") or self._get_param("addonName"):
            raise ResourceNotFoundException(clusterName=name, message=f"No update found for ID: {update_id}")
        return ActionResult({"update": update})

    EKSResponse.update_cluster_config = update_cluster_config
    EKSResponse.update_cluster_version = update_cluster_version
    EKSResponse.associate_encryption_config = associate_encryption_config
    EKSResponse.describe_update = describe_update
    for path in (
        "{0}/clusters/(?P<name>[^/]+)/updates$",
        "{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$",
        "{0}/clusters/(?P<name>[^/]+)/encryption-config/associate$",
    ):
        eks_urls.url_paths[path] = eks_urls.response.dispatch


def patch_iam_oidc_client_ids() -> None:
    """IAM AddClientIDToOpenIDConnectProvider / RemoveClientIDFromOpenIDConnectProvider work.

    AWS adds a client ID (audience) to an OpenID Connect provider's ClientIDList (no-op when it
    is already there; LimitExceeded beyond 100) and removes one (no-op when it is not there);
    both answer an empty result, and NoSuchEntity for an unknown provider ARN. moto 5.2.5 has
    neither action: NotImplementedError, answered as a 500 with an HTML body that botocore
    cannot parse (ResponseParserError), so mlinfra.gpu_platform.iam_oidc_provider failed
    whenever client_ids changed. Fixed by adding both actions to the IAM backend and response.
    """
    from moto.core.responses import EmptyResult
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse

    _require(IAMBackend, "get_open_id_connect_provider")
    _require(IamResponse, "_get_param")

    def add_client_id(self: Any, arn: str, client_id: str) -> None:
        provider = self.get_open_id_connect_provider(arn)  # NoSuchEntity for an unknown ARN
        if client_id in provider.client_id_list:
            return
        if len(provider.client_id_list) >= 100:
            raise LimitExceededException("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")
        provider.client_id_list = [*provider.client_id_list, client_id]

    def remove_client_id(self: Any, arn: str, client_id: str) -> None:
        provider = self.get_open_id_connect_provider(arn)
        provider.client_id_list = [c for c in provider.client_id_list if c != client_id]

    def add_response(self: Any) -> Any:
        self.backend.add_client_id_to_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID")
        )
        return EmptyResult()

    def remove_response(self: Any) -> Any:
        self.backend.remove_client_id_from_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID")
        )
        return EmptyResult()

    IAMBackend.add_client_id_to_open_id_connect_provider = add_client_id
    IAMBackend.remove_client_id_from_open_id_connect_provider = remove_client_id
    IamResponse.add_client_id_to_open_id_connect_provider = add_response
    IamResponse.remove_client_id_from_open_id_connect_provider = remove_response


EKS_NODEGROUP_SCALING_KEYS = ("minSize", "maxSize", "desiredSize")
# UpdateNodegroupConfig request member -> the update param types AWS reports for it.
EKS_NODEGROUP_UPDATE_PARAMS = {
    "labels": (("addOrUpdateLabels", "LabelsToAdd"), ("removeLabels", "LabelsToRemove")),
    "taints": (("addOrUpdateTaints", "TaintsToAdd"), ("removeTaints", "TaintsToRemove")),
    "scalingConfig": (("minSize", "MinSize"), ("maxSize", "MaxSize"), ("desiredSize", "DesiredSize")),
    "updateConfig": (
        ("maxUnavailable", "MaxUnavailable"),
        ("maxUnavailablePercentage", "MaxUnavailablePercentage"),
        ("updateStrategy", "UpdateStrategy"),
    ),
    "nodeRepairConfig": (("enabled", "NodeRepairEnabled"),),
}


def patch_eks_nodegroup_updates() -> None:
    """EKS: UpdateNodegroupConfig checks the sizes and its update is reported by DescribeUpdate.

    AWS answers UpdateNodegroupConfig with a ConfigUpdate whose params name what changes
    (LabelsToAdd, LabelsToRemove, TaintsToAdd, TaintsToRemove, MinSize, MaxSize, DesiredSize,
    MaxUnavailable, MaxUnavailablePercentage ...) and whose progress DescribeUpdate(name,
    updateId, nodegroupName) reports; it refuses (InvalidParameterException) sizes that break
    0 <= minSize <= desiredSize <= maxSize, maxSize >= 1 once merged with the current scaling
    config, and CreateNodegroup refuses them too (and a scalingConfig that lacks one of the
    three sizes). moto 5.2.5 kept no record of the update (DescribeUpdate with a nodegroupName:
    ResourceNotFoundException, so mlinfra.gpu_platform.eks_nodegroup could not wait for its
    updates), named the params Labels/Taints/ScalingConfig/UpdateConfig with Python reprs as
    values, and accepted any sizes. Fixed by checking the sizes, recording each update on its
    nodegroup with AWS's param names and answering DescribeUpdate for it; the emulated updates
    complete at once (Successful).
    """
    from moto.core.responses import ActionResult
    from moto.eks import urls as eks_urls
    from moto.eks.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    _require(EKSBackend, "describe_nodegroup")
    _require(EKSResponse, "create_nodegroup", "update_nodegroup_config", "_get_param")
    _require(eks_urls, "url_paths", "response")
    orig_create = EKSResponse.create_nodegroup
    orig_update = EKSResponse.update_nodegroup_config
    # patch_eks_cluster_updates adds DescribeUpdate for clusters; without it there is none.
    orig_describe_update = getattr(EKSResponse, "describe_update", None)

    def check_sizes(cluster: str, nodegroup: str, scaling: dict[str, Any]) -> None:
        low, high, desired = (scaling.get(k) for k in EKS_NODEGROUP_SCALING_KEYS)
        problem = None
        if low < 0:
            problem = f"minSize {low} must be at least 0"
        elif high < 1:
            problem = f"maxSize {high} must be at least 1"
        elif low > high:
            problem = f"minSize {low} can't be greater than maxSize {high}"
        elif not low <= desired <= high:
            problem = f"desiredSize {desired} must be between minSize {low} and maxSize {high}"
        if problem:
            raise InvalidParameterException(clusterName=cluster, nodegroupName=nodegroup, message=problem)

    def create_nodegroup(self: Any) -> Any:
        scaling = self._get_param("scalingConfig")
        if scaling:
            cluster, nodegroup = self._get_param("name"), self._get_param("nodegroupName")
            missing = [k for k in EKS_NODEGROUP_SCALING_KEYS if scaling.get(k) is None]
            if missing:
                raise InvalidParameterException(
                    clusterName=cluster,
                    nodegroupName=nodegroup,
                    message=f"scalingConfig needs all of minSize, maxSize and desiredSize or none; {missing} missing",
                )
            check_sizes(cluster, nodegroup, scaling)
        return orig_create(self)

    def update_nodegroup_config(self: Any) -> Any:
        cluster, name = self._get_param("name"), self._get_param("nodegroupName")
        nodegroup = self.eks_backend.describe_nodegroup(cluster_name=cluster, nodegroup_name=name)
        scaling = {k: v for k, v in (self._get_param("scalingConfig") or {}).items() if v is not None}
        if scaling:
            check_sizes(cluster, name, dict(nodegroup.scaling_config, **scaling))
        result = orig_update(self)
        update = result.result["update"]
        params = []
        for member, fields in EKS_NODEGROUP_UPDATE_PARAMS.items():
            sent = self._get_param(member) or {}
            for field, param_type in fields:
                value = sent.get(field)
                if value is None or value == [] or value == {}:
                    continue
                params.append({"type": param_type, "value": value if isinstance(value, str) else json.dumps(value)})
        update["params"] = params
        if not hasattr(nodegroup, "twin_updates"):
            nodegroup.twin_updates = {}
        nodegroup.twin_updates[update["id"]] = update
        return result

    def describe_update(self: Any) -> Any:
        name, update_id = self._get_param("name"), self._get_param("updateId")
        nodegroup_name = self._get_param("nodegroupName")
        if not nodegroup_name:
            if orig_describe_update is None:
                raise ResourceNotFoundException(clusterName=name, message=f"No update found for ID: {update_id}")
            return orig_describe_update(self)
        nodegroup = self.eks_backend.describe_nodegroup(cluster_name=name, nodegroup_name=nodegroup_name)
        update = getattr(nodegroup, "twin_updates", {}).get(update_id)
        if update is None:
            raise ResourceNotFoundException(
                clusterName=name, nodegroupName=nodegroup_name, message=f"No update found for ID: {update_id}"
            )
        return ActionResult({"update": update})

    EKSResponse.create_nodegroup = create_nodegroup
    EKSResponse.update_nodegroup_config = update_nodegroup_config
    EKSResponse.describe_update = describe_update
    eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$"] = eks_urls.response.dispatch


def patch_ec2_volume_snapshot_id() -> None:
    """EC2: every volume has a SnapshotId ("" when not created from a snapshot).

    AWS's DescribeVolumes (and CreateVolume) always return SnapshotId, an empty string for a
    blank volume. moto 5.2.5 stored None and left the field out, so amazon.aws.ec2_vol_info,
    which reads volume["snapshot_id"], failed with KeyError 'snapshot_id' as soon as one
    matching volume had not been created from a snapshot (every volume ec2_vol creates, and
    every instance root volume). Fixed by storing "" instead of None.
    """
    from moto.ec2.models.elastic_block_store import Volume

    _require(Volume, "__init__")
    original_init = Volume.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.snapshot_id is None:
            self.snapshot_id = ""

    Volume.__init__ = init


def patch_ec2_volume_attachment_delete_on_termination() -> None:
    """EC2: a volume's Attachments report DeleteOnTermination.

    AWS's DescribeVolumes lists DeleteOnTermination in each attachment. moto 5.2.5 left it
    out (it keeps the flag on the instance's block device mapping only). Fixed by reading it
    from the attached instance's mapping.
    """
    from moto.ec2.models.elastic_block_store import VolumeAttachment

    def delete_on_termination(self: Any) -> bool:
        for device in self.instance.block_device_mapping.values():
            if device.volume_id == self.volume.id:
                return bool(device.delete_on_termination)
        return False

    VolumeAttachment.delete_on_termination = property(delete_on_termination)


def patch_ec2_instance_interface_security_groups() -> None:
    """EC2: an instance launched with groups on its primary interface reports them.

    AWS's DescribeInstances (SecurityGroups) and DescribeInstanceAttribute groupSet list the
    groups of the instance's primary network interface. moto 5.2.5 reported only groups given
    at instance level, so an instance launched with NetworkInterfaces[0].Groups (how a launch
    from a template names its subnet) showed none, and amazon.aws.ec2_instance re-applied the
    groups with ModifyInstanceAttribute (changed) whenever it looked at such an instance.
    Fixed by taking the primary interface's groups when none were given at instance level.
    """
    from moto.ec2.models.instances import Instance

    _require(Instance, "prep_nics")
    original_prep_nics = Instance.prep_nics

    def prep_nics(self: Any, *args: Any, **kwargs: Any) -> None:
        original_prep_nics(self, *args, **kwargs)
        primary = self.nics.get(0)
        if not self.security_groups and primary is not None and primary._group_set:
            self.security_groups = list(primary._group_set)

    Instance.prep_nics = prep_nics


def patch_ec2_template_root_volume() -> None:
    """EC2: a launch template's mapping of the root device replaces the default root volume.

    On AWS a launch template (or RunInstances) block device mapping for the AMI's root device
    defines the root volume. moto 5.2.5 first attached its default 8 GiB root volume, then the
    template's volume on the same device: the default one was no longer mapped, so it was
    never deleted and stayed "in-use" on the terminated instance. Fixed by skipping the
    default root volume when the launch template maps the root device.
    """
    from moto.ec2.models.instances import Instance

    _require(Instance, "setup_defaults", "__init__")
    original_init = Instance.__init__
    original_setup_defaults = Instance.setup_defaults

    def init(self: Any, ec2_backend: Any, image_id: str, user_data: Any, security_groups: Any, **kwargs: Any) -> None:
        original_init(self, ec2_backend, image_id, user_data, security_groups, **kwargs)
        self._twin_template_maps_root = False
        if kwargs.get("launch_template") and "block_device_mappings" not in kwargs:
            data = ec2_backend._get_template_from_args(kwargs["launch_template"]).data
            devices = {m.get("DeviceName") for m in data.get("BlockDeviceMappings") or []}
            self._twin_template_maps_root = self.root_device_name in devices

    def setup_defaults(self: Any) -> None:
        if not getattr(self, "_twin_template_maps_root", False):
            original_setup_defaults(self)

    Instance.__init__ = init
    Instance.setup_defaults = setup_defaults


def patch_eks_list_unknown_cluster() -> None:
    """EKS: ListNodegroups / ListFargateProfiles of an unknown cluster: ResourceNotFoundException.

    AWS answers ListNodegroups and ListFargateProfiles for a cluster that does not exist with
    ResourceNotFoundException (404, "No cluster found for name: NAME."). moto 5.2.5 looked the
    cluster up in its table unguarded: 500 KeyError. Fixed by checking the cluster first.
    """
    from moto.eks.exceptions import ResourceNotFoundException
    from moto.eks.models import CLUSTER_NOT_FOUND_MSG, EKSBackend

    names = ("list_nodegroups", "list_fargate_profiles")
    _require(EKSBackend, *names)

    def guarded(orig: Callable[..., Any]) -> Callable[..., Any]:
        def method(self: Any, cluster_name: str, *args: Any, **kwargs: Any) -> Any:
            if cluster_name not in self.clusters:
                raise ResourceNotFoundException(
                    clusterName=cluster_name,
                    nodegroupName=None,
                    fargateProfileName=None,
                    addonName=None,
                    message=CLUSTER_NOT_FOUND_MSG.format(clusterName=cluster_name),
                )
            return orig(self, cluster_name, *args, **kwargs)

        return method

    for name in names:
        setattr(EKSBackend, name, guarded(getattr(EKSBackend, name)))


def patch_eks_cluster_identity() -> None:
    """EKS: each cluster has its own OIDC issuer, its VPC and a cluster security group.

    AWS gives every cluster its own OIDC issuer
    (https://oidc.eks.REGION.amazonaws.com/id/ + 32 upper-case hex digits) and reports in
    resourcesVpcConfig the vpcId of its subnets and the clusterSecurityGroupId of the
    security group it creates in that VPC (eks-cluster-sg-NAME-RANDOM, tagged
    aws:eks:cluster-name=NAME and kubernetes.io/cluster/NAME=owned), which it deletes with
    the cluster. moto 5.2.5 gave every cluster the same issuer (one random suffix per
    process, so IAM OIDC providers of two clusters collided), and no vpcId or cluster
    security group. Fixed in CreateCluster / DeleteCluster of the backend (no group when the
    cluster's subnets are unknown to EC2).
    """
    from moto.ec2.models import ec2_backends
    from moto.eks.models import EKSBackend
    from moto.moto_api._internal import mock_random as random

    _require(EKSBackend, "create_cluster", "delete_cluster")
    _require(random, "get_random_hex", "get_random_string")
    orig_create, orig_delete = EKSBackend.create_cluster, EKSBackend.delete_cluster

    def create_cluster(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        cluster = orig_create(self, name, *args, **kwargs)
        issuer = f"https://oidc.eks.{self.region_name}.amazonaws.com/id/{random.get_random_hex(32).upper()}"
        cluster.identity = {"oidc": {"issuer": issuer}}
        vpc_config = cluster.resources_vpc_config
        ec2 = ec2_backends[self.account_id][self.region_name]
        subnet_ids = vpc_config.get("subnetIds") or []
        try:
            vpc_id = ec2.describe_subnets(subnet_ids=subnet_ids[:1])[0].vpc_id if subnet_ids else None
        except Exception:  # an unknown subnet: moto's EKS never checked them
            vpc_id = None
        if vpc_id:
            suffix = random.get_random_string(10, include_digits=True, lower_case=True)
            group = ec2.create_security_group(
                name=f"eks-cluster-sg-{name}-{suffix}",
                description="EKS created security group applied to ENI that is attached to EKS Control Plane"
                " master nodes, as well as any managed workloads.",
                vpc_id=vpc_id,
                tags={"aws:eks:cluster-name": name, f"kubernetes.io/cluster/{name}": "owned"},
            )
            vpc_config["vpcId"], vpc_config["clusterSecurityGroupId"] = vpc_id, group.id
        return cluster

    def delete_cluster(self: Any, name: str) -> Any:
        cluster = orig_delete(self, name)
        group_id = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
        if group_id:
            try:
                ec2_backends[self.account_id][self.region_name].delete_security_group(group_id=group_id)
            except Exception as e:  # already deleted, or still in use
                LOG.warning("cluster security group %s of EKS cluster %s not deleted: %s", group_id, name, e)
        return cluster

    EKSBackend.create_cluster, EKSBackend.delete_cluster = create_cluster, delete_cluster


# --------------------------------------------------------------------------------------
# The EKS endpoint: the twin's Kubernetes API (twin/k8s_api.py). Not an emulator gap fix but
# the wiring of the two servers; kept apart from the gap patches above.
# --------------------------------------------------------------------------------------


def twin_k8s_url() -> str:
    """The twin's Kubernetes API: $TWIN_K8S_URL (twinctl sets it), else
    http://127.0.0.1:<moto's port + 1000> (- 1000 above 65535), the same rule as twinctl."""
    url = os.environ.get("TWIN_K8S_URL")
    if url:
        return url.rstrip("/")
    port = int(os.environ.get("MOTO_PORT") or os.environ.get("TWIN_AWS_PORT") or "5000")
    return f"http://127.0.0.1:{port + 1000 if port <= 64535 else port - 1000}"


def _post_k8s_admin(path: str, body: dict[str, Any]) -> None:
    """POST to the twin's Kubernetes API, best effort, loopback only, no proxy."""
    import urllib.parse
    import urllib.request

    url = twin_k8s_url()
    if not is_loopback_host(urllib.parse.urlsplit(url).hostname or ""):
        LOG.warning("TWIN_K8S_URL %s is not a loopback address: nodes not synced", url)
        return
    req = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5).read()
    except Exception as e:  # the k8s API is not running: the AWS side must still work
        LOG.warning("twin k8s API %s%s not reached: %s", url, path, e)


def sync_eks_cluster_to_k8s(backend: Any, cluster_name: str, deleted: bool = False) -> None:
    """Tell the twin's Kubernetes API the cluster's version and the nodes its managed node
    groups run (POST /_twin/nodes): nodegroups as DescribeNodegroup describes them, with
    moto's EC2 instance-type data (vCPUs, memory, GPUs) and the zones of their subnets."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    cluster = backend.clusters.get(cluster_name)
    groups = [] if deleted or cluster is None else list(cluster.nodegroups.values())
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    nodegroups, types, zones = [], {}, {}
    for ng in groups:
        if getattr(ng, "status", "ACTIVE") == "DELETING":
            continue
        for t in ng.instance_types or []:
            if t in INSTANCE_TYPES:
                types[t] = {k: INSTANCE_TYPES[t].get(k) for k in ("VCpuInfo", "MemoryInfo", "GpuInfo", "ProcessorInfo")}
        for subnet in ng.subnets or []:
            try:
                zones[subnet] = ec2.get_subnet(subnet).availability_zone
            except Exception:  # a subnet moto's EC2 does not know: default zones
                pass
        nodegroups.append(
            {
                "nodegroupName": ng.nodegroup_name,
                "version": ng.version,
                "capacityType": ng.capacity_type,
                "instanceTypes": ng.instance_types,
                "scalingConfig": dict(ng.scaling_config or {}),
                "labels": dict(ng.labels or {}),
                "taints": list(ng.taints or []),
                "subnets": list(ng.subnets or []),
                "diskSize": ng.disk_size,
                "amiType": ng.ami_type,
                "launchTemplate": dict(ng.launch_template or {}),
            }
        )
    body = {"cluster": cluster_name, "region": backend.region_name, "nodegroups": nodegroups,
            "instanceTypes": types, "subnetZones": zones}  # fmt: skip
    if cluster is not None and not deleted:
        body["version"] = str(cluster.version)
    _post_k8s_admin("/_twin/nodes", body)


def patch_eks_k8s_endpoint() -> None:
    """EKS: a cluster's endpoint is the twin's Kubernetes API, which registers its nodes.

    On AWS a cluster's endpoint is its Kubernetes API server, and the nodes of its managed
    node groups register there (labelled with the node group, capacity type, instance type
    and zone; the group's labels and taints; GPUs as nvidia.com/gpu). moto 5.2.5 reported
    a made-up https://...eks.amazonaws.com endpoint that nothing serves. Fixed: CreateCluster
    sets endpoint to twin_k8s_url() (TWIN_K8S_URL, else moto's port + 1000), and
    Create/DeleteCluster, Create/Update/DeleteNodegroup and UpdateClusterVersion sync the
    cluster's version and nodes to it (POST /_twin/nodes; best effort: a warning if it is down).
    """
    from moto.eks.models import EKSBackend
    from moto.eks.responses import EKSResponse

    names = ("create_cluster", "delete_cluster", "create_nodegroup", "delete_nodegroup", "update_nodegroup_config")
    _require(EKSBackend, *names)
    _require(EKSResponse, "update_cluster_version")

    def create_cluster(orig: Callable) -> Callable:
        def method(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            cluster = orig(self, name, *args, **kwargs)
            cluster.endpoint = twin_k8s_url()
            sync_eks_cluster_to_k8s(self, name)
            return cluster

        return method

    def syncing(orig: Callable, deleted: bool = False) -> Callable:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig(self, *args, **kwargs)
            cluster_name = kwargs.get("cluster_name") or kwargs.get("name") or args[0]
            sync_eks_cluster_to_k8s(self, cluster_name, deleted=deleted)
            return result

        return method

    EKSBackend.create_cluster = create_cluster(EKSBackend.create_cluster)
    EKSBackend.delete_cluster = syncing(EKSBackend.delete_cluster, deleted=True)
    for name in ("create_nodegroup", "delete_nodegroup", "update_nodegroup_config"):
        setattr(EKSBackend, name, syncing(getattr(EKSBackend, name)))

    orig_update_version = EKSResponse.update_cluster_version

    def update_cluster_version(self: Any) -> Any:
        result = orig_update_version(self)
        sync_eks_cluster_to_k8s(self.eks_backend, self._get_param("name"))
        return result

    EKSResponse.update_cluster_version = update_cluster_version


PATCHES: list[Callable[[], None]] = [
    patch_kms_key_arn,
    patch_ec2_tag_resource_types,
    patch_eks_nodegroup_update_config,
    patch_eks_nodegroup_tags,
    patch_ec2_delete_launch_template_versions,
    patch_ec2_launch_template_version_data,
    patch_autoscaling_metrics_collection,
    patch_autoscaling_tag_order,
    patch_ec2_rule_description_updates,
    patch_eks_cluster_create_defaults,
    patch_eks_cluster_updates,
    patch_iam_oidc_client_ids,
    patch_eks_nodegroup_updates,
    patch_ec2_volume_snapshot_id,
    patch_ec2_volume_attachment_delete_on_termination,
    patch_ec2_instance_interface_security_groups,
    patch_ec2_template_root_volume,
    patch_eks_list_unknown_cluster,
    patch_eks_cluster_identity,
    patch_eks_k8s_endpoint,  # the wiring to twin/k8s_api.py, not a gap fix
]


def apply_patches(skip: Iterable[str] = ()) -> list[str]:
    names = {p.__name__ for p in PATCHES}
    unknown = set(skip) - names
    if unknown:
        raise SystemExit(f"twin: unknown patch(es) {sorted(unknown)}; known: {sorted(names)}")
    applied = []
    for patch in PATCHES:
        if patch.__name__ in skip:
            LOG.warning("patch skipped: %s", patch.__name__)
            continue
        patch()
        summary = (patch.__doc__ or "").strip().splitlines()[0]
        LOG.info("patch applied: %s: %s", patch.__name__, summary)
        applied.append(patch.__name__)
    return applied


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("TWIN_AWS_PORT", "5000")),
        help="port (default $TWIN_AWS_PORT or 5000)",
    )
    parser.add_argument(
        "--no-patches",
        action="store_true",
        help="serve moto as it is (to reproduce the emulator gaps); not for normal use",
    )
    parser.add_argument(
        "--skip-patch",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out one patch (repeatable; to reproduce a single gap)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s twin: %(message)s", stream=sys.stderr)

    if not is_loopback_host(args.host):
        print(
            f"twin: refusing to bind to non-loopback host {args.host!r}: the twin serves only "
            "127.0.0.0/8, ::1 or localhost",
            file=sys.stderr,
        )
        return 2

    args.host = args.host.strip("[]")

    # Must be set before moto is imported: moto.settings reads it for the IAM backend.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    os.environ["MOTO_PORT"] = str(args.port)  # moto builds some URLs (e.g. SQS queues) from it

    try:
        import moto
    except ImportError:
        print(
            f"twin: moto is not installed for {sys.executable}; run scripts/bootstrap.sh --dev "
            "(or set TWIN_PYTHON to an interpreter that has moto[server]=="
            f"{PINNED_MOTO_VERSION})",
            file=sys.stderr,
        )
        return 3

    if moto.__version__ != PINNED_MOTO_VERSION:
        print(
            f"twin: moto {moto.__version__} is installed but the twin's patches are written for "
            f"moto {PINNED_MOTO_VERSION}; install moto[server]=={PINNED_MOTO_VERSION} "
            "(scripts/bootstrap.sh --dev) or review the patches in twin/moto_server.py",
            file=sys.stderr,
        )
        return 3

    from werkzeug.serving import run_simple

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    applied = [] if args.no_patches else apply_patches(args.skip_patch)
    if args.no_patches:
        LOG.warning("--no-patches: serving moto %s without the twin's patches", moto.__version__)

    if not args.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = TwinMiddleware(DomainDispatcherApplication(create_backend_app), moto.__version__, applied)

    def stop(signum: int, frame: Any) -> None:
        LOG.info("stopping (signal %d)", signum)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host_url = f"[{args.host}]" if ":" in args.host else args.host
    LOG.info(
        "moto %s on http://%s:%d (pid %d, %d patches)", moto.__version__, host_url, args.port, os.getpid(), len(applied)
    )
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
