"""Run the project's playbooks and modules against the twin and read the twin back with boto3.

Shared by the integration tests (through tests/conftest.py, which puts this directory on
sys.path) and bench/run.py: the twin on a port and state directory of its own (Twin,
free_port), playbook runs with their PLAY RECAP (run_playbook, play_role) and ad-hoc module
runs returning the module's result (run_module, module_runner). Nothing here asserts: it runs
and reads (an ad-hoc run whose output cannot be parsed raises AnsibleOutputError).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
REGION = "us-west-2"
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

    def __init__(self, port: int = 5077, state_dir: str | os.PathLike | None = None):
        """state_dir: where twinctl keeps the pid file and log (TWIN_STATE_DIR; default <repo>/.twin)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "TWIN_AWS_PORT": str(port)}
        if state_dir is not None:
            self.env["TWIN_STATE_DIR"] = str(state_dir)
        for var in [v for v in self.env if v.startswith("AWS_")]:
            del self.env[var]

    def ctl(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REPO / "twin" / "twinctl"), *args], env=self.env, capture_output=True, text=True, check=False,
            timeout=timeout,
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

    @property
    def gcp_url(self) -> str:
        """The twin's GCP API (twinctl: the AWS port + 2000)."""
        port = self.port + 2000 if self.port <= 63535 else self.port - 2000
        return f"http://127.0.0.1:{port}"

    def gcp_requests(self) -> int:
        """Requests the twin's GCP API has served (its /_twin/stats counter)."""
        with urllib.request.urlopen(f"{self.gcp_url}/_twin/stats", timeout=5) as resp:
            return int(json.loads(resp.read())["requests"])

    def gcp(self, path: str, host: str = "compute.googleapis.com", method: str = "GET", body: dict | None = None):
        """A Google API call on the twin's GCP API (path as on the real host); None on 404."""
        req = urllib.request.Request(
            f"{self.gcp_url}/{path.lstrip('/')}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Twin-Original-Host": host, "Content-Type": "application/json", "Authorization": "Bearer test"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def client(self, service: str, **kwargs):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def playbook(self, playbook: str, *args: str, env: dict | None = None) -> Run:
        """ansible-playbook <playbook> -e env=local with the endpoint on this twin's port."""
        return run_playbook(
            playbook, "-e", "env=local", "-e", f"platform_aws_endpoint_url={self.url}", *args, env=env
        )


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AnsibleOutputError(AssertionError):
    """The ansible CLI printed nothing the json callback could have written."""


def adhoc_env() -> dict:
    """Environment for `ansible` ad-hoc runs: test credentials only, the repo's ansible.cfg, JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
    )
    return env


def run_module(module: str, args: dict, check: bool = False, diff: bool = False, timeout: float = 180) -> dict:
    """`ansible localhost -m MODULE -a JSON` from the repository root; returns the host result dict."""
    cmd = [str(VENV_BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO, env=adhoc_env(), capture_output=True, text=True, timeout=timeout)
    try:
        # raw_decode: aggregate callbacks enabled in ansible.cfg (profile_tasks) may print after the JSON
        output, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
        return output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AnsibleOutputError(
            f"unparsable ansible output (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        ) from None


def module_runner(module: str):
    """run_module for one module: run(endpoint, args, check=False, diff=False) -> host result dict."""

    def run(endpoint: str, args: dict, check: bool = False, diff: bool = False) -> dict:
        """Run the module with the ansible ad-hoc CLI against endpoint; returns the host result dict."""
        return run_module(module, dict(args, endpoint_url=endpoint), check=check, diff=diff)

    return run


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


ROLE_RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


@dataclass
class RoleRun:
    """One run of a role's test playbook: localhost's PLAY RECAP and the outputs file it wrote."""

    rc: int
    output: str
    recap: dict[str, int]
    outputs: dict | None
    seconds: float
    tail: int = field(default=6000, repr=False)

    def explain(self) -> str:
        return f"rc={self.rc} recap={self.recap} ({self.seconds:.1f}s)\n--- output (tail) ---\n{self.output[-self.tail:]}"


def play_role(
    playbook: str,
    extra: dict,
    workdir: Path,
    run_no: int,
    outputs_file: Path,
    check: bool = False,
    keep_log: bool = False,
    tail: int = 6000,
) -> RoleRun:
    """ansible-playbook <playbook> -e @<extra vars file> from the repository root.

    extra: the variables (None values are left out); they go to workdir/extra-vars-<run_no>.json.
    No AWS_* or ANSIBLE_* variable is passed on: only the playbook's module_defaults may point the
    modules anywhere. keep_log writes the output to workdir/run-<run_no>.log.
    """
    vars_file = workdir / f"extra-vars-{run_no}.json"
    vars_file.write_text(json.dumps({k: v for k, v in extra.items() if v is not None}))
    cmd = [str(VENV_BIN / "ansible-playbook"), playbook, "-e", f"@{vars_file}"]
    if check:
        cmd.append("--check")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{env.get('PATH', '')}")
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if keep_log:
        (workdir / f"run-{run_no}.log").write_text(output)
    recaps = {
        m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"} for m in ROLE_RECAP_RE.finditer(output)
    }
    outputs = json.loads(outputs_file.read_text()) if outputs_file.exists() else None
    return RoleRun(proc.returncode, output, recaps.get("localhost", {}), outputs, seconds, tail)
