"""Run the project's playbooks against the twin and read the twin back with boto3.

Shared by the platform tests and bench/run.py. Nothing here asserts: it runs and reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.M,
)


@dataclass
class Run:
    rc: int
    output: str
    seconds: float
    recap: dict = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    @property
    def failed(self) -> int:
        return sum(h["failed"] + h["unreachable"] for h in self.recap.values())


class Twin:
    """The twin's AWS control plane on its own port, driven through twin/twinctl."""

    def __init__(self, port: int = 5077):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "TWIN_AWS_PORT": str(port)}
        for var in [v for v in self.env if v.startswith("AWS_")]:
            del self.env[var]

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REPO / "twin" / "twinctl"), *args], env=self.env, capture_output=True, text=True, check=False
        )

    def up(self) -> None:
        res = self.ctl("up")
        if res.returncode != 0:
            raise RuntimeError(f"twinctl up failed: {res.stdout}{res.stderr}")

    def down(self) -> None:
        self.ctl("down")

    def reset(self) -> None:
        res = self.ctl("reset")
        if res.returncode != 0:
            raise RuntimeError(f"twinctl reset failed: {res.stdout}{res.stderr}")

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_twin/stats", timeout=5) as resp:
            return int(json.loads(resp.read())["requests"])

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def playbook(self, playbook: str, *args: str, env: dict | None = None) -> Run:
        """ansible-playbook <playbook> -e env=local with the endpoint on this twin's port."""
        return run_playbook(
            playbook, "-e", "env=local", "-e", f"platform_aws_endpoint_url={self.url}", *args, env=env
        )


def run_playbook(playbook: str, *args: str, env: dict | None = None) -> Run:
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run_env.update({"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_FORCE_COLOR": "0"})
    run_env.update(env or {})
    start = time.monotonic()
    res = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), playbook, *args],
        cwd=REPO, env=run_env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )
    seconds = time.monotonic() - start
    output = res.stdout + res.stderr
    recap = {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
        for m in RECAP_RE.finditer(output)
    }
    return Run(res.returncode, output, seconds, recap)


def tags_dict(tags: list | None) -> dict:
    return {t["Key"]: t["Value"] for t in tags or []}
