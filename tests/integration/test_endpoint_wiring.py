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


def action_group(collection: str) -> set[str]:
    if collection == "mlinfra.gpu_platform":
        runtime = REPO / "meta" / "runtime.yml"
    else:
        ns, name = collection.split(".")
        runtime = next(SITE.glob(f"python3*/site-packages/ansible_collections/{ns}/{name}/meta/runtime.yml"))
    groups = yaml.safe_load(runtime.read_text())["action_groups"]["aws"]
    return {g if "." in g else f"{collection}.{g}" for g in groups if isinstance(g, str)}


def test_every_aws_module_is_in_an_action_group_with_module_defaults():
    files = list((REPO / "roles").rglob("*.yml")) + list((REPO / "playbooks").glob("*.yml"))
    used = {m[0] for f in files for m in MODULE_RE.findall(f.read_text())} - NOT_AWS
    assert len(used) > 20
    grouped = set().union(*(action_group(c) for c in ("amazon.aws", "community.aws", "mlinfra.gpu_platform")))
    assert sorted(used - grouped) == []


def test_every_aws_play_sets_the_module_defaults():
    for path in (REPO / "playbooks").glob("*.yml"):
        for play in yaml.safe_load(path.read_text()) or []:
            text = yaml.safe_dump(play)
            if MODULE_RE.search(text) or "platform_layer" in text:
                defaults = play.get("module_defaults", {})
                assert defaults.get("group/amazon.aws.aws") == "{{ platform_aws_module_defaults }}", path
