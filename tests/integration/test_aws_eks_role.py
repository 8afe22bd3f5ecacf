"""Integration tests of roles/aws_eks against the twin.

Starts a twin of its own (twin/twinctl on a free port, state in a temporary directory),
creates the network and IAM prerequisites with boto3, runs
tests/integration/playbooks/aws_eks.yml with ansible-playbook from the project root and
reads the result back with boto3. Needs no network beyond loopback.

    .venv/bin/python -m pytest tests/integration/test_aws_eks_role.py -q -x

The tests depend on each other's state and run in file order: bad input and check mode on
an account without the cluster, then present (and its re-runs), then absent.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import platform_harness
from platform_harness import RoleRun as Run
from platform_harness import free_port
from platform_harness import play_role

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = "tests/integration/playbooks/aws_eks.yml"

REGION = "us-west-2"
ACCOUNT = "123456789012"  # the twin's account
PREFIX = "mlit"
CLUSTER = "mlit-eks"
KMS_ALIAS = f"alias/{PREFIX}-eks-secrets"
FIND_TAGS = {"Project": "ml-platform", "Environment": "local", "ManagedBy": "ansible-mlinfra"}
TAGS = {**FIND_TAGS, "CostCenter": "AI-Research", "Owner": "ml-infra"}
PUBLIC_CIDRS = ["203.0.113.0/24", "198.51.100.0/24"]
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}

# The role's default node groups, as the test expects them on the twin.
NODE_GROUPS = {
    "cpu-nodes": {
        "capacityType": "ON_DEMAND",
        "instanceTypes": ["m6i.xlarge"],
        "scalingConfig": {"minSize": 2, "maxSize": 10, "desiredSize": 2},
        "amiType": "AL2023_x86_64_STANDARD",
        "diskSize": 20,
        "labels": {"workload": "cpu", "role": "general"},
        "taints": [],
        "extra_tags": {},
    },
    "gpu-nodes": {
        "capacityType": "SPOT",
        "instanceTypes": ["g5.xlarge", "g5.2xlarge"],
        "scalingConfig": {"minSize": 0, "maxSize": 10, "desiredSize": 0},
        "amiType": "AL2023_x86_64_NVIDIA",
        "diskSize": 200,
        "labels": {"workload": "gpu", "role": "ml-training", "gpu-type": "a10g", "nvidia.com/gpu": "true"},
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        "extra_tags": {},
    },
    "inference-nodes": {
        "capacityType": "SPOT",
        "instanceTypes": ["g4dn.xlarge", "g5.xlarge"],
        "scalingConfig": {"minSize": 1, "maxSize": 20, "desiredSize": 1},
        "amiType": "AL2023_x86_64_NVIDIA",
        "diskSize": 20,
        "labels": {"workload": "inference", "role": "model-serving"},
        "taints": [{"key": "workload", "value": "inference", "effect": "NO_SCHEDULE"}],
        "extra_tags": {"k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{CLUSTER}": "owned"},
    },
}


def default_node_groups() -> list[dict]:
    """The role's aws_eks_node_groups default, to derive broken variants from."""
    defaults = yaml.safe_load((ROOT / "roles" / "aws_eks" / "defaults" / "main.yml").read_text())
    return copy.deepcopy(defaults["aws_eks_node_groups"])


def with_group(name: str, **changes) -> list[dict]:
    groups = default_node_groups()
    for group in groups:
        if group["name"] == name:
            group.update(changes)
    return groups


# --------------------------------------------------------------------------- helpers


class Twin(platform_harness.Twin):
    """A twin on its own port, with the prerequisites the role is given."""

    def __init__(self, port: int, workdir: Path):
        super().__init__(port, state_dir=workdir / "twin")
        self.workdir = workdir
        self.inputs: dict = {}
        self._runs = 0

    def create_prerequisites(self) -> None:
        """What the network and IAM layers hand over: subnets, a security group, two roles."""
        ec2, iam = self.client("ec2"), self.client("iam")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = {}
        for tier, cidr, az in [
            ("private", "10.0.10.0/24", "a"),
            ("private", "10.0.11.0/24", "b"),
            ("public", "10.0.1.0/24", "a"),
            ("public", "10.0.2.0/24", "b"),
        ]:
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"]
            subnets.setdefault(tier, []).append(subnet["SubnetId"])
        sg = ec2.create_security_group(GroupName=f"{PREFIX}-eks-cluster", Description="EKS cluster", VpcId=vpc)
        roles = {}
        for key, service, policies in [
            ("eks-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]),
            ("eks-node", "ec2.amazonaws.com", ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                                               "AmazonEC2ContainerRegistryReadOnly"]),
        ]:
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            roles[key] = iam.create_role(RoleName=f"{PREFIX}-{key}", AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
            for policy in policies:
                iam.attach_role_policy(RoleName=f"{PREFIX}-{key}", PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
        self.inputs = {
            "aws_eks_private_subnet_ids": subnets["private"],
            "aws_eks_public_subnet_ids": subnets["public"],
            "aws_eks_cluster_security_group_ids": [sg["GroupId"]],
            "aws_eks_cluster_role_arn": roles["eks-cluster"],
            "aws_eks_node_role_arn": roles["eks-node"],
        }

    def play(self, check: bool = False, **overrides) -> Run:
        """Run the test playbook with the standard inputs, updated by overrides (None deletes)."""
        self._runs += 1
        outputs_file = self.workdir / f"outputs-{self._runs}.json"
        extra = {
            "aws_eks_test_endpoint_url": self.url,
            "aws_eks_test_outputs_file": str(outputs_file),
            **self.inputs,
            "aws_eks_name_prefix": PREFIX,
            "aws_eks_cluster_name": CLUSTER,
            "aws_eks_tags": TAGS,
            "aws_eks_find_tags": FIND_TAGS,
            "aws_eks_public_access_cidrs": PUBLIC_CIDRS,
            "aws_eks_require_public_cidrs": True,
            # The twin's issuer has no TLS endpoint to read a thumbprint from.
            "aws_eks_oidc_thumbprint_from_issuer": False,
            "aws_eks_oidc_thumbprints": [THUMBPRINT],
            # Everything on the twin is ready at once: poll jobs every second, not every 30.
            "aws_eks_poll_interval": 1,
        }
        extra.update(overrides)
        return play_role(PLAYBOOK, extra, self.workdir, self._runs, outputs_file, check=check)

    # What exists, straight from the API -------------------------------------------

    def clusters(self) -> list[str]:
        return self.client("eks").list_clusters()["clusters"]

    def oidc_providers(self) -> list[str]:
        return [p["Arn"] for p in self.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    def secrets_key(self) -> dict | None:
        kms = self.client("kms")
        for alias in kms.list_aliases()["Aliases"]:
            if alias["AliasName"] == KMS_ALIAS and "TargetKeyId" in alias:
                return kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
        return None


def _tags(tag_list: list[dict], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tag_list}


def assert_converged_run(run: Run) -> None:
    assert run.rc == 0, run.explain()
    assert run.recap and run.recap["failed"] == 0 and run.recap["unreachable"] == 0, run.explain()


def task_result(run: Run, task: str) -> str | None:
    """The status (ok, changed, skipping, ...) of the first result line of a role task."""
    match = re.search(
        r"^TASK \[mlinfra\.gpu_platform\.aws_eks : " + re.escape(task) + r"\].*?^(\w+): \[localhost\]",
        run.output,
        re.MULTILINE | re.DOTALL,
    )
    return match.group(1) if match else None


def assert_says(run: Run, message: str) -> None:
    """The message is in the output, however the YAML callback wrapped and quoted it."""
    flat = " ".join(run.output.replace("''", "'").split())
    assert " ".join(message.split()) in flat, run.explain()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Iterator[Twin]:
    workdir = tmp_path_factory.mktemp("aws_eks")
    t = Twin(free_port(), workdir)
    up = t.ctl("up", timeout=60)
    assert up.returncode == 0 and "started" in up.stdout, f"twinctl up failed: {up.stdout}{up.stderr}"
    try:
        t.create_prerequisites()
        yield t
    finally:
        t.ctl("down", timeout=60)


@pytest.fixture(scope="module")
def converged(twin: Twin) -> Run:
    """The first present run on an account without the cluster."""
    run = twin.play()
    assert_converged_run(run)
    return run


# --------------------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"aws_eks_node_groups": with_group("cpu-nodes", min_size=5, max_size=3, desired_size=4)},
            "Node group 'cpu-nodes': needs 0 <= min_size <= desired_size <= max_size and max_size >= 1; "
            "got min_size 5, desired_size 4, max_size 3 (min_size is greater than max_size)",
        ),
        (
            {"aws_eks_node_groups": with_group("gpu-nodes", desired_size=11)},
            "Node group 'gpu-nodes': needs 0 <= min_size <= desired_size <= max_size and max_size >= 1; "
            "got min_size 0, desired_size 11, max_size 10 (desired_size is outside min_size..max_size)",
        ),
        (
            {"aws_eks_node_groups": with_group("inference-nodes", capacity_type="RESERVED")},
            "value of capacity_type must be one of: ON_DEMAND, SPOT, got: RESERVED found in aws_eks_node_groups",
        ),
        (
            {"aws_eks_node_groups": with_group("gpu-nodes", instance_types=["m6i.xlarge", "c6i.2xlarge"])},
            "Node group 'gpu-nodes' is set up for NVIDIA GPUs (label nvidia.com/gpu, taint nvidia.com/gpu, "
            "GPU AMI type AL2023_x86_64_NVIDIA) but m6i.xlarge, c6i.2xlarge are not GPU instance types",
        ),
        (
            # Labelled for GPUs only: the label alone is enough to require GPU instances.
            {"aws_eks_node_groups": with_group("cpu-nodes", labels={"workload": "cpu", "nvidia.com/gpu": "true"})},
            "Node group 'cpu-nodes' is set up for NVIDIA GPUs (label nvidia.com/gpu) but m6i.xlarge is not a GPU "
            "instance type",
        ),
        (
            {"aws_eks_kubernetes_version": "1.28"},
            "Kubernetes version 1.28 is not supported: aws_eks_kubernetes_version must be one of "
            "1.33, 1.34, 1.35",
        ),
        (
            {"aws_eks_public_access_cidrs": []},
            "aws_eks_endpoint_public_access is true but aws_eks_public_access_cidrs is empty",
        ),
        (
            {"aws_eks_public_access_cidrs": ["0.0.0.0/0"]},
            "aws_eks_require_public_cidrs is true (production): the public Kubernetes API endpoint must not be open "
            "to the whole internet (0.0.0.0/0)",
        ),
        (
            {"aws_eks_node_groups": with_group("gpu-nodes", ami_type="AL2_x86_64_GPU")},
            "Node group 'gpu-nodes': ami_type AL2_x86_64_GPU cannot be used with Kubernetes 1.34.",
        ),
        (
            {"aws_eks_node_groups": with_group("cpu-nodes", ami_type="AL2023_x86_64_GPU")},
            "Node group 'cpu-nodes': ami_type AL2023_x86_64_GPU cannot be used with Kubernetes 1.34.",
        ),
        (
            {"aws_eks_node_groups": with_group("inference-nodes", ami_type="AL2023_x86_64_STANDARD")},
            "Node group 'inference-nodes' runs on GPU instance types (g4dn.xlarge, g5.xlarge) but ami_type "
            "AL2023_x86_64_STANDARD has no NVIDIA driver",
        ),
    ],
    ids=[
        "min-above-max",
        "desired-outside",
        "unknown-capacity-type",
        "gpu-taint-on-cpu-types",
        "gpu-label-on-cpu-types",
        "unsupported-version",
        "empty-public-cidrs",
        "open-public-endpoint",
        "al2-ami-on-1.34",
        "unknown-ami-type",
        "standard-ami-on-gpu-types",
    ],
)
def test_bad_input_fails_before_any_request(twin: Twin, overrides, message):
    before = twin.requests()
    run = twin.play(**overrides)

    assert run.rc != 0, run.explain()
    assert_says(run, message)
    assert twin.requests() == before, "a request reached the twin before the input was rejected"


# --------------------------------------------------------------------------- check mode, no cluster yet


def test_check_mode_on_empty_account_creates_nothing(twin: Twin):
    assert twin.clusters() == [], "this test needs an account without the cluster"
    run = twin.play(check=True)

    assert_converged_run(run)
    assert run.recap["changed"] == 2, "check mode should predict the key and the cluster\n" + run.explain()
    assert twin.clusters() == []
    assert twin.secrets_key() is None
    assert twin.oidc_providers() == []
    assert run.outputs["planned"] is True
    assert run.outputs["node_group_names"] == list(NODE_GROUPS)
    assert run.outputs["cluster_arn"] is None and run.outputs["kubectl_command"] is None


# --------------------------------------------------------------------------- present


class TestPresent:
    def test_first_run_creates(self, converged: Run):
        assert converged.recap["changed"] > 0
        # The cluster and the node groups were created by jobs, polled to completion.
        assert task_result(converged, "Wait for the cluster to be ACTIVE") == "changed"
        assert task_result(converged, "Wait for the new node groups to be ACTIVE") == "changed"
        waits = converged.output.split("Wait for the new node groups to be ACTIVE", 1)[1].split("TASK [", 1)[0]
        waited = re.findall(r"^changed: \[localhost\] => \(item=(\S+)\)", waits, re.MULTILINE)
        assert sorted(waited) == sorted(NODE_GROUPS)

    def test_secrets_key(self, twin: Twin, converged: Run):
        key = twin.secrets_key()
        assert key is not None and key["KeyState"] == "Enabled"
        assert key["Arn"] == converged.outputs["kms_key_arn"]
        kms = twin.client("kms")
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
        tags = _tags(kms.list_resource_tags(KeyId=key["KeyId"])["Tags"], "TagKey", "TagValue")
        assert tags == {**TAGS, "Name": f"{PREFIX}-eks-secrets"}

    def test_cluster(self, twin: Twin, converged: Run):
        cluster = twin.client("eks").describe_cluster(name=CLUSTER)["cluster"]
        vpc = cluster["resourcesVpcConfig"]

        assert cluster["status"] == "ACTIVE"
        assert cluster["version"] == "1.34"
        assert cluster["roleArn"] == twin.inputs["aws_eks_cluster_role_arn"]
        assert sorted(vpc["subnetIds"]) == sorted(
            twin.inputs["aws_eks_private_subnet_ids"] + twin.inputs["aws_eks_public_subnet_ids"]
        )
        assert vpc["securityGroupIds"] == twin.inputs["aws_eks_cluster_security_group_ids"]
        assert vpc["endpointPrivateAccess"] is True
        assert vpc["endpointPublicAccess"] is True
        assert sorted(vpc["publicAccessCidrs"]) == sorted(PUBLIC_CIDRS)
        assert cluster["encryptionConfig"] == [
            {"resources": ["secrets"], "provider": {"keyArn": twin.secrets_key()["Arn"]}}
        ]
        enabled = {t for e in cluster["logging"]["clusterLogging"] if e.get("enabled") for t in e["types"]}
        assert enabled == LOG_TYPES
        assert cluster["tags"] == {**TAGS, "Name": CLUSTER}

    def test_oidc_provider(self, twin: Twin, converged: Run):
        issuer = twin.client("eks").describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
        arns = twin.oidc_providers()
        assert arns == [converged.outputs["oidc_provider_arn"]]
        provider = twin.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=arns[0])

        assert provider["Url"] == issuer.removeprefix("https://")
        assert provider["ClientIDList"] == ["sts.amazonaws.com"]
        assert provider["ThumbprintList"] == [THUMBPRINT]
        assert _tags(provider["Tags"]) == {**TAGS, "Name": f"{PREFIX}-eks-oidc"}

    def test_cluster_security_group(self, twin: Twin, converged: Run):
        vpc = twin.client("eks").describe_cluster(name=CLUSTER)["cluster"]["resourcesVpcConfig"]
        group = twin.client("ec2").describe_security_groups(GroupIds=[vpc["clusterSecurityGroupId"]])["SecurityGroups"][0]
        assert converged.outputs["cluster_security_group_id"] == group["GroupId"]
        assert group["GroupName"].startswith(f"eks-cluster-sg-{CLUSTER}-")
        assert group["VpcId"] == vpc["vpcId"]

    @pytest.mark.parametrize("name", NODE_GROUPS)
    def test_node_group(self, twin: Twin, converged: Run, name: str):
        eks = twin.client("eks")
        expected = NODE_GROUPS[name]
        group = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"]

        assert group["status"] == "ACTIVE"
        for field in ("capacityType", "instanceTypes", "scalingConfig", "amiType", "diskSize", "labels"):
            assert group[field] == expected[field], field
        assert sorted(group["taints"], key=lambda t: t["key"]) == expected["taints"]
        assert group["subnets"] == twin.inputs["aws_eks_private_subnet_ids"], "nodes belong in the private subnets"
        assert group["nodeRole"] == twin.inputs["aws_eks_node_role_arn"]
        assert group["updateConfig"] == {"maxUnavailable": 1}
        tags = eks.list_tags_for_resource(resourceArn=group["nodegroupArn"])["tags"]
        assert tags == {**TAGS, "Name": f"{CLUSTER}-{name}", **expected["extra_tags"]}

    def test_only_the_listed_node_groups(self, twin: Twin, converged: Run):
        assert sorted(twin.client("eks").list_nodegroups(clusterName=CLUSTER)["nodegroups"]) == sorted(NODE_GROUPS)

    def test_outputs(self, twin: Twin, converged: Run):
        cluster = twin.client("eks").describe_cluster(name=CLUSTER)["cluster"]
        assert converged.outputs == {
            "cluster_name": CLUSTER,
            "cluster_arn": cluster["arn"],
            "cluster_version": "1.34",
            "endpoint": cluster["endpoint"],
            "certificate_authority_data": cluster["certificateAuthority"]["data"],
            "cluster_security_group_id": cluster["resourcesVpcConfig"].get("clusterSecurityGroupId"),
            "oidc_issuer": cluster["identity"]["oidc"]["issuer"],
            "oidc_provider_arn": twin.oidc_providers()[0],
            "kms_key_arn": twin.secrets_key()["Arn"],
            "node_group_names": list(NODE_GROUPS),
            "kubectl_command": f"aws eks update-kubeconfig --region {REGION} --name {CLUSTER}",
            "kubeconfig": None,
            "planned": False,
        }

    def test_second_run_changes_nothing_and_starts_no_job(self, twin: Twin, converged: Run):
        run = twin.play()
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        for task in ("Create or update the cluster", "Start creating the missing node groups"):
            assert task_result(run, task) == "skipping", f"{task}: a job was started for what exists"
        assert "RETRYING" not in run.output
        assert run.outputs == converged.outputs

    def test_check_mode_on_converged_account_reports_no_change(self, twin: Twin, converged: Run):
        run = twin.play(check=True)
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        assert run.outputs == converged.outputs


    def test_taint_and_label_changes_are_applied_in_place(self, twin: Twin, converged: Run):
        eks = twin.client("eks")
        taints = [{"key": "workload", "value": "serving", "effect": "NO_SCHEDULE"}]
        labels = {**NODE_GROUPS["gpu-nodes"]["labels"], "gpu-type": "l4"}
        groups = with_group("inference-nodes", taints=taints)
        for group in groups:
            if group["name"] == "gpu-nodes":
                group["labels"] = labels

        check = twin.play(check=True, aws_eks_node_groups=groups)
        assert_converged_run(check)
        assert check.recap["changed"] == 1, "check mode should report the two node groups' update\n" + check.explain()
        group = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="inference-nodes")["nodegroup"]
        assert group["taints"] == NODE_GROUPS["inference-nodes"]["taints"], "check mode changed the taint"

        run = twin.play(aws_eks_node_groups=groups)
        assert_converged_run(run)
        assert run.recap["changed"] == 1, "the node group update task, for two node groups\n" + run.explain()
        assert task_result(run, "Start creating the missing node groups") == "skipping"
        inference = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="inference-nodes")["nodegroup"]
        assert inference["taints"] == taints
        assert inference["labels"] == NODE_GROUPS["inference-nodes"]["labels"]
        gpu = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="gpu-nodes")["nodegroup"]
        assert gpu["labels"] == labels
        assert gpu["taints"] == NODE_GROUPS["gpu-nodes"]["taints"]

        # And back to the defaults, which the later tests expect.
        run = twin.play()
        assert_converged_run(run)
        assert run.recap["changed"] == 1, run.explain()
        inference = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="inference-nodes")["nodegroup"]
        assert inference["taints"] == NODE_GROUPS["inference-nodes"]["taints"]
        gpu = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="gpu-nodes")["nodegroup"]
        assert gpu["labels"] == NODE_GROUPS["gpu-nodes"]["labels"]

    def test_changes_eks_cannot_make_in_place_are_refused(self, twin: Twin, converged: Run):
        run = twin.play(aws_eks_node_groups=with_group("gpu-nodes", disk_size=300))
        assert run.rc != 0, run.explain()
        assert_says(run, "Cannot update EKS node group gpu-nodes of cluster mlit-eks: EKS cannot change disk_size "
                         "(is 200, 300 was asked)")
        eks = twin.client("eks")
        assert eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="gpu-nodes")["nodegroup"]["diskSize"] == 200

    def test_changed_settings_are_applied(self, twin: Twin, converged: Run):
        """Runs last in the class: leaves the cluster and cpu-nodes changed."""
        eks = twin.client("eks")
        # The cluster autoscaler has started GPU nodes: the role must not stop them.
        eks.update_nodegroup_config(clusterName=CLUSTER, nodegroupName="gpu-nodes", scalingConfig={"desiredSize": 4})
        groups = with_group(
            "cpu-nodes",
            min_size=3,
            max_size=12,
            desired_size=5,
            labels={**NODE_GROUPS["cpu-nodes"]["labels"], "tier": "batch"},
            tags={"Team": "platform"},
        )
        run = twin.play(
            aws_eks_logging=["api", "audit"],
            aws_eks_public_access_cidrs=[*PUBLIC_CIDRS, "192.0.2.0/24"],
            aws_eks_node_groups=groups,
        )
        assert_converged_run(run)
        assert run.recap["changed"] == 2, "the cluster and cpu-nodes\n" + run.explain()
        assert task_result(run, "Wait for the cluster to be ACTIVE") == "changed"

        cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
        enabled = {t for e in cluster["logging"]["clusterLogging"] if e.get("enabled") for t in e["types"]}
        assert enabled == {"api", "audit"}
        assert sorted(cluster["resourcesVpcConfig"]["publicAccessCidrs"]) == sorted([*PUBLIC_CIDRS, "192.0.2.0/24"])
        cpu = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="cpu-nodes")["nodegroup"]
        # The running desired size (2) is kept, only moved up to the new minimum.
        assert cpu["scalingConfig"] == {"minSize": 3, "maxSize": 12, "desiredSize": 3}
        assert cpu["labels"] == {**NODE_GROUPS["cpu-nodes"]["labels"], "tier": "batch"}
        # Node group tags are changed in place.
        tags = eks.list_tags_for_resource(resourceArn=cpu["nodegroupArn"])["tags"]
        assert tags == {**TAGS, "Name": f"{CLUSTER}-cpu-nodes", "Team": "platform"}
        gpu = eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName="gpu-nodes")["nodegroup"]
        assert gpu["scalingConfig"] == {"minSize": 0, "maxSize": 10, "desiredSize": 4}


# --------------------------------------------------------------------------- absent


class TestAbsent:
    def test_absent_refuses_a_cluster_without_the_identity_tags(self, twin: Twin, converged: Run):
        foreign = "mlit-foreign"
        twin.client("eks").create_cluster(
            name=foreign,
            roleArn=twin.inputs["aws_eks_cluster_role_arn"],
            resourcesVpcConfig={"subnetIds": twin.inputs["aws_eks_private_subnet_ids"]},
            tags={"Project": "someone-else"},
        )
        try:
            run = twin.play(aws_eks_state="absent", aws_eks_cluster_name=foreign)
            assert run.rc != 0, run.explain()
            assert_says(run, f"EKS cluster {foreign} exists but its tags")
            assert_says(run, "refusing to delete it")
            assert foreign in twin.clusters()
        finally:
            twin.client("eks").delete_cluster(name=foreign)

    def test_absent_removes_everything(self, twin: Twin, converged: Run):
        eks = twin.client("eks")
        # As after an interrupted absent: one node group and the OIDC provider already gone.
        eks.delete_nodegroup(clusterName=CLUSTER, nodegroupName="gpu-nodes")
        twin.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=twin.oidc_providers()[0])

        check = twin.play(aws_eks_state="absent", check=True)
        assert_converged_run(check)
        assert check.recap["changed"] > 0
        assert CLUSTER in twin.clusters(), "check mode deleted the cluster"
        assert twin.secrets_key()["KeyState"] == "Enabled", "check mode scheduled the key's deletion"

        run = twin.play(aws_eks_state="absent")
        assert_converged_run(run)
        assert run.recap["changed"] > 0

        assert twin.clusters() == []
        with pytest.raises(eks.exceptions.ResourceNotFoundException):
            eks.list_nodegroups(clusterName=CLUSTER)
        for name in NODE_GROUPS:
            with pytest.raises(eks.exceptions.ResourceNotFoundException):
                eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)
        # The security group EKS creates for the cluster goes with it.
        groups = twin.client("ec2").describe_security_groups()["SecurityGroups"]
        assert [g["GroupName"] for g in groups if g["GroupName"].startswith("eks-cluster-sg-")] == []
        assert twin.oidc_providers() == []
        key = twin.secrets_key()
        assert key["KeyState"] == "PendingDeletion"
        assert key["Arn"] == converged.outputs["kms_key_arn"]
        assert run.outputs["cluster_arn"] is None and run.outputs["node_group_names"] == []

    def test_second_absent_changes_nothing(self, twin: Twin, converged: Run):
        run = twin.play(aws_eks_state="absent")
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        assert twin.secrets_key()["KeyState"] == "PendingDeletion"
