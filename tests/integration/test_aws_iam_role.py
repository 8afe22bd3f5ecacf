"""Integration tests of roles/aws_iam against the twin's AWS emulator.

Starts a twin of its own (fixture own_twin in tests/conftest.py: twin/twinctl up on a free
port, state in a temporary directory; the twin loads AWS managed IAM policies), runs
tests/integration/playbooks/aws_iam.yml with ansible-playbook from the project root and
checks what it left in IAM with boto3. Needs no network beyond loopback.

    .venv/bin/python -m pytest tests/integration/test_aws_iam_role.py -q -x
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest

from platform_harness import RoleRun as Run
from platform_harness import play_role

PLAYBOOK = "tests/integration/playbooks/aws_iam.yml"
IRSA_PLAYBOOK = "tests/integration/playbooks/aws_iam_irsa.yml"

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-west-2"
PREFIX = "mlit"
CLUSTER = "mlit-eks"
ECR_PREFIX = "mlit/"
BUCKETS = {
    "datasets": f"arn:aws:s3:::mlit-datasets-{ACCOUNT}",
    "models": f"arn:aws:s3:::mlit-models-{ACCOUNT}",
    "artifacts": f"arn:aws:s3:::mlit-artifacts-{ACCOUNT}",
}
FIND_TAGS = {"Project": "ml-platform", "Environment": "local", "ManagedBy": "ansible-mlinfra"}
TAGS = {**FIND_TAGS, "CostCenter": "AI-Research", "Owner": "ml-infra"}

ROLE_NAMES = {
    "training": f"{PREFIX}-training",
    "inference": f"{PREFIX}-inference",
    "eks_cluster": f"{PREFIX}-eks-cluster",
    "eks_node": f"{PREFIX}-eks-node",
}
PROFILE_NAMES = {"training": f"{PREFIX}-training", "inference": f"{PREFIX}-inference"}
TRUSTED_SERVICE = {
    "training": "ec2.amazonaws.com",
    "inference": "ec2.amazonaws.com",
    "eks_cluster": "eks.amazonaws.com",
    "eks_node": "ec2.amazonaws.com",
}
MANAGED = {
    "training": {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
    "inference": {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
    "eks_cluster": {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"},
    "eks_node": {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    },
}

# Expected inline policies: role key -> policy name -> Sid -> (actions, resources, condition).
_ECR_REPOS = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{ECR_PREFIX}*"
_LOG_GROUPS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ml-platform*"
_METRICS_CONDITION = {"StringEquals": {"cloudwatch:namespace": "MLPlatform"}}
_ECR_PULL = {"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}
_ALL_BUCKETS = [BUCKETS["datasets"], BUCKETS["models"], BUCKETS["artifacts"]]
_NODE_BUCKETS = [BUCKETS["datasets"], BUCKETS["models"]]
INLINE = {
    "training": {
        f"{PREFIX}-training-access": {
            "ListMlBuckets": ({"s3:ListBucket"}, set(_ALL_BUCKETS), None),
            "ReadWriteMlObjects": (
                {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
                {f"{b}/*" for b in _ALL_BUCKETS},
                None,
            ),
            "EcrAuthorizationToken": ({"ecr:GetAuthorizationToken"}, {"*"}, None),
            "EcrPullImages": (_ECR_PULL, {_ECR_REPOS}, None),
            "WriteLogs": (
                {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
                {_LOG_GROUPS},
                None,
            ),
            "PutPlatformMetrics": ({"cloudwatch:PutMetricData"}, {"*"}, _METRICS_CONDITION),
            "ReadPlatformSecrets": (
                {"secretsmanager:GetSecretValue"},
                {f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ml/*"},
                None,
            ),
        }
    },
    "inference": {
        f"{PREFIX}-inference-access": {
            "ListModelsBucket": ({"s3:ListBucket"}, {BUCKETS["models"]}, None),
            "ReadModels": ({"s3:GetObject"}, {f"{BUCKETS['models']}/*"}, None),
            "EcrAuthorizationToken": ({"ecr:GetAuthorizationToken"}, {"*"}, None),
            "EcrPullImages": (_ECR_PULL, {_ECR_REPOS}, None),
            "WriteLogs": ({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, {_LOG_GROUPS}, None),
            "PutPlatformMetrics": ({"cloudwatch:PutMetricData"}, {"*"}, _METRICS_CONDITION),
        }
    },
    "eks_cluster": {},
    "eks_node": {
        f"{PREFIX}-eks-node-s3": {
            "ListDatasetAndModelBuckets": ({"s3:ListBucket"}, set(_NODE_BUCKETS), None),
            "ReadWriteDatasetsAndModels": (
                {"s3:GetObject", "s3:PutObject"},
                {f"{b}/*" for b in _NODE_BUCKETS},
                None,
            ),
        },
        f"{PREFIX}-eks-node-cluster-autoscaler": {
            "DiscoverScalingGroups": (
                {
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                },
                {"*"},
                None,
            ),
            "DescribeClusterNodegroups": (
                {"eks:DescribeNodegroup"},
                {f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/{CLUSTER}/*/*"},
                None,
            ),
            "ScaleOwnedGroups": (
                {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
                {f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/*"},
                {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{CLUSTER}": "owned"}},
            ),
        },
    },
}


# --------------------------------------------------------------------------- helpers


class Moto:
    def __init__(self, url: str, workdir: Path):
        self.url = url
        self.workdir = workdir
        self.iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self._runs = 0

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def play(self, check: bool = False, playbook: str = PLAYBOOK, **overrides) -> Run:
        """Run the test playbook with the standard inputs, updated by overrides (None deletes)."""
        self._runs += 1
        outputs_file = self.workdir / f"outputs-{self._runs}.json"
        extra = {
            "aws_iam_test_endpoint_url": self.url,
            "aws_iam_test_outputs_file": str(outputs_file),
            "aws_iam_name_prefix": PREFIX,
            "aws_iam_account_id": ACCOUNT,
            "aws_iam_region": REGION,
            "aws_iam_cluster_name": CLUSTER,
            "aws_iam_bucket_arns": BUCKETS,
            "aws_iam_ecr_repository_prefix": ECR_PREFIX,
            "aws_iam_tags": TAGS,
            "aws_iam_find_tags": FIND_TAGS,
        }
        extra.update(overrides)
        return play_role(playbook, extra, self.workdir, self._runs, outputs_file, check=check)

    # What exists, straight from the API ----------------------------------------

    def role_names(self) -> set[str]:
        pages = self.iam.get_paginator("list_roles").paginate()
        return {r["RoleName"] for page in pages for r in page["Roles"]}

    def profile_names(self) -> set[str]:
        pages = self.iam.get_paginator("list_instance_profiles").paginate()
        return {p["InstanceProfileName"] for page in pages for p in page["InstanceProfiles"]}

    def ours(self, names: set[str]) -> set[str]:
        return {n for n in names if n.startswith(f"{PREFIX}-")}

    def create_role(self, name: str, tags: dict[str, str]) -> None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        self.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )


def _as_set(value) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _tags(tag_list: list[dict]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list}


def assert_converged_run(run: Run) -> None:
    assert run.rc == 0, run.explain()
    assert run.recap and run.recap["failed"] == 0 and run.recap["unreachable"] == 0, run.explain()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def moto(own_twin, tmp_path_factory) -> Moto:
    return Moto(own_twin.url, tmp_path_factory.mktemp("aws_iam"))


@pytest.fixture
def empty_account(moto: Moto) -> Moto:
    moto.reset()
    return moto


# --------------------------------------------------------------------------- check mode on an empty account


def test_check_mode_on_empty_account_creates_nothing(empty_account: Moto):
    run = empty_account.play(check=True)

    assert_converged_run(run)
    assert run.recap["changed"] > 0, "check mode should predict the roles' creation"
    assert empty_account.ours(empty_account.role_names()) == set()
    assert empty_account.ours(empty_account.profile_names()) == set()
    # Predicted outputs, so that a check run of a whole platform can go on.
    assert run.outputs["roles"] == {
        key: {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"} for key, name in ROLE_NAMES.items()
    }
    assert run.outputs["instance_profiles"] == {
        key: {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}"}
        for key, name in PROFILE_NAMES.items()
    }


# --------------------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aws_iam_bucket_arns": None}, "aws_iam_bucket_arns must map"),
        ({"aws_iam_bucket_arns": {**BUCKETS, "models": "arn:aws:s3:::models/*"}}, "aws_iam_bucket_arns must map"),
        ({"aws_iam_account_id": "111111111111"}, "but the policies would be scoped to account 111111111111"),
        ({"aws_iam_cluster_name": None}, "aws_iam_cluster_name must be an EKS cluster name"),
        ({"aws_iam_secrets_prefix": "*"}, "must\nnot contain * or ?"),
        ({"aws_iam_tags": {"Project": "ml-platform"}}, "aws_iam_state=absent would not find the roles"),
    ],
    ids=["no-buckets", "object-arn", "wrong-account", "no-cluster", "wildcard-prefix", "untagged"],
)
def test_bad_input_fails_before_anything_is_created(empty_account: Moto, overrides, message):
    run = empty_account.play(**overrides)

    assert run.rc != 0, run.explain()
    assert " ".join(message.split()) in " ".join(run.output.split()), run.explain()
    assert empty_account.ours(empty_account.role_names()) == set()


# --------------------------------------------------------------------------- present


class TestPresent:
    @pytest.fixture(scope="class")
    @classmethod
    def converged(cls, moto: Moto) -> Run:
        moto.reset()
        run = moto.play()
        assert_converged_run(run)
        return run

    def test_first_run_creates(self, converged: Run):
        assert converged.recap["changed"] > 0

    @pytest.mark.parametrize("key", ROLE_NAMES)
    def test_trust_policy(self, moto: Moto, converged: Run, key: str):
        role = moto.iam.get_role(RoleName=ROLE_NAMES[key])["Role"]
        statements = role["AssumeRolePolicyDocument"]["Statement"]

        assert len(statements) == 1
        (statement,) = statements
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": TRUSTED_SERVICE[key]}
        assert _as_set(statement["Action"]) == {"sts:AssumeRole"}
        assert "Condition" not in statement

    @pytest.mark.parametrize("key", ROLE_NAMES)
    def test_managed_policies(self, moto: Moto, converged: Run, key: str):
        attached = moto.iam.list_attached_role_policies(RoleName=ROLE_NAMES[key])["AttachedPolicies"]
        assert {p["PolicyArn"] for p in attached} == MANAGED[key]

    @pytest.mark.parametrize("key", ROLE_NAMES)
    def test_inline_policies(self, moto: Moto, converged: Run, key: str):
        name = ROLE_NAMES[key]
        assert set(moto.iam.list_role_policies(RoleName=name)["PolicyNames"]) == set(INLINE[key])

        for policy_name, expected in INLINE[key].items():
            document = moto.iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            assert document["Version"] == "2012-10-17"
            statements = {s["Sid"]: s for s in document["Statement"]}
            assert len(statements) == len(document["Statement"]), f"{policy_name}: duplicate Sid"
            assert set(statements) == set(expected), policy_name
            for sid, (actions, resources, condition) in expected.items():
                statement = statements[sid]
                where = f"{policy_name} {sid}"
                assert statement["Effect"] == "Allow", where
                assert _as_set(statement["Action"]) == actions, where
                assert _as_set(statement["Resource"]) == resources, where
                assert statement.get("Condition") == condition, where
                assert "NotAction" not in statement and "NotResource" not in statement, where

    def test_no_wildcard_action_and_wildcard_resources_only_where_unavoidable(self, moto: Moto, converged: Run):
        # "*" as a resource is only for APIs without resource-level permissions.
        unscopable = {
            "ecr:GetAuthorizationToken",
            "cloudwatch:PutMetricData",
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
        }
        for name in ROLE_NAMES.values():
            for policy_name in moto.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                document = moto.iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                for statement in document["Statement"]:
                    actions = _as_set(statement["Action"])
                    assert not any("*" in a or "?" in a for a in actions), f"{policy_name}: {actions}"
                    if "*" in _as_set(statement["Resource"]):
                        assert actions <= unscopable, f"{policy_name} {statement['Sid']}: {actions}"

    @pytest.mark.parametrize("key", PROFILE_NAMES)
    def test_instance_profile(self, moto: Moto, converged: Run, key: str):
        profile = moto.iam.get_instance_profile(InstanceProfileName=PROFILE_NAMES[key])["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [ROLE_NAMES[key]]
        assert _tags(profile.get("Tags", [])) == TAGS

    def test_only_the_ec2_instance_roles_have_profiles(self, moto: Moto, converged: Run):
        assert moto.ours(moto.profile_names()) == set(PROFILE_NAMES.values())
        for key in ("eks_cluster", "eks_node"):
            assert moto.iam.list_instance_profiles_for_role(RoleName=ROLE_NAMES[key])["InstanceProfiles"] == []

    @pytest.mark.parametrize("key", ROLE_NAMES)
    def test_role_tags(self, moto: Moto, converged: Run, key: str):
        assert _tags(moto.iam.list_role_tags(RoleName=ROLE_NAMES[key])["Tags"]) == TAGS

    def test_outputs(self, moto: Moto, converged: Run):
        assert converged.outputs == {
            "roles": {
                key: {"name": name, "arn": moto.iam.get_role(RoleName=name)["Role"]["Arn"]}
                for key, name in ROLE_NAMES.items()
            },
            "instance_profiles": {
                key: {
                    "name": name,
                    "arn": moto.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"],
                }
                for key, name in PROFILE_NAMES.items()
            },
        }

    def test_second_run_changes_nothing(self, moto: Moto, converged: Run):
        run = moto.play()
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()

    def test_check_mode_on_converged_account_reports_no_change(self, moto: Moto, converged: Run):
        run = moto.play(check=True)
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()
        assert run.recap["skipped"] == 0, "nothing may be skipped once the roles exist"
        assert run.outputs == converged.outputs


# --------------------------------------------------------------------------- absent


class TestAbsent:
    @staticmethod
    def assert_all_gone(moto: Moto) -> None:
        assert moto.ours(moto.role_names()) == set()
        assert moto.ours(moto.profile_names()) == set()

    def assert_second_absent_is_a_noop(self, moto: Moto) -> None:
        run = moto.play(aws_iam_state="absent")
        assert_converged_run(run)
        assert run.recap["changed"] == 0, run.explain()

    def test_absent_removes_everything_and_only_that(self, empty_account: Moto):
        moto = empty_account
        assert_converged_run(moto.play())
        # Look-alikes absent must spare: prefixed but without the identity tags, the
        # identity tags under another prefix, and a name that merely begins like ours.
        decoys = {
            f"{PREFIX}-foreign": {"Project": "something-else"},
            "other-training": FIND_TAGS,
            f"{PREFIX}x-training": FIND_TAGS,
        }
        for name, tags in decoys.items():
            moto.create_role(name, tags)

        check = moto.play(aws_iam_state="absent", check=True)
        assert_converged_run(check)
        assert check.recap["changed"] > 0
        assert moto.ours(moto.role_names()) >= set(ROLE_NAMES.values()), "check mode deleted something"

        run = moto.play(aws_iam_state="absent")
        assert_converged_run(run)
        assert run.recap["changed"] > 0
        assert moto.role_names() == set(decoys)
        assert moto.ours(moto.profile_names()) == set()
        assert run.outputs == {"roles": {}, "instance_profiles": {}}
        # iam_role state=absent detached the AWS managed policies before deleting.
        for arns in MANAGED.values():
            for arn in arns:
                entities = moto.iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")["PolicyRoles"]
                assert entities == [], arn

        self.assert_second_absent_is_a_noop(moto)
        assert moto.role_names() == set(decoys)

    def test_absent_after_interrupted_present_without_profile(self, empty_account: Moto):
        moto = empty_account
        assert_converged_run(moto.play())
        profile = PROFILE_NAMES["training"]
        moto.iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=ROLE_NAMES["training"])
        moto.iam.delete_instance_profile(InstanceProfileName=profile)

        run = moto.play(aws_iam_state="absent")
        assert_converged_run(run)
        self.assert_all_gone(moto)
        self.assert_second_absent_is_a_noop(moto)

    def test_absent_deletes_a_profile_whose_role_is_gone(self, empty_account: Moto):
        moto = empty_account
        assert_converged_run(moto.play())
        role = ROLE_NAMES["inference"]
        moto.iam.remove_role_from_instance_profile(InstanceProfileName=PROFILE_NAMES["inference"], RoleName=role)
        for policy_name in moto.iam.list_role_policies(RoleName=role)["PolicyNames"]:
            moto.iam.delete_role_policy(RoleName=role, PolicyName=policy_name)
        for policy in moto.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            moto.iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        moto.iam.delete_role(RoleName=role)

        run = moto.play(aws_iam_state="absent")
        assert_converged_run(run)
        self.assert_all_gone(moto)
        self.assert_second_absent_is_a_noop(moto)

    def test_absent_on_an_empty_account_is_a_noop(self, empty_account: Moto):
        self.assert_second_absent_is_a_noop(empty_account)


# --------------------------------------------------------------------------- IRSA (tasks_from: irsa)

ISSUER = f"oidc.eks.{REGION}.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
AUTOSCALER_ROLE = f"{PREFIX}-eks-cluster-autoscaler"


class TestIrsa:
    @pytest.fixture(scope="class")
    @classmethod
    def irsa(cls, moto: Moto) -> tuple[Run, dict]:
        moto.reset()
        out = moto.workdir / "irsa-outputs.json"
        run = moto.play(aws_iam_cluster_autoscaler_irsa=True, aws_iam_oidc_provider_arn=OIDC_ARN,
                        aws_iam_test_irsa_file=str(out), playbook=IRSA_PLAYBOOK)
        assert_converged_run(run)
        return run, json.loads(out.read_text())

    def test_role_trusts_only_the_autoscalers_service_account(self, moto: Moto, irsa):
        role = moto.iam.get_role(RoleName=AUTOSCALER_ROLE)["Role"]
        [stmt] = role["AssumeRolePolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Federated": OIDC_ARN}
        assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert stmt["Condition"] == {"StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }}
        assert _tags(moto.iam.list_role_tags(RoleName=AUTOSCALER_ROLE)["Tags"]) == TAGS

    def test_the_autoscaler_policy_moves_from_the_node_role(self, moto: Moto, irsa):
        assert moto.iam.list_role_policies(RoleName=AUTOSCALER_ROLE)["PolicyNames"] == [f"{PREFIX}-eks-node-cluster-autoscaler"]
        assert moto.iam.list_role_policies(RoleName=ROLE_NAMES["eks_node"])["PolicyNames"] == [f"{PREFIX}-eks-node-s3"]

    def test_outputs(self, irsa):
        _run, outputs = irsa
        assert outputs == {"cluster_autoscaler": {"name": AUTOSCALER_ROLE, "arn": f"arn:aws:iam::{ACCOUNT}:role/{AUTOSCALER_ROLE}"}}

    def test_second_run_and_check_mode_change_nothing(self, moto: Moto, irsa):
        args = {"aws_iam_cluster_autoscaler_irsa": True, "aws_iam_oidc_provider_arn": OIDC_ARN,
                "aws_iam_test_irsa_file": str(moto.workdir / "irsa-again.json")}
        for check in (True, False):
            run = moto.play(check=check, playbook=IRSA_PLAYBOOK, **args)
            assert_converged_run(run)
            assert run.recap["changed"] == 0, run.explain()

    def test_absent_deletes_it(self, moto: Moto, irsa):
        run = moto.play(aws_iam_state="absent")
        assert_converged_run(run)
        assert moto.ours(moto.role_names()) == set()

    @pytest.mark.parametrize("arn", ["", "arn:aws:iam::123456789012:role/not-a-provider", "oidc.eks.us-west-2.amazonaws.com/id/X"])
    def test_a_wrong_provider_arn_fails_before_the_role_is_created(self, empty_account: Moto, arn):
        run = empty_account.play(aws_iam_cluster_autoscaler_irsa=True, aws_iam_oidc_provider_arn=arn,
                                 aws_iam_test_irsa_file=str(empty_account.workdir / "irsa-bad.json"), playbook=IRSA_PLAYBOOK)
        assert run.rc != 0
        assert "aws_iam_oidc_provider_arn must be the cluster's IAM OIDC provider ARN" in " ".join(run.output.split()), run.explain()
        assert AUTOSCALER_ROLE not in empty_account.role_names()
