# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional check of mlinfra.gpu_platform.ec2_vpc_flow_log against a local moto server.

Starts its own ``python -m moto.server`` on a free loopback port (it does not use twin/), creates
the VPC, log group and IAM role with boto3, runs the module through the ``ansible`` ad-hoc CLI from
the repository root and reads the state back with boto3 after every step.

Run: cd /work/main && .venv/bin/python -m pytest tests/integration/test_flow_log_module.py -q
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(REPO_ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(os.path.join(VENV_BIN, "python")) else sys.executable
ANSIBLE = os.path.join(VENV_BIN, "ansible")
MODULE = "mlinfra.gpu_platform.ec2_vpc_flow_log"
REGION = "us-west-2"

TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aws_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
    )
    return env


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_aws_env(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited with {proc.returncode}: {log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"moto server did not answer on {url}: {log_path.read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def aws(endpoint):
    kwargs = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    clients = {name: boto3.client(name, **kwargs) for name in ("ec2", "logs", "iam")}
    role = clients["iam"].create_role(RoleName="vpc-flow-logs", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    role2 = clients["iam"].create_role(RoleName="vpc-flow-logs-2", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    clients["role"] = role
    clients["role2"] = role2
    return clients


def new_vpc(aws, cidr):
    return aws["ec2"].create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def new_log_group(aws, name):
    aws["logs"].create_log_group(logGroupName=name)
    return name


def flow_logs_on(aws, vpc_id):
    return aws["ec2"].describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def tags_of(flow_log):
    return {t["Key"]: t["Value"] for t in flow_log.get("Tags") or []}


def run_module(endpoint, args, check=False, diff=False):
    """Run the module with the ansible ad-hoc CLI; returns the host result dict."""
    cmd = [ANSIBLE, "localhost", "-m", MODULE, "-a", json.dumps(dict(args, endpoint_url=endpoint))]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=_aws_env(), capture_output=True, text=True, timeout=180)
    try:
        # raw_decode: aggregate callbacks enabled in ansible.cfg (profile_tasks) may print after the JSON
        output, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
        result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"unparsable ansible output (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return result


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def test_lifecycle(endpoint, aws):
    vpc = new_vpc(aws, "10.10.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/lifecycle")
    args = dict(
        resource_id=vpc,
        log_group_name=group,
        deliver_logs_permission_arn=aws["role"],
        tags={"Name": "lifecycle", "env": "test"},
    )

    # create
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    fl_id = result["flow_log"]["flow_log_id"]
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [fl_id]
    assert actual[0]["LogGroupName"] == group
    assert actual[0]["DeliverLogsPermissionArn"] == aws["role"]
    assert actual[0]["TrafficType"] == "ALL"
    assert actual[0]["MaxAggregationInterval"] == 600
    # moto 5.2.5 honours TagSpecifications (ResourceType vpc-flow-log) and returns Tags
    assert tags_of(actual[0]) == {"Name": "lifecycle", "env": "test"}
    assert result["flow_log"]["tags"] == {"Name": "lifecycle", "env": "test"}

    # re-run: idempotent
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    assert result["flow_log"]["flow_log_id"] == fl_id
    assert [fl["FlowLogId"] for fl in flow_logs_on(aws, vpc)] == [fl_id]

    # tags updated in place (same flow log ID)
    result = run_module(endpoint, dict(args, tags={"Name": "lifecycle", "owner": "ml"}))
    assert_ok(result)
    assert result["changed"] is True
    assert result["replaced"] is False
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [fl_id]
    assert tags_of(actual[0]) == {"Name": "lifecycle", "owner": "ml"}
    result = run_module(endpoint, dict(args, tags={"Name": "lifecycle", "owner": "ml"}))
    assert_ok(result)
    assert result["changed"] is False

    # deliver role differs: replaced (new ID), tags carried over when not given
    replace_args = dict(args, deliver_logs_permission_arn=aws["role2"])
    del replace_args["tags"]
    result = run_module(endpoint, replace_args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["replaced"] is True
    assert result["replaced_flow_log_id"] == fl_id
    assert result["replaced_because"] == ["deliver_logs_permission_arn"]
    new_id = result["flow_log"]["flow_log_id"]
    assert new_id != fl_id
    actual = flow_logs_on(aws, vpc)
    assert [fl["FlowLogId"] for fl in actual] == [new_id]
    assert actual[0]["DeliverLogsPermissionArn"] == aws["role2"]
    assert tags_of(actual[0]) == {"Name": "lifecycle", "owner": "ml"}
    result = run_module(endpoint, replace_args)
    assert_ok(result)
    assert result["changed"] is False

    # absent
    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["deleted_flow_log_ids"] == [new_id]
    assert flow_logs_on(aws, vpc) == []

    # absent again: no-op (by resource and by the old ID)
    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group))
    assert_ok(result)
    assert result["changed"] is False
    result = run_module(endpoint, dict(state="absent", flow_log_id=new_id))
    assert_ok(result)
    assert result["changed"] is False


def test_check_mode_create_creates_nothing(endpoint, aws):
    vpc = new_vpc(aws, "10.20.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/check-mode")
    args = dict(resource_id=vpc, log_group_name=group, deliver_logs_permission_arn=aws["role"], tags={"Name": "cm"})

    result = run_module(endpoint, args, check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert "flow_log_id" not in result["flow_log"]
    assert flow_logs_on(aws, vpc) == []

    # and check mode delete of a real one deletes nothing
    result = run_module(endpoint, args)
    assert_ok(result)
    fl_id = result["flow_log"]["flow_log_id"]
    result = run_module(endpoint, dict(state="absent", flow_log_id=fl_id), check=True)
    assert_ok(result)
    assert result["changed"] is True
    assert [fl["FlowLogId"] for fl in flow_logs_on(aws, vpc)] == [fl_id]
    result = run_module(endpoint, dict(state="absent", flow_log_id=fl_id))
    assert_ok(result)
    assert result["changed"] is True
    assert flow_logs_on(aws, vpc) == []


def test_s3_missing_bucket_is_reported(endpoint, aws):
    """moto reports a missing bucket as an Unsuccessful entry (no exception): the module must fail."""
    vpc = new_vpc(aws, "10.30.0.0/16")
    result = run_module(
        endpoint,
        dict(resource_id=vpc, log_destination_type="s3", log_destination="arn:aws:s3:::no-such-flow-log-bucket"),
    )
    assert result.get("failed") is True
    assert "does not exist" in result["msg"]
    assert flow_logs_on(aws, vpc) == []


def test_log_group_arn_and_name_are_the_same_destination(endpoint, aws):
    """Created with log_destination (log group ARN), found again with log_group_name.

    moto 5.2.5 stores only what was sent: LogDestination without LogGroupName here (and it marks
    DeliverLogsStatus FAILED / "Access error" because it looks the group up by the missing name).
    """
    vpc = new_vpc(aws, "10.40.0.0/16")
    group = new_log_group(aws, "/vpc/flow-logs/by-arn")
    group_arn = aws["logs"].describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["arn"]
    assert group_arn.endswith(":*")

    result = run_module(
        endpoint, dict(resource_id=vpc, log_destination=group_arn, deliver_logs_permission_arn=aws["role"])
    )
    assert_ok(result)
    assert result["changed"] is True
    fl_id = result["flow_log"]["flow_log_id"]

    for args in (
        dict(resource_id=vpc, log_group_name=group, deliver_logs_permission_arn=aws["role"]),
        dict(resource_id=vpc, log_destination=group_arn[:-2], deliver_logs_permission_arn=aws["role"]),
    ):
        result = run_module(endpoint, args)
        assert_ok(result)
        assert result["changed"] is False, args
        assert result["flow_log"]["flow_log_id"] == fl_id

    result = run_module(endpoint, dict(state="absent", resource_id=vpc, log_group_name=group))
    assert_ok(result)
    assert result["changed"] is True
    assert flow_logs_on(aws, vpc) == []
