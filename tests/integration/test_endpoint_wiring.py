"""Every AWS module the project calls takes the twin's endpoint from module_defaults.

The plays set module_defaults for the `aws` action groups of amazon.aws, community.aws and
this collection, from one variable. A module outside those groups would silently ignore it
and reach the real AWS from env=local: this test fails if any task uses one.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / ".venv" / "lib"
MODULE_RE = re.compile(r"^\s*-?\s*((amazon\.aws|community\.aws|mlinfra\.gpu_platform)\.[a-z0-9_]+):", re.M)
NOT_AWS = {"mlinfra.gpu_platform.platform"}


def action_group(collection: str, group: str = "aws") -> set[str]:
    if collection == "mlinfra.gpu_platform":
        runtime = REPO / "meta" / "runtime.yml"
    else:
        ns, name = collection.split(".")
        runtime = next(SITE.glob(f"python3*/site-packages/ansible_collections/{ns}/{name}/meta/runtime.yml"))
    groups = yaml.safe_load(runtime.read_text())["action_groups"][group]
    return {g if "." in g else f"{collection}.{g}" for g in groups if isinstance(g, str)}


GCP_MODULE_RE = re.compile(r"^\s*-?\s*((google\.cloud|mlinfra\.gpu_platform)\.gcp_[a-z0-9_]+):", re.M)


def used_modules(regex: re.Pattern) -> set[str]:
    files = list((REPO / "roles").rglob("*.yml")) + list((REPO / "playbooks").rglob("*.yml"))
    return {m[0] for f in files for m in regex.findall(f.read_text())}


def test_every_aws_module_is_in_an_action_group_with_module_defaults():
    # Our GCP modules are in the gcp group instead (next test).
    used = used_modules(MODULE_RE) - NOT_AWS - action_group("mlinfra.gpu_platform", "gcp")
    assert len(used) > 20
    grouped = set().union(*(action_group(c) for c in ("amazon.aws", "community.aws", "mlinfra.gpu_platform")))
    assert sorted(used - grouped) == []


def test_every_gcp_module_is_in_an_action_group_with_module_defaults():
    """The GCP modules take project and credentials from module_defaults of the gcp groups: one
    outside them would run with the environment's default credentials and project."""
    used = used_modules(GCP_MODULE_RE)
    assert {"google.cloud.gcp_compute_network", "mlinfra.gpu_platform.gcp_compute_gpu_instance"} <= used
    grouped = action_group("google.cloud", "gcp") | action_group("mlinfra.gpu_platform", "gcp")
    assert sorted(used - grouped) == []
    for path in (REPO / "playbooks").glob("*.yml"):
        for play in yaml.safe_load(path.read_text()) or []:
            if "gcp_layers" == play.get("hosts"):
                defaults = play.get("module_defaults", {})
                assert defaults.get("group/google.cloud.gcp") == "{{ platform_gcp_module_defaults }}", path
                assert defaults.get("group/mlinfra.gpu_platform.gcp") == "{{ platform_gcp_module_defaults }}", path
                assert play.get("environment") == "{{ platform_gcp_module_environment }}", path


def test_every_aws_play_sets_the_module_defaults():
    for path in (REPO / "playbooks").glob("*.yml"):
        for play in yaml.safe_load(path.read_text()) or []:
            text = yaml.safe_dump(play)
            if MODULE_RE.search(text) or "platform_layer" in text:
                defaults = play.get("module_defaults", {})
                assert defaults.get("group/amazon.aws.aws") == "{{ platform_aws_module_defaults }}", path
