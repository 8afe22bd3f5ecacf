"""Integration tests of roles/aws_compute against the twin (twin/moto_server.py).

Starts a twin of its own (twin/twinctl up on a free port, state in a temporary
directory), creates the role's prerequisites with boto3 (VPC, two private subnets in
us-west-2a/b, the training security group, an instance profile), runs
tests/integration/playbooks/aws_compute.yml with ansible-playbook from the project root
and checks what it left with boto3. Needs no network beyond loopback.

    .venv/bin/python -m pytest tests/integration/test_aws_compute_role.py -q -x

moto ignores Spot market options (instances come up on-demand), so Spot is checked where
the role puts it: the launch template versions, and the launch template each instance was
launched from (its aws:ec2launchtemplate:* tags, as on AWS).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import platform_harness
from platform_harness import RoleRun as Run
from platform_harness import free_port
from platform_harness import play_role

PLAYBOOK = "tests/integration/playbooks/aws_compute.yml"

AZS = ["us-west-2a", "us-west-2b"]
PREFIX = "mlit"
TRAINING = f"{PREFIX}-gpu-training"
POOL = f"{PREFIX}-gpu-pool"
DATA = f"{TRAINING}-data"
EIP = f"{TRAINING}-eip"
INSTANCE_TYPE = "g5.xlarge"
MAX_PRICE = "1.50"
# moto's default AMI list has an x86_64 EBS Deep Learning AMI owned by the DLAMI account:
# the test lets the role look it up by owner and name, as it does on AWS.
AMI_OWNER = "898082745236"
AMI_NAME = "Deep Learning AMI Ubuntu*"

FIND_TAGS = {"Project": "ml-platform", "Environment": "local", "ManagedBy": "ansible-mlinfra", "Layer": "compute"}
TAGS = {**FIND_TAGS, "CostCenter": "AI-Research", "Owner": "ml-infra"}
HOST_TAGS = {**TAGS, "Role": "gpu_training", "GpuType": "a10g"}

# --------------------------------------------------------------------------- helpers


def _tags(tag_list: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list or []}


def assert_converged_run(run: Run) -> None:
    assert run.rc == 0, run.explain()
    assert run.recap and run.recap["failed"] == 0 and run.recap["unreachable"] == 0, run.explain()


class Twin(platform_harness.Twin):
    """The twin on a port of its own, its boto3 clients, the prerequisites, and playbook runs."""

    def __init__(self, port: int, workdir: Path):
        super().__init__(port, state_dir=workdir / "twin")
        self.workdir = workdir
        self.ec2 = self.client("ec2")
        self.iam = self.client("iam")
        self.asg = self.client("autoscaling")
        self.prereqs: dict = {}
        self._runs = 0

    def twinctl(self, command: str) -> str:
        proc = self.ctl(command, timeout=60)
        assert proc.returncode == 0, f"twinctl {command}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    def create_prerequisites(self) -> None:
        ec2 = self.ec2
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{10 + i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
            for i, az in enumerate(AZS)
        ]
        sg = ec2.create_security_group(GroupName=f"{PREFIX}-gpu-training", Description="GPU training", VpcId=vpc)["GroupId"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        self.iam.create_role(RoleName=f"{PREFIX}-training", AssumeRolePolicyDocument=json.dumps(trust))
        profile = self.iam.create_instance_profile(InstanceProfileName=f"{PREFIX}-training")["InstanceProfile"]
        self.iam.add_role_to_instance_profile(InstanceProfileName=f"{PREFIX}-training", RoleName=f"{PREFIX}-training")
        (ami,) = ec2.describe_images(Owners=[AMI_OWNER], Filters=[{"Name": "name", "Values": [AMI_NAME]}])["Images"]
        self.prereqs = {"vpc": vpc, "subnets": subnets, "sg": sg, "profile_arn": profile["Arn"], "ami": ami}

    def play(self, check: bool = False, **overrides) -> Run:
        """Run the test playbook with the standard inputs, updated by overrides (None deletes)."""
        self._runs += 1
        outputs_file = self.workdir / f"outputs-{self._runs}.json"
        extra = {
            "aws_compute_test_endpoint_url": self.url,
            "aws_compute_test_outputs_file": str(outputs_file),
            "aws_compute_name_prefix": PREFIX,
            "aws_compute_tags": TAGS,
            "aws_compute_find_tags": FIND_TAGS,
            "aws_compute_subnet_ids": self.prereqs["subnets"],
            "aws_compute_security_group_ids": [self.prereqs["sg"]],
            "aws_compute_instance_profile_name": f"{PREFIX}-training",
            "aws_compute_ami_owners": [AMI_OWNER],
            "aws_compute_ami_filters": {"name": AMI_NAME, "architecture": "x86_64", "root-device-type": "ebs"},
            "aws_compute_instance_type": INSTANCE_TYPE,
            "aws_compute_instance_count": 2,
            "aws_compute_spot": True,
            "aws_compute_spot_max_price": MAX_PRICE,
            "aws_compute_eip": True,
            "aws_compute_pool": {"desired": 1},
        }
        extra.update(overrides)
        return play_role(PLAYBOOK, extra, self.workdir, self._runs, outputs_file, check=check, keep_log=True, tail=8000)

    # What exists, straight from the API ------------------------------------------

    def instances(self, name: str | None = TRAINING, states=("pending", "running", "stopping", "stopped")) -> list[dict]:
        filters = [{"Name": "instance-state-name", "Values": list(states)}]
        filters += [{"Name": f"tag:{k}", "Values": [v]} for k, v in FIND_TAGS.items()]
        if name:
            filters.append({"Name": "tag:Name", "Values": [name]})
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=filters)
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def tagged(self, describe: str, key: str, name: str | None = None) -> list[dict]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in FIND_TAGS.items()]
        if name:
            filters.append({"Name": "tag:Name", "Values": [name]})
        return getattr(self.ec2, describe)(Filters=filters)[key]

    def template(self, name: str) -> tuple[dict, dict]:
        (lt,) = self.ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
        (version,) = self.ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])[
            "LaunchTemplateVersions"
        ]
        return lt, version

    def template_names(self) -> set[str]:
        return {lt["LaunchTemplateName"] for lt in self.ec2.describe_launch_templates()["LaunchTemplates"]}

    def asg_names(self) -> set[str]:
        return {g["AutoScalingGroupName"] for g in self.asg.describe_auto_scaling_groups()["AutoScalingGroups"]}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Iterator[Twin]:
    workdir = tmp_path_factory.mktemp("aws_compute")
    t = Twin(free_port(), workdir)
    t.twinctl("up")
    try:
        # ec2_vol_info reads every volume's SnapshotId, which AWS always returns ("" for a
        # blank volume) and moto 5.2.5 leaves out: without the twin's fix the role cannot
        # find its data volumes. Fail here, with the reason, rather than in the middle of a run.
        volume = t.ec2.create_volume(AvailabilityZone=AZS[0], Size=1)["VolumeId"]
        (described,) = t.ec2.describe_volumes(VolumeIds=[volume])["Volumes"]
        t.ec2.delete_volume(VolumeId=volume)
        if "SnapshotId" not in described:
            pytest.fail(
                "the twin leaves SnapshotId out of DescribeVolumes for a volume not created from a snapshot "
                "(AWS returns \"\"); amazon.aws.ec2_vol_info then fails with KeyError 'snapshot_id'. "
                "The twin needs patch_ec2_volume_snapshot_id (proposed with roles/aws_compute)."
            )
        t.create_prerequisites()
        yield t
    finally:
        t.twinctl("down")


# --------------------------------------------------------------------------- check mode on an empty account


def test_check_mode_on_empty_account_creates_nothing(twin: Twin):
    run = twin.play(check=True)

    assert_converged_run(run)
    assert run.recap["changed"] > 0, "check mode should predict the templates and instances"
    assert twin.template_names() == set()
    assert twin.instances(name=None) == []
    assert twin.tagged("describe_volumes", "Volumes") == []
    assert twin.tagged("describe_addresses", "Addresses") == []
    assert twin.asg_names() == set()
    assert run.outputs["instance_ids"] == []
    assert run.outputs["launch_templates"]["training"] == {"id": None, "name": TRAINING, "version": None}
    assert "2 instance(s) would be launched" in " ".join(run.output.split())


# --------------------------------------------------------------------------- present


class TestPresent:
    @pytest.fixture(scope="class")
    @classmethod
    def converged(cls, twin: Twin) -> Run:
        run = twin.play()
        assert_converged_run(run)
        return run

    def test_first_run_creates(self, converged: Run):
        assert converged.recap["changed"] > 0

    def test_training_template(self, twin: Twin, converged: Run):
        lt, version = twin.template(TRAINING)
        data = version["LaunchTemplateData"]

        assert _tags(lt["Tags"]) == {**TAGS, "Name": TRAINING}
        assert data["ImageId"] == twin.prereqs["ami"]["ImageId"]
        assert data["InstanceType"] == INSTANCE_TYPE
        assert data["IamInstanceProfile"] == {"Arn": twin.prereqs["profile_arn"]}
        # The groups sit on the primary interface (a launch that names its subnet must
        # give the interface, and AWS refuses instance-level groups with one).
        assert "SecurityGroupIds" not in data
        assert data["NetworkInterfaces"] == [
            {"DeviceIndex": 0, "Groups": [twin.prereqs["sg"]], "AssociatePublicIpAddress": False, "DeleteOnTermination": True}
        ]
        assert data["BlockDeviceMappings"] == [
            {
                "DeviceName": twin.prereqs["ami"]["RootDeviceName"],
                "Ebs": {
                    "VolumeSize": 500,
                    "VolumeType": "gp3",
                    "Iops": 3000,
                    "Throughput": 125,
                    "Encrypted": True,
                    "DeleteOnTermination": True,
                },
            }
        ]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
        assert data["MetadataOptions"]["HttpEndpoint"] == "enabled"
        assert data["InstanceMarketOptions"] == {
            "MarketType": "spot",
            "SpotOptions": {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop", "MaxPrice": MAX_PRICE},
        }
        assert "UserData" not in data
        specs = {s["ResourceType"]: _tags(s["Tags"]) for s in data["TagSpecifications"]}
        assert specs == {
            kind: {**HOST_TAGS, "Name": TRAINING}
            for kind in ("instance", "volume", "network-interface", "spot-instances-request")
        }

    def test_pool_template(self, twin: Twin, converged: Run):
        _, training = twin.template(TRAINING)
        _, pool = twin.template(POOL)
        data = pool["LaunchTemplateData"]

        # Auto Scaling takes only one-time Spot requests that terminate on interruption.
        assert data["InstanceMarketOptions"] == {"MarketType": "spot", "SpotOptions": {"MaxPrice": MAX_PRICE}}
        specs = {s["ResourceType"]: _tags(s["Tags"]) for s in data["TagSpecifications"]}
        assert specs == {kind: {**HOST_TAGS, "Name": POOL} for kind in ("instance", "volume", "network-interface")}
        same = ("ImageId", "InstanceType", "IamInstanceProfile", "NetworkInterfaces", "BlockDeviceMappings", "MetadataOptions")
        assert {k: data[k] for k in same} == {k: training["LaunchTemplateData"][k] for k in same}

    def test_instances_run_in_both_private_subnets(self, twin: Twin, converged: Run):
        lt, _ = twin.template(TRAINING)
        instances = twin.instances()

        assert len(instances) == 2
        assert sorted(i["SubnetId"] for i in instances) == sorted(twin.prereqs["subnets"])
        assert sorted(i["Placement"]["AvailabilityZone"] for i in instances) == AZS
        for instance in instances:
            tags = _tags(instance["Tags"])
            assert instance["State"]["Name"] == "running"
            assert instance["InstanceType"] == INSTANCE_TYPE
            assert instance["ImageId"] == twin.prereqs["ami"]["ImageId"]
            assert {k: tags.get(k) for k in HOST_TAGS} == HOST_TAGS
            assert tags["Name"] == TRAINING
            # Launched from the training template, as AWS records it on the instance.
            assert tags["aws:ec2launchtemplate:id"] == lt["LaunchTemplateId"]
            assert tags["aws:ec2launchtemplate:version"] == str(lt["LatestVersionNumber"])
            (eni,) = instance["NetworkInterfaces"]
            assert [g["GroupId"] for g in eni["Groups"]] == [twin.prereqs["sg"]]

    def test_each_instance_has_its_data_volume(self, twin: Twin, converged: Run):
        instances = twin.instances()
        volumes = twin.tagged("describe_volumes", "Volumes", name=DATA)

        assert len(volumes) == 2
        by_instance = {_tags(v["Tags"])["InstanceId"]: v for v in volumes}
        assert set(by_instance) == {i["InstanceId"] for i in instances}
        for instance in instances:
            volume = by_instance[instance["InstanceId"]]
            assert (volume["Size"], volume["VolumeType"], volume["Iops"], volume["Throughput"]) == (1000, "gp3", 3000, 125)
            assert volume["Encrypted"] is True
            assert volume["AvailabilityZone"] == instance["Placement"]["AvailabilityZone"]
            assert [(a["InstanceId"], a["Device"], a["State"]) for a in volume["Attachments"]] == [
                (instance["InstanceId"], "/dev/sdf", "attached")
            ]
            assert _tags(volume["Tags"]) == {**HOST_TAGS, "Name": DATA, "InstanceId": instance["InstanceId"]}
            # Kept when the instance goes (moto leaves DeleteOnTermination out of the
            # volume's attachments: read it from the instance's mapping).
            mapping = {m["DeviceName"]: m["Ebs"] for m in instance["BlockDeviceMappings"]}
            assert mapping["/dev/sdf"]["VolumeId"] == volume["VolumeId"]
            assert mapping["/dev/sdf"]["DeleteOnTermination"] is False

    def test_each_instance_has_an_elastic_ip(self, twin: Twin, converged: Run):
        addresses = twin.tagged("describe_addresses", "Addresses", name=EIP)

        assert sorted(a.get("InstanceId") for a in addresses) == sorted(i["InstanceId"] for i in twin.instances())
        for address in addresses:
            assert address["Domain"] == "vpc"
            assert _tags(address["Tags"]) == {**HOST_TAGS, "Name": EIP, "InstanceId": address["InstanceId"]}

    def test_pool(self, twin: Twin, converged: Run):
        lt, _ = twin.template(POOL)
        (group,) = twin.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[POOL])["AutoScalingGroups"]

        assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 10, 1)
        assert group["HealthCheckType"] == "EC2"
        assert group["HealthCheckGracePeriod"] == 300
        assert group["TerminationPolicies"] == ["OldestInstance"]
        assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(twin.prereqs["subnets"])
        assert group["LaunchTemplate"]["LaunchTemplateName"] == POOL
        assert group["LaunchTemplate"]["LaunchTemplateId"] == lt["LaunchTemplateId"]
        assert group["LaunchTemplate"]["Version"] == str(lt["LatestVersionNumber"])
        tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
        assert tags == {k: (v, True) for k, v in {**HOST_TAGS, "Name": POOL}.items()}

    def test_schedule(self, twin: Twin, converged: Run):
        actions = twin.asg.describe_scheduled_actions(AutoScalingGroupName=POOL)["ScheduledUpdateGroupActions"]

        got = {
            a["ScheduledActionName"]: (a["Recurrence"], a["MinSize"], a["DesiredCapacity"], a["MaxSize"], a["TimeZone"])
            for a in actions
        }
        assert got == {
            f"{POOL}-scale-up": ("0 8 * * MON-FRI", 0, 4, 10, "UTC"),
            f"{POOL}-scale-down": ("0 20 * * *", 0, 0, 10, "UTC"),
        }

    def test_outputs(self, twin: Twin, converged: Run):
        instances = sorted(twin.instances(), key=lambda i: AZS.index(i["Placement"]["AvailabilityZone"]))
        volumes = {_tags(v["Tags"])["InstanceId"]: v["VolumeId"] for v in twin.tagged("describe_volumes", "Volumes", name=DATA)}
        addresses = {a["InstanceId"]: a["PublicIp"] for a in twin.tagged("describe_addresses", "Addresses", name=EIP)}
        out = converged.outputs

        assert out["instance_ids"] == [i["InstanceId"] for i in instances]
        assert out["private_ips"] == [i["PrivateIpAddress"] for i in instances]
        assert out["data_volume_ids"] == [volumes[i["InstanceId"]] for i in instances]
        assert out["eips"] == [addresses[i["InstanceId"]] for i in instances]
        assert out["orphaned_data_volume_ids"] == []
        assert [(o["id"], o["availability_zone"], o["data_volume_id"], o["public_ip"]) for o in out["instances"]] == [
            (i["InstanceId"], i["Placement"]["AvailabilityZone"], volumes[i["InstanceId"]], addresses[i["InstanceId"]])
            for i in instances
        ]
        assert {k: v["id"] for k, v in out["launch_templates"].items()} == {
            "training": twin.template(TRAINING)[0]["LaunchTemplateId"],
            "pool": twin.template(POOL)[0]["LaunchTemplateId"],
        }
        assert out["asg_name"] == POOL
        assert out["ami_id"] == twin.prereqs["ami"]["ImageId"]

    def test_second_run_changes_nothing(self, twin: Twin, converged: Run):
        run = twin.play()
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        assert run.outputs == converged.outputs
        assert twin.template(TRAINING)[0]["LatestVersionNumber"] == 1

    def test_check_mode_on_converged_account_reports_no_change(self, twin: Twin, converged: Run):
        run = twin.play(check=True)
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        assert run.outputs == converged.outputs


# --------------------------------------------------------------------------- absent


class TestAbsent:
    """In order: teardown keeping the data, teardown deleting it, teardown again."""

    def test_absent_removes_all_but_the_data_volumes(self, twin: Twin):
        assert len(twin.instances()) == 2, "needs the converged platform of TestPresent"
        data_volumes = {v["VolumeId"] for v in twin.tagged("describe_volumes", "Volumes", name=DATA)}

        run = twin.play(aws_compute_state="absent")

        assert_converged_run(run)
        assert run.recap["changed"] > 0
        assert twin.instances(name=None) == [], "training and pool instances must be terminated"
        assert twin.tagged("describe_addresses", "Addresses") == []
        assert twin.template_names() == set()
        assert twin.asg_names() == set()
        assert twin.asg.describe_scheduled_actions()["ScheduledUpdateGroupActions"] == []
        kept = twin.tagged("describe_volumes", "Volumes")
        assert {v["VolumeId"] for v in kept} == data_volumes
        assert {v["State"] for v in kept} == {"available"}
        assert sorted(run.outputs["orphaned_data_volume_ids"]) == sorted(data_volumes)
        assert "Kept 2 data volume(s)" in run.output

    def test_absent_with_destroy_data_deletes_the_data_volumes(self, twin: Twin):
        assert len(twin.tagged("describe_volumes", "Volumes", name=DATA)) == 2, "needs the kept data volumes"

        run = twin.play(aws_compute_state="absent", aws_compute_destroy_data=True)

        assert_converged_run(run)
        assert run.recap["changed"] > 0
        # moto also leaks an untagged 8 GiB default root volume per instance launched
        # from a template with a root mapping (AWS creates only the template's): only the
        # role's volumes are counted.
        assert twin.tagged("describe_volumes", "Volumes") == []
        assert run.outputs["orphaned_data_volume_ids"] == []

    def test_second_absent_is_a_noop(self, twin: Twin):
        run = twin.play(aws_compute_state="absent", aws_compute_destroy_data=True)
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
