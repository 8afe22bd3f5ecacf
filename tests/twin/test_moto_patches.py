"""Tests of the twin's AWS control plane: twin/moto_server.py (its patches of moto 5.2.5 and its
request counter) and twin/twinctl.

A module-scoped twin is started with `twin/twinctl up` on a free loopback port (state in a
temporary directory) and stopped at the end. Each emulator gap has a boto3 test asserting
what AWS does; the gaps that broke an Ansible module's idempotence are also checked by
running the module twice with ansible-playbook against the twin.

To see the gaps fail, run the suite against an unpatched server:
TWIN_TEST_LAUNCHER_ARGS=--no-patches (the fixture then starts the launcher directly).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = os.environ.get("TWIN_PYTHON", str(VENV_BIN / "python"))
TWINCTL = ROOT / "twin" / "twinctl"
LAUNCHER = ROOT / "twin" / "moto_server.py"
REGION = "us-west-2"
EXTRA_LAUNCHER_ARGS = shlex.split(os.environ.get("TWIN_TEST_LAUNCHER_ARGS", ""))

sys.path.insert(0, str(ROOT / "twin"))
import moto_server  # noqa: E402  (the launcher imports moto only in main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twinctl(*args: str, port: int, state_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, TWIN_AWS_PORT=str(port), TWIN_STATE_DIR=str(state_dir), TWIN_PYTHON=PYTHON)
    return subprocess.run([str(TWINCTL), *args], env=env, capture_output=True, text=True, timeout=timeout)


def http(method: str, url: str) -> dict:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode() or "null")


def process_alive(pid: int) -> bool:
    """Running (a zombie that init has not reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Twin:
    def __init__(self, port: int, state_dir: Path):
        self.port = port
        self.state_dir = state_dir
        self.url = f"http://127.0.0.1:{port}"

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )

    def reset(self) -> None:
        http("POST", f"{self.url}/moto-api/reset")
        http("POST", f"{self.url}/_twin/stats/reset")

    def stats(self) -> dict:
        return http("GET", f"{self.url}/_twin/stats")


@pytest.fixture(scope="module", autouse=True)
def aws_env():
    with pytest.MonkeyPatch.context() as mp:
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(var, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        yield


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    port = free_port()
    state_dir = tmp_path_factory.mktemp("twin-state")
    if EXTRA_LAUNCHER_ARGS:
        # Debug mode: start the launcher directly with extra arguments (e.g. --no-patches).
        log = open(state_dir / "moto.log", "w")
        proc = subprocess.Popen(
            [PYTHON, str(LAUNCHER), "--port", str(port), *EXTRA_LAUNCHER_ARGS], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.time() + 30
        while True:
            try:
                http("GET", f"http://127.0.0.1:{port}/_twin/health")
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, (state_dir / "moto.log").read_text()
                time.sleep(0.2)
        yield Twin(port, state_dir)
        proc.terminate()
        proc.wait(10)
        return
    result = twinctl("up", port=port, state_dir=state_dir)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout and f"http://127.0.0.1:{port}" in result.stdout, result.stdout
    try:
        yield Twin(port, state_dir)
    finally:
        down = twinctl("down", port=port, state_dir=state_dir)
        assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr


@pytest.fixture
def aws(twin):
    """The shared twin. Tests use unique names instead of resetting the emulator: a reset
    costs about a second, and so does re-creating the IAM backend with the managed policies."""
    return twin


@pytest.fixture
def uid():
    return uuid.uuid4().hex[:8]


# ------------------------------------------------------------------------------------------
# Launcher and twinctl
# ------------------------------------------------------------------------------------------


def test_health_reports_pinned_moto_and_patches(twin):
    health = http("GET", f"{twin.url}/_twin/health")
    assert health["service"] == "mlinfra-twin-aws"
    assert health["moto_version"] == moto_server.PINNED_MOTO_VERSION == "5.2.5"
    if not EXTRA_LAUNCHER_ARGS:
        assert health["patches"] == [p.__name__ for p in moto_server.PATCHES]


def test_twinctl_up_again_says_already_running(twin):
    again = twinctl("up", port=twin.port, state_dir=twin.state_dir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"twin: already running on {twin.url}"
    assert "started" not in again.stdout
    status = twinctl("status", port=twin.port, state_dir=twin.state_dir)
    assert status.returncode == 0 and status.stdout.strip() == twin.url


def test_twinctl_lifecycle_on_its_own_port(tmp_path):
    port = free_port()
    try:
        first = twinctl("up", port=port, state_dir=tmp_path)
        assert first.returncode == 0 and "twin: started on" in first.stdout, first.stdout + first.stderr
        pid = int((tmp_path / f"moto-{port}.pid").read_text())
        second = twinctl("up", port=port, state_dir=tmp_path)
        assert second.returncode == 0 and "already running" in second.stdout
    finally:
        down = twinctl("down", port=port, state_dir=tmp_path)
    assert down.returncode == 0 and down.stdout.strip() == "twin: stopped"
    assert not (tmp_path / f"moto-{port}.pid").exists()
    assert not process_alive(pid)
    again = twinctl("down", port=port, state_dir=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == "twin: not running"
    status = twinctl("status", port=port, state_dir=tmp_path)
    assert status.returncode == 3


def test_twinctl_up_refuses_a_port_taken_by_something_else(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        result = twinctl("up", port=port, state_dir=tmp_path)
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "TWIN_AWS_PORT" in result.stderr, result.stderr
    assert "started" not in result.stdout
    assert not (tmp_path / f"moto-{port}.pid").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_launcher_refuses_non_loopback_host(host):
    result = subprocess.run(
        [PYTHON, str(LAUNCHER), "--host", host, "--port", str(free_port())], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "refusing to bind to non-loopback host" in result.stderr


def test_loopback_hosts_are_accepted():
    assert all(moto_server.is_loopback_host(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(moto_server.is_loopback_host(h) for h in ("0.0.0.0", "10.0.0.1", "::", "host.local"))


def test_launcher_refuses_other_moto_versions(tmp_path):
    fake = tmp_path / "moto"
    fake.mkdir()
    (fake / "__init__.py").write_text('__version__ = "5.9.9"\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [PYTHON, str(LAUNCHER), "--port", str(free_port())], capture_output=True, text=True, timeout=30, env=env
    )
    assert result.returncode == 3
    assert "moto 5.9.9" in result.stderr and "5.2.5" in result.stderr


def test_request_counter_counts_by_service_and_resets(aws):
    http("POST", f"{aws.url}/_twin/stats/reset")
    assert aws.stats() == {"requests": 0, "by_service": {}}
    aws.client("ec2").describe_vpcs()
    aws.client("ec2").describe_subnets()
    aws.client("kms").list_keys()
    expected = {"requests": 3, "by_service": {"ec2": 2, "kms": 1}}
    assert aws.stats() == expected
    http("GET", f"{aws.url}/_twin/health")
    assert aws.stats() == expected  # /_twin/* is not counted
    http("POST", f"{aws.url}/_twin/stats/reset")
    assert aws.stats() == {"requests": 0, "by_service": {}}


def test_twinctl_reset_and_stats_empty_the_emulator(aws):
    ec2 = aws.client("ec2")
    before = len(ec2.describe_vpcs()["Vpcs"])
    ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert len(ec2.describe_vpcs()["Vpcs"]) == before + 1
    stats = twinctl("stats", port=aws.port, state_dir=aws.state_dir)
    assert stats.returncode == 0 and json.loads(stats.stdout)["by_service"]["ec2"] == 3
    reset = twinctl("reset", port=aws.port, state_dir=aws.state_dir)
    assert reset.returncode == 0, reset.stderr
    assert aws.stats()["requests"] == 0
    assert len(ec2.describe_vpcs()["Vpcs"]) == before


def test_iam_aws_managed_eks_policies_are_attachable(aws, uid):
    iam = aws.client("iam")
    iam.create_role(
        RoleName=f"node-{uid}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    names = [
        "AmazonEKSClusterPolicy",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
    ]
    for name in names:
        iam.attach_role_policy(RoleName=f"node-{uid}", PolicyArn=f"arn:aws:iam::aws:policy/{name}")
    attached = iam.list_attached_role_policies(RoleName=f"node-{uid}")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == sorted(names)


# ------------------------------------------------------------------------------------------
# Emulator gaps, with boto3
# ------------------------------------------------------------------------------------------


def test_a_kms_key_operations_accept_key_arn(aws):
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    scheduled = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == key["Arn"]
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.cancel_key_deletion(KeyId=key["Arn"])["KeyId"] == key["Arn"]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    # a key id keeps working
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=30)
    assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def _vpc_and_subnet(ec2, cidr="10.1.0.0/16", subnet="10.1.1.0/24"):
    # moto allows overlapping VPC CIDRs, so tests can share these.
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    sn = ec2.create_subnet(VpcId=vpc, CidrBlock=subnet, AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    return vpc, sn


def test_b_ec2_tags_use_aws_resource_types_for_eip_and_nat(aws):
    ec2 = aws.client("ec2")
    _, sn = _vpc_and_subnet(ec2)
    eip = ec2.allocate_address(
        Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "e"}]}]
    )["AllocationId"]
    nat_eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=sn,
        AllocationId=nat_eip,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "n"}]}],
    )["NatGateway"]["NatGatewayId"]

    def tags(*filters):
        return [
            (t["ResourceId"], t["ResourceType"], t["Key"]) for t in ec2.describe_tags(Filters=list(filters))["Tags"]
        ]

    assert tags({"Name": "resource-id", "Values": [eip]}) == [(eip, "elastic-ip", "Name")]
    assert tags({"Name": "resource-id", "Values": [nat]}) == [(nat, "natgateway", "Name")]
    # what amazon.aws's describe_ec2_tags sends: resource-id + resource-type (AWS names)
    assert tags({"Name": "resource-id", "Values": [eip]}, {"Name": "resource-type", "Values": ["elastic-ip"]}) == [
        (eip, "elastic-ip", "Name")
    ]
    assert tags({"Name": "resource-type", "Values": ["natgateway"]}) == [(nat, "natgateway", "Name")]


def _eks_cluster(aws, name):
    ec2, iam, eks = aws.client("ec2"), aws.client("iam"), aws.client("eks")
    _, sn = _vpc_and_subnet(ec2)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    cluster = eks.create_cluster(
        name=name, roleArn=role, resourcesVpcConfig={"subnetIds": [sn]}, tags={"owner": "cluster"}
    )["cluster"]
    return eks, cluster, role, sn


def test_c_eks_nodegroup_update_config(aws, uid):
    c1 = f"c-{uid}"
    eks, _, role, sn = _eks_cluster(aws, c1)
    created = eks.create_nodegroup(clusterName=c1, nodegroupName="default", nodeRole=role, subnets=[sn])["nodegroup"]
    assert created["updateConfig"] == {"maxUnavailable": 1}
    described = eks.describe_nodegroup(clusterName=c1, nodegroupName="default")["nodegroup"]
    assert described["updateConfig"] == {"maxUnavailable": 1}

    created = eks.create_nodegroup(
        clusterName=c1,
        nodegroupName="given",
        nodeRole=role,
        subnets=[sn],
        updateConfig={"maxUnavailablePercentage": 25},
    )["nodegroup"]
    assert created["updateConfig"] == {"maxUnavailablePercentage": 25}
    described = eks.describe_nodegroup(clusterName=c1, nodegroupName="given")["nodegroup"]
    assert described["updateConfig"] == {"maxUnavailablePercentage": 25}

    eks.update_nodegroup_config(
        clusterName=c1,
        nodegroupName="default",
        updateConfig={"maxUnavailable": 3},
        scalingConfig={"minSize": 0, "maxSize": 5, "desiredSize": 1},
    )
    described = eks.describe_nodegroup(clusterName=c1, nodegroupName="default")["nodegroup"]
    assert described["updateConfig"] == {"maxUnavailable": 3}
    assert described["scalingConfig"] == {"minSize": 0, "maxSize": 5, "desiredSize": 1}
    # the other nodegroup's (default) scaling config is its own
    other = eks.create_nodegroup(clusterName=c1, nodegroupName="third", nodeRole=role, subnets=[sn])
    assert other["nodegroup"]["scalingConfig"] == {"minSize": 2, "maxSize": 2, "desiredSize": 2}


def test_d_eks_tags_on_nodegroup_arns(aws, uid):
    c1 = f"d-{uid}"
    eks, cluster, role, sn = _eks_cluster(aws, c1)
    ng = eks.create_nodegroup(clusterName=c1, nodegroupName="gpu", nodeRole=role, subnets=[sn], tags={"team": "ml"})[
        "nodegroup"
    ]
    arn = ng["nodegroupArn"]
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
    eks.tag_resource(resourceArn=arn, tags={"cost": "gpu"})
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml", "cost": "gpu"}
    eks.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost": "gpu"}
    assert eks.describe_nodegroup(clusterName=c1, nodegroupName="gpu")["nodegroup"]["tags"] == {"cost": "gpu"}
    # clusters keep working and are separate
    assert eks.list_tags_for_resource(resourceArn=cluster["arn"])["tags"] == {"owner": "cluster"}
    with pytest.raises(ClientError) as err:
        eks.list_tags_for_resource(resourceArn=arn.replace("/gpu/", "/nope/"))
    assert err.value.response["Error"]["Code"] == "NotFoundException"


def test_e_ec2_delete_launch_template_versions(aws, uid):
    ec2 = aws.client("ec2")
    name = f"e-{uid}"
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "g5.xlarge"})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    for itype in ("g5.2xlarge", "g5.4xlarge"):
        ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={"InstanceType": itype})

    result = ec2.delete_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2"])
    assert [
        (v["LaunchTemplateId"], v["VersionNumber"]) for v in result["SuccessfullyDeletedLaunchTemplateVersions"]
    ] == [(lt_id, 2)]
    assert result["UnsuccessfullyDeletedLaunchTemplateVersions"] == []

    versions = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id)["LaunchTemplateVersions"]
    assert sorted(v["VersionNumber"] for v in versions) == [1, 3]

    result = ec2.delete_launch_template_versions(LaunchTemplateName=name, Versions=["1", "2"])
    assert result["SuccessfullyDeletedLaunchTemplateVersions"] == []
    failed = {
        v["VersionNumber"]: v["ResponseError"]["Code"] for v in result["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert set(failed) == {1, 2}  # 1 is the default version, 2 is gone
    assert failed[2] == "launchTemplateVersionDoesNotExist"

    with pytest.raises(ClientError):
        ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["2"])
    # numbers are not reused
    new = ec2.create_launch_template_version(LaunchTemplateId=lt_id, LaunchTemplateData={"InstanceType": "g6.xlarge"})
    assert new["LaunchTemplateVersion"]["VersionNumber"] == 4
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ]
    assert [v["VersionNumber"] for v in latest] == [4]
    assert ec2.describe_launch_templates(LaunchTemplateIds=[lt_id])["LaunchTemplates"][0]["LatestVersionNumber"] == 4


def test_f_launch_template_version_data_excludes_template_tags(aws, uid):
    ec2 = aws.client("ec2")
    name = f"f-{uid}"
    data = {
        "InstanceType": "g5.xlarge",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "gpu"}]}],
    }
    lt = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": name}]}],
    )["LaunchTemplate"]
    assert lt["Tags"] == [{"Key": "Name", "Value": name}]
    version = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])["LaunchTemplateVersions"]
    assert [v["LaunchTemplateData"] for v in version] == [data]
    described = ec2.describe_launch_templates(LaunchTemplateIds=[lt["LaunchTemplateId"]])["LaunchTemplates"][0]
    assert described["Tags"] == [{"Key": "Name", "Value": name}]


def _asg(aws, name, tags=()):
    ec2, asg = aws.client("ec2"), aws.client("autoscaling")
    _, sn = _vpc_and_subnet(ec2)
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "g5.xlarge"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        VPCZoneIdentifier=sn,
        LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"},
        Tags=[
            {"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name, "ResourceType": "auto-scaling-group"}
            for k, v in tags
        ],
    )
    return asg


def test_g_autoscaling_metrics_collection(aws, uid):
    g1 = f"g-{uid}"
    asg = _asg(aws, g1)

    def enabled():
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[g1])["AutoScalingGroups"][0]
        return sorted((m["Metric"], m["Granularity"]) for m in group.get("EnabledMetrics", []))

    assert enabled() == []
    asg.enable_metrics_collection(
        AutoScalingGroupName=g1, Granularity="1Minute", Metrics=["GroupMinSize", "GroupMaxSize"]
    )
    asg.enable_metrics_collection(AutoScalingGroupName=g1, Granularity="1Minute", Metrics=["GroupInServiceInstances"])
    assert enabled() == [
        ("GroupInServiceInstances", "1Minute"),
        ("GroupMaxSize", "1Minute"),
        ("GroupMinSize", "1Minute"),
    ]
    asg.disable_metrics_collection(AutoScalingGroupName=g1, Metrics=["GroupMinSize"])
    assert [m for m, _ in enabled()] == ["GroupInServiceInstances", "GroupMaxSize"]
    asg.disable_metrics_collection(AutoScalingGroupName=g1)
    assert enabled() == []
    asg.enable_metrics_collection(AutoScalingGroupName=g1, Granularity="1Minute")  # no list: all
    assert {"GroupDesiredCapacity", "GroupTotalInstances", "GroupInServiceCapacity"} <= {m for m, _ in enabled()}


def test_autoscaling_group_tags_sorted_by_key(aws, uid):
    g1 = f"t-{uid}"
    asg = _asg(aws, g1, tags=[("zeta", "1"), ("alpha", "2")])

    def keys():
        return [
            t["Key"]
            for t in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[g1])["AutoScalingGroups"][0]["Tags"]
        ]

    assert keys() == ["alpha", "zeta"]
    asg.create_or_update_tags(
        Tags=[
            {
                "Key": "mid",
                "Value": "3",
                "PropagateAtLaunch": False,
                "ResourceId": g1,
                "ResourceType": "auto-scaling-group",
            }
        ]
    )
    assert keys() == ["alpha", "mid", "zeta"]


# ------------------------------------------------------------------------------------------
# Ansible modules: a second run against the twin reports no change
# ------------------------------------------------------------------------------------------

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/amazon.aws.aws: &aws {endpoint_url: "{{ twin_url }}", region: us-west-2, access_key: testing, secret_key: testing}
    group/community.aws.aws: *aws
  # Every task runs even if one fails (ignore_errors), so each gap is judged on its own.
  tasks:
    - name: eip
      amazon.aws.ec2_eip: {public_ip: "{{ public_ip }}", in_vpc: true, tags: {Name: twin-eip, env: test}}
      loop: [1, 2]
      ignore_errors: true
    - name: nat
      amazon.aws.ec2_vpc_nat_gateway:
        subnet_id: "{{ subnet_id }}"
        if_exist_do_not_create: true
        wait: false
        tags: {Name: twin-nat}
      loop: [1, 2]
      ignore_errors: true
    - name: nodegroup
      community.aws.eks_nodegroup:
        name: gpu
        cluster_name: "{{ cluster }}"
        node_role: "{{ role_arn }}"
        subnets: ["{{ subnet_id }}"]
        instance_types: [g5.xlarge]
        scaling_config: {min_size: 0, max_size: 2, desired_size: 1}
        tags: {team: ml}
        wait: false
      loop: [1, 2]
      ignore_errors: true
    - name: launch_template
      amazon.aws.ec2_launch_template:
        name: twin-lt
        image_id: "{{ ami }}"
        instance_type: g5.xlarge
        tags: {Name: twin-lt}
      loop: [1, 2]
      ignore_errors: true
    - name: launch_template_v2
      amazon.aws.ec2_launch_template:
        name: twin-lt
        image_id: "{{ ami }}"
        instance_type: g5.2xlarge
        tags: {Name: twin-lt}
      ignore_errors: true
    - name: launch_template_absent
      amazon.aws.ec2_launch_template: {name: twin-lt, state: absent}
      ignore_errors: true
    - name: asg
      amazon.aws.autoscaling_group: &asg
        name: twin-asg
        launch_template: {launch_template_name: twin-lt-asg}
        min_size: 0
        max_size: 2
        desired_capacity: 0
        vpc_zone_identifier: ["{{ subnet_id }}"]
        tags:
          - {zeta: "1", propagate_at_launch: true}
          - {alpha: "2", propagate_at_launch: true}
        wait_for_instances: false
      loop: [1, 2]
      ignore_errors: true
    - name: asg_metrics
      amazon.aws.autoscaling_group:
        <<: *asg
        metrics_collection: true
      loop: [1, 2]
      ignore_errors: true
"""


@pytest.fixture(scope="module")
def ansible_runs(twin, tmp_path_factory):
    """Runs each module twice (one playbook) and returns {task: [result1, result2, ...]} plus
    the emulator state right after the run."""
    ec2, iam, eks = twin.client("ec2"), twin.client("iam"), twin.client("eks")
    _, sn = _vpc_and_subnet(ec2, "10.2.0.0/16", "10.2.1.0/24")
    address = ec2.allocate_address(Domain="vpc")
    public_ip = address["PublicIp"]
    role = iam.create_role(RoleName="twin-node", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(name="twin", roleArn=role, resourcesVpcConfig={"subnetIds": [sn]})
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName="twin-lt-asg", LaunchTemplateData={"ImageId": ami, "InstanceType": "g5.xlarge"}
    )

    work = tmp_path_factory.mktemp("ansible")
    (work / "play.yml").write_text(PLAYBOOK)
    extra = dict(twin_url=twin.url, subnet_id=sn, public_ip=public_ip, role_arn=role, cluster="twin", ami=ami)
    (work / "vars.json").write_text(json.dumps(extra))
    env = dict(
        os.environ,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), str(work / "play.yml"), "-e", f"@{work / 'vars.json'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        output = json.JSONDecoder().raw_decode(proc.stdout)[0]
    except ValueError:
        pytest.fail(
            f"ansible-playbook gave no JSON (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    results = {}
    for task in output["plays"][0]["tasks"]:
        res = task["hosts"]["localhost"]
        results[task["task"]["name"]] = res.get("results", [res])

    asg_client = twin.client("autoscaling")

    def read(fn):
        try:
            return fn()
        except Exception as exc:  # kept as the value: the test that needs it fails on it
            return f"error: {exc}"

    state = {
        "eip_tags": read(
            lambda: {
                t["Key"]: t["Value"]
                for t in ec2.describe_tags(
                    Filters=[
                        {"Name": "resource-id", "Values": [address["AllocationId"]]},
                        {"Name": "resource-type", "Values": ["elastic-ip"]},
                    ]
                )["Tags"]
            }
        ),
        "nat_gateways": read(
            lambda: [
                n["NatGatewayId"]
                for n in ec2.describe_nat_gateways(
                    Filters=[
                        {"Name": "subnet-id", "Values": [sn]},
                        {"Name": "state", "Values": ["pending", "available"]},
                    ]
                )["NatGateways"]
            ]
        ),
        "nodegroup": read(lambda: eks.describe_nodegroup(clusterName="twin", nodegroupName="gpu")["nodegroup"]),
        "nodegroup_tags": read(
            lambda: eks.list_tags_for_resource(
                resourceArn=eks.describe_nodegroup(clusterName="twin", nodegroupName="gpu")["nodegroup"]["nodegroupArn"]
            )["tags"]
        ),
        "launch_templates": read(
            lambda: [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
        ),
        "asg": read(
            lambda: asg_client.describe_auto_scaling_groups(AutoScalingGroupNames=["twin-asg"])["AutoScalingGroups"][0]
        ),
    }
    return {"rc": proc.returncode, "results": results, "state": state, "log": proc.stdout[-4000:]}


def _failed(result: dict) -> bool:
    # With ignore_errors, ansible's json callback may leave "failed" out of loop items.
    return bool(result.get("failed")) or "exception" in result or str(result.get("msg", "")).startswith("Task failed")


def _ok_results(runs, task):
    results = runs["results"].get(task)
    assert results is not None, f"task {task} did not run (rc {runs['rc']}):\n{runs['log']}"
    failures = [r.get("msg") for r in results if _failed(r)]
    assert not failures, f"{task} failed: {failures}"
    return results


def _first_changed_then_unchanged(runs, task):
    results = _ok_results(runs, task)
    assert [r.get("changed") for r in results] == [True, False], [(r.get("changed"), r.get("msg")) for r in results]
    return results


def test_ansible_b_ec2_eip_and_nat_gateway_rerun_unchanged(ansible_runs):
    _first_changed_then_unchanged(ansible_runs, "eip")
    _first_changed_then_unchanged(ansible_runs, "nat")
    state = ansible_runs["state"]
    assert state["eip_tags"] == {"Name": "twin-eip", "env": "test"}
    assert len(state["nat_gateways"]) == 1


def test_ansible_c_d_eks_nodegroup_rerun_unchanged(ansible_runs):
    results = _first_changed_then_unchanged(ansible_runs, "nodegroup")
    assert results[1]["update_config"] == {"max_unavailable": 1}
    state = ansible_runs["state"]
    assert state["nodegroup_tags"] == {"team": "ml"}
    assert state["nodegroup"]["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 1}


def test_ansible_e_f_launch_template_rerun_unchanged_and_absent(ansible_runs):
    results = _first_changed_then_unchanged(ansible_runs, "launch_template")
    assert results[1]["latest_version"] == 1
    assert results[1]["template"]["tags"] == {"Name": "twin-lt"}
    v2 = _ok_results(ansible_runs, "launch_template_v2")[0]
    assert v2["changed"] and v2["latest_version"] == 2
    absent = _ok_results(ansible_runs, "launch_template_absent")
    assert absent[0]["changed"]
    # the module made version 2 the default, so it deletes version 1, then the template
    assert [v["version_number"] for v in absent[0]["deleted_versions"]] == [1]
    assert "twin-lt" not in ansible_runs["state"]["launch_templates"]


def test_ansible_g_autoscaling_group_rerun_unchanged(ansible_runs):
    _first_changed_then_unchanged(ansible_runs, "asg")
    _first_changed_then_unchanged(ansible_runs, "asg_metrics")
    group = ansible_runs["state"]["asg"]
    assert [t["Key"] for t in group["Tags"]] == ["alpha", "zeta"]
    assert {m["Metric"] for m in group["EnabledMetrics"]} >= {"GroupInServiceInstances", "GroupDesiredCapacity"}


def test_rule_description_updates_answer_return(aws, uid):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=f"desc-{uid}", Description="d", VpcId=vpc)["GroupId"]
    perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.77.0.0/16"}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[perm])
    perm["IpRanges"][0]["Description"] = "SSH"
    answer = ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=[perm])
    assert answer["Return"] is True
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert rules[0]["IpRanges"][0]["Description"] == "SSH"


# ------------------------------------------------------------------------------------------
# EKS cluster settings and updates (mlinfra.gpu_platform.eks_cluster)
# ------------------------------------------------------------------------------------------


def _eks_cluster_with(aws, name, **create_kwargs):
    ec2, iam, eks = aws.client("ec2"), aws.client("iam"), aws.client("eks")
    vpc, sn = _vpc_and_subnet(ec2, "10.3.0.0/16", "10.3.1.0/24")
    sn2 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.3.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={"subnetIds": [sn, sn2]}, **create_kwargs)
    return eks, [sn, sn2]


def test_eks_cluster_create_defaults(aws, uid):
    eks, subnets = _eks_cluster_with(
        aws, f"cd-{uid}", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
    )
    cluster = eks.describe_cluster(name=f"cd-{uid}")["cluster"]
    # vpcId and clusterSecurityGroupId: see test_eks_cluster_identity.
    vpc_config = {k: v for k, v in cluster["resourcesVpcConfig"].items() if k not in ("vpcId", "clusterSecurityGroupId")}
    assert vpc_config == {
        "subnetIds": subnets,
        "securityGroupIds": [],
        "endpointPublicAccess": True,
        "endpointPrivateAccess": False,
        "publicAccessCidrs": ["0.0.0.0/0"],
    }
    assert cluster["logging"] == {
        "clusterLogging": [
            {"types": ["api"], "enabled": True},
            {"types": ["audit", "authenticator", "controllerManager", "scheduler"], "enabled": False},
        ]
    }
    assert cluster["accessConfig"] == {
        "bootstrapClusterCreatorAdminPermissions": True,
        "authenticationMode": "CONFIG_MAP",
    }

    eks, _ = _eks_cluster_with(aws, f"cd2-{uid}", accessConfig={"authenticationMode": "API"})
    assert eks.describe_cluster(name=f"cd2-{uid}")["cluster"]["accessConfig"]["authenticationMode"] == "API"


def test_eks_cluster_updates(aws, uid):
    name = f"cu-{uid}"
    eks, subnets = _eks_cluster_with(aws, name, version="1.32")
    kms = aws.client("kms")

    def invalid(call, **kwargs):
        with pytest.raises(ClientError) as err:
            call(name=name, **kwargs)
        return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]

    # endpoint access: merged into resourcesVpcConfig (subnets kept), answered with an update
    update = eks.update_cluster_config(
        name=name, resourcesVpcConfig={"endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}
    )["update"]
    assert update["type"] == "EndpointAccessUpdate" and update["status"] == "Successful"
    assert eks.describe_update(name=name, updateId=update["id"])["update"]["id"] == update["id"]
    vpc_config = eks.describe_cluster(name=name)["cluster"]["resourcesVpcConfig"]
    assert vpc_config["subnetIds"] == subnets
    assert (vpc_config["endpointPrivateAccess"], vpc_config["endpointPublicAccess"]) == (True, True)
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]
    code, message = invalid(eks.update_cluster_config, resourcesVpcConfig={"endpointPrivateAccess": True})
    assert code == "InvalidParameterException" and "already at the desired configuration" in message

    # subnets/security groups: VpcConfigUpdate, endpoint settings kept
    update = eks.update_cluster_config(name=name, resourcesVpcConfig={"subnetIds": subnets[:1]})["update"]
    assert update["type"] == "VpcConfigUpdate"
    vpc_config = eks.describe_cluster(name=name)["cluster"]["resourcesVpcConfig"]
    assert vpc_config["subnetIds"] == subnets[:1] and vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]

    # logging: per type, one type of update per call, no-op refused
    update = eks.update_cluster_config(
        name=name, logging={"clusterLogging": [{"types": ["audit", "api"], "enabled": True}]}
    )["update"]
    assert update["type"] == "LoggingUpdate"
    eks.update_cluster_config(name=name, logging={"clusterLogging": [{"types": ["api"], "enabled": False}]})
    assert eks.describe_cluster(name=name)["cluster"]["logging"]["clusterLogging"][0] == {
        "types": ["audit"],
        "enabled": True,
    }
    code, message = invalid(
        eks.update_cluster_config, logging={"clusterLogging": [{"types": ["audit"], "enabled": True}]}
    )
    assert code == "InvalidParameterException" and "No changes needed" in message
    code, message = invalid(
        eks.update_cluster_config,
        logging={"clusterLogging": [{"types": ["scheduler"], "enabled": True}]},
        resourcesVpcConfig={"endpointPrivateAccess": False},
    )
    assert message == "Only one type of update can be allowed."

    # authentication mode: forward only
    update = eks.update_cluster_config(name=name, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})["update"]
    assert update["type"] == "AccessConfigUpdate"
    code, _ = invalid(eks.update_cluster_config, accessConfig={"authenticationMode": "CONFIG_MAP"})
    assert code == "InvalidParameterException"
    assert eks.describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"

    # version: one minor step up only
    code, message = invalid(eks.update_cluster_version, version="1.34")
    assert code == "InvalidParameterException" and "1.32 to 1.34" in message
    update = eks.update_cluster_version(name=name, version="1.33")["update"]
    assert update["type"] == "VersionUpdate"
    assert eks.describe_cluster(name=name)["cluster"]["version"] == "1.33"

    # secrets encryption: associated once, never changed
    key = kms.create_key()["KeyMetadata"]["Arn"]
    config = [{"resources": ["secrets"], "provider": {"keyArn": key}}]
    update = eks.associate_encryption_config(clusterName=name, encryptionConfig=config)["update"]
    assert update["type"] == "AssociateEncryptionConfig"
    assert eks.describe_cluster(name=name)["cluster"]["encryptionConfig"] == config
    with pytest.raises(ClientError) as err:
        eks.associate_encryption_config(clusterName=name, encryptionConfig=config)
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"

    code, _ = invalid(eks.describe_update, updateId="no-such-update")
    assert code == "ResourceNotFoundException"


# ------------------------------------------------------------------------------------------
# EKS nodegroup updates (mlinfra.gpu_platform.eks_nodegroup)
# ------------------------------------------------------------------------------------------


def test_eks_nodegroup_updates(aws, uid):
    name = f"nu-{uid}"
    eks, subnets = _eks_cluster_with(aws, name, version="1.33")
    role = aws.client("iam").create_role(RoleName=f"{name}-node", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    gpu_taint = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
    created = eks.create_nodegroup(
        clusterName=name,
        nodegroupName="gpu",
        nodeRole=role,
        subnets=subnets,
        amiType="AL2023_x86_64_NVIDIA",
        capacityType="SPOT",
        labels={"a": "1", "b": "2"},
        taints=[gpu_taint],
        scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 1},
    )["nodegroup"]
    assert created["amiType"] == "AL2023_x86_64_NVIDIA"

    def error(call, **kwargs):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]

    def update(**kwargs):
        return eks.update_nodegroup_config(clusterName=name, nodegroupName="gpu", **kwargs)["update"]

    # labels: the update names what it adds and removes, and DescribeUpdate reports it
    labels = update(labels={"addOrUpdateLabels": {"a": "9"}, "removeLabels": ["b"]})
    assert (labels["type"], labels["status"]) == ("ConfigUpdate", "Successful")
    assert labels["params"] == [
        {"type": "LabelsToAdd", "value": '{"a": "9"}'},
        {"type": "LabelsToRemove", "value": '["b"]'},
    ]
    described = eks.describe_update(name=name, nodegroupName="gpu", updateId=labels["id"])["update"]
    assert (described["id"], described["status"]) == (labels["id"], "Successful")
    assert eks.describe_nodegroup(clusterName=name, nodegroupName="gpu")["nodegroup"]["labels"] == {"a": "9"}

    # taints (identified by key and effect)
    taints = update(taints={"removeTaints": [gpu_taint], "addOrUpdateTaints": [{"key": "s", "effect": "NO_EXECUTE"}]})
    assert [p["type"] for p in taints["params"]] == ["TaintsToAdd", "TaintsToRemove"]
    assert eks.describe_nodegroup(clusterName=name, nodegroupName="gpu")["nodegroup"]["taints"] == [
        {"key": "s", "effect": "NO_EXECUTE"}
    ]

    # scaling: merged with the current sizes, and checked
    scaling = update(scalingConfig={"maxSize": 4})
    assert scaling["params"] == [{"type": "MaxSize", "value": "4"}]
    assert eks.describe_nodegroup(clusterName=name, nodegroupName="gpu")["nodegroup"]["scalingConfig"] == {
        "minSize": 0,
        "maxSize": 4,
        "desiredSize": 1,
    }
    code, message = error(update, scalingConfig={"desiredSize": 5})
    assert code == "InvalidParameterException" and "desiredSize 5" in message
    code, _ = error(update, scalingConfig={"minSize": 3, "maxSize": 2})
    assert code == "InvalidParameterException"
    assert eks.describe_nodegroup(clusterName=name, nodegroupName="gpu")["nodegroup"]["scalingConfig"]["maxSize"] == 4
    for bad in ({"minSize": 0, "maxSize": 2}, {"minSize": 3, "maxSize": 2, "desiredSize": 2}):
        code, _ = error(
            eks.create_nodegroup,
            clusterName=name,
            nodegroupName="bad",
            nodeRole=role,
            subnets=subnets,
            scalingConfig=bad,
        )
        assert code == "InvalidParameterException"

    # a nodegroup's update is not the cluster's, and unknown IDs are not found
    code, _ = error(eks.describe_update, name=name, updateId=labels["id"])
    assert code == "ResourceNotFoundException"
    code, _ = error(eks.describe_update, name=name, nodegroupName="gpu", updateId="no-such-update")
    assert code == "ResourceNotFoundException"


def _instance_from_template(aws, uid, root_size=None):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.78.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"nic-{uid}", Description="d", VpcId=vpc)["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]
    data = {"ImageId": image["ImageId"], "InstanceType": "g5.xlarge"}
    if root_size:
        data["BlockDeviceMappings"] = [{"DeviceName": image["RootDeviceName"],
                                        "Ebs": {"VolumeSize": root_size, "VolumeType": "gp3", "DeleteOnTermination": True}}]
    template = ec2.create_launch_template(LaunchTemplateName=f"lt-{uid}", LaunchTemplateData=data)["LaunchTemplate"]
    instance = ec2.run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group]}],
    )["Instances"][0]
    return ec2, instance["InstanceId"], group


def test_blank_volumes_report_an_empty_snapshot_id(aws):
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=10, VolumeType="gp3")["VolumeId"]
    assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["SnapshotId"] == ""


def test_volume_attachments_report_delete_on_termination(aws, uid):
    ec2, instance, _group = _instance_from_template(aws, uid)
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=10, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    attachment = ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"][0]
    assert attachment["DeleteOnTermination"] is False


def test_interface_groups_are_the_instance_groups(aws, uid):
    ec2, instance, group = _instance_from_template(aws, uid)
    described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [group]


def test_template_root_mapping_replaces_the_default_root_volume(aws, uid):
    ec2, instance, _group = _instance_from_template(aws, uid, root_size=500)
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance]}])["Volumes"]
    assert [v["Size"] for v in volumes] == [500]


def test_eks_list_unknown_cluster(aws, uid):
    eks = aws.client("eks")
    for call in (eks.list_nodegroups, eks.list_fargate_profiles):
        with pytest.raises(ClientError) as err:
            call(clusterName=f"nope-{uid}")
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    _eks_cluster(aws, f"lu-{uid}")
    assert eks.list_nodegroups(clusterName=f"lu-{uid}")["nodegroups"] == []
    assert eks.list_fargate_profiles(clusterName=f"lu-{uid}")["fargateProfileNames"] == []


def test_eks_cluster_identity(aws, uid):
    ec2 = aws.client("ec2")
    names = [f"ci-{uid}", f"ci2-{uid}"]
    eks, subnets = _eks_cluster_with(aws, names[0])
    vpc = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    clusters = [eks.describe_cluster(name=names[0])["cluster"]]
    _eks_cluster_with(aws, names[1])
    clusters.append(eks.describe_cluster(name=names[1])["cluster"])

    issuers = [c["identity"]["oidc"]["issuer"] for c in clusters]
    for issuer in issuers:
        assert re.fullmatch(rf"https://oidc\.eks\.{REGION}\.amazonaws\.com/id/[0-9A-F]{{32}}", issuer), issuer
    assert issuers[0] != issuers[1]

    config = clusters[0]["resourcesVpcConfig"]
    assert config["vpcId"] == vpc
    group = ec2.describe_security_groups(GroupIds=[config["clusterSecurityGroupId"]])["SecurityGroups"][0]
    assert group["VpcId"] == vpc
    assert re.fullmatch(rf"eks-cluster-sg-{names[0]}-[0-9a-z]{{10}}", group["GroupName"]), group["GroupName"]
    assert {t["Key"]: t["Value"] for t in group["Tags"]} == {
        "aws:eks:cluster-name": names[0],
        f"kubernetes.io/cluster/{names[0]}": "owned",
    }
    assert config["clusterSecurityGroupId"] != clusters[1]["resourcesVpcConfig"]["clusterSecurityGroupId"]

    for name, cluster in zip(names, clusters):
        eks.delete_cluster(name=name)
        with pytest.raises(ClientError) as err:
            ec2.describe_security_groups(GroupIds=[cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]])
        assert err.value.response["Error"]["Code"] == "InvalidGroup.NotFound"
