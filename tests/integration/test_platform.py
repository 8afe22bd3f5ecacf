"""site.yml / teardown.yml on the twin, read back with boto3.

One provision is shared by the read-back tests; the tests run in file order:
plan on an empty account, provision, read back, re-run, plan again, tear down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import botocore.exceptions
import kubernetes.client
import kubernetes.config
import pytest
import yaml

from platform_harness import REPO
from platform_harness import tags_dict

PREFIX = "ml-platform-local"
ACCOUNT = "123456789012"
IDENTITY = {"Project": "ml-platform", "Environment": "local", "ManagedBy": "ansible-mlinfra"}
COST = {"CostCenter": "AI-Research", "Owner": "ml-infra"}
CLUSTER_TAG = f"kubernetes.io/cluster/{PREFIX}-eks"
BUCKETS = {p: f"{PREFIX}-{p}-{ACCOUNT}" for p in ("datasets", "models", "artifacts")}


def leftovers(twin) -> dict:
    """Everything on the twin that still carries the environment's identity tags."""
    ec2, s3, iam, kms, logs = (twin.client(s) for s in ("ec2", "s3", "iam", "kms", "logs"))
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in IDENTITY.items()]
    found = {"ec2": [t["ResourceId"] for t in ec2.describe_tags(Filters=filters)["Tags"]]}
    # moto keeps tags of deleted EC2 resources: count only what still exists.
    found["vpcs"] = [v["VpcId"] for v in ec2.describe_vpcs(Filters=filters)["Vpcs"]]
    found["subnets"] = [s["SubnetId"] for s in ec2.describe_subnets(Filters=filters)["Subnets"]]
    found["nat_gateways"] = [
        n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filters=filters)["NatGateways"]
        if n["State"] not in ("deleted", "deleting")
    ]
    found["eips"] = [a["AllocationId"] for a in ec2.describe_addresses(Filters=filters)["Addresses"]]
    found["security_groups"] = [g["GroupId"] for g in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]]
    found["route_tables"] = [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=filters)["RouteTables"]]
    found["igws"] = [i["InternetGatewayId"] for i in ec2.describe_internet_gateways(Filters=filters)["InternetGateways"]]
    found["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)]
    found["roles"] = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    found["instance_profiles"] = [
        p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(PREFIX)
    ]
    found["log_groups"] = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if PREFIX in g["logGroupName"]]
    found["kms_keys"] = []
    for key in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]}
        if meta["KeyState"] != "PendingDeletion" and all(tags.get(k) == v for k, v in IDENTITY.items()):
            found["kms_keys"].append(key["KeyId"])
    eks, asg = twin.client("eks"), twin.client("autoscaling")
    found["eks_clusters"] = [c for c in eks.list_clusters()["clusters"] if c.startswith(PREFIX)]
    found["oidc_providers"] = [
        p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        if {t["Key"]: t["Value"] for t in iam.list_open_id_connect_provider_tags(
            OpenIDConnectProviderArn=p["Arn"])["Tags"]}.get("Environment") == "local"
    ]
    found["instances"] = [
        i["InstanceId"] for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    found["volumes"] = [v["VolumeId"] for v in ec2.describe_volumes(Filters=filters)["Volumes"]]
    found["launch_templates"] = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates(Filters=filters)["LaunchTemplates"]]
    found["autoscaling_groups"] = [g["AutoScalingGroupName"] for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]
                                   if g["AutoScalingGroupName"].startswith(PREFIX)]
    found.pop("ec2")
    found.update(gcp_leftovers(twin))
    return {k: v for k, v in found.items() if v}


GCP_PROJECT = "mlinfra-twin"
GCP_ZONE = "us-central1-a"
GCP_REGION = "us-central1"
GCP_SA = f"{PREFIX}-training@{GCP_PROJECT}.iam.gserviceaccount.com"
GCP_LABELS = {"project": "ml-platform", "environment": "local", "managed-by": "ansible-mlinfra",
              "cost-center": "ai-research", "owner": "ml-infra"}


def gcp_policy(twin) -> dict:
    return twin.gcp(f"v1/projects/{GCP_PROJECT}:getIamPolicy", host="cloudresourcemanager.googleapis.com",
                    method="POST", body={})


def gcp_leftovers(twin) -> dict:
    """What the environment left on the twin's GCP API."""
    base = f"compute/v1/projects/{GCP_PROJECT}"

    def names(path):
        return [r["name"] for r in (twin.gcp(f"{base}/{path}") or {}).get("items", []) if r["name"].startswith(PREFIX)]

    accounts = (twin.gcp(f"v1/projects/{GCP_PROJECT}/serviceAccounts", host="iam.googleapis.com") or {}).get("accounts", [])
    members = [m for b in gcp_policy(twin).get("bindings", []) for m in b.get("members", []) if GCP_SA in m]
    return {
        "gcp_instances": names(f"zones/{GCP_ZONE}/instances"),
        "gcp_disks": names(f"zones/{GCP_ZONE}/disks"),
        "gcp_networks": names("global/networks"),
        "gcp_subnetworks": names(f"regions/{GCP_REGION}/subnetworks"),
        "gcp_firewalls": names("global/firewalls"),
        "gcp_service_accounts": [a["email"] for a in accounts if a["email"].startswith(PREFIX)],
        "gcp_bindings": members,
    }


@pytest.fixture(scope="module")
def empty_twin(twin):
    twin.reset()
    return twin


def test_plan_on_an_empty_account_creates_nothing(empty_twin):
    run = empty_twin.playbook("site.yml", "--check", "--diff")
    assert run.rc == 0, run.output[-3000:]
    assert run.changed > 0, "the plan must show what it would create"
    assert "would be" in run.output or "changed:" in run.output
    assert leftovers(empty_twin) == {}


@pytest.fixture(scope="module")
def provisioned(empty_twin):
    run = empty_twin.playbook("site.yml")
    assert run.rc == 0, run.output[-4000:]
    return empty_twin


# --- network -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vpc(provisioned):
    ec2 = provisioned.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": f"tag:{k}", "Values": [v]} for k, v in IDENTITY.items()])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


def test_vpc(provisioned, vpc):
    ec2 = provisioned.client("ec2")
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    for attr in ("enableDnsSupport", "enableDnsHostnames"):
        key = attr[0].upper() + attr[1:]
        assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attr)[key]["Value"] is True
    tags = tags_dict(vpc["Tags"])
    assert tags | IDENTITY | COST == tags
    assert tags["Name"] == f"{PREFIX}-vpc"
    assert tags[CLUSTER_TAG] == "shared"


def subnets_by_name(ec2, vpc_id):
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    return {tags_dict(s["Tags"])["Name"]: s for s in subnets}


def test_subnets(provisioned, vpc):
    subnets = subnets_by_name(provisioned.client("ec2"), vpc["VpcId"])
    expected = {
        f"{PREFIX}-public-us-west-2a": ("10.0.1.0/24", "us-west-2a", True, "kubernetes.io/role/elb"),
        f"{PREFIX}-public-us-west-2b": ("10.0.2.0/24", "us-west-2b", True, "kubernetes.io/role/elb"),
        f"{PREFIX}-private-us-west-2a": ("10.0.10.0/24", "us-west-2a", False, "kubernetes.io/role/internal-elb"),
        f"{PREFIX}-private-us-west-2b": ("10.0.11.0/24", "us-west-2b", False, "kubernetes.io/role/internal-elb"),
    }
    assert set(subnets) == set(expected)
    for name, (cidr, az, public, role_tag) in expected.items():
        s = subnets[name]
        tags = tags_dict(s["Tags"])
        assert (s["CidrBlock"], s["AvailabilityZone"], s["MapPublicIpOnLaunch"]) == (cidr, az, public)
        assert tags[role_tag] == "1" and tags[CLUSTER_TAG] == "shared"
        assert tags | IDENTITY | COST == tags


def test_gateways_and_routes(provisioned, vpc):
    ec2 = provisioned.client("ec2")
    vpc_id = vpc["VpcId"]
    subnets = subnets_by_name(ec2, vpc_id)
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    assert len(igws) == 1 and tags_dict(igws[0]["Tags"])["Environment"] == "local"
    igw_id = igws[0]["InternetGatewayId"]

    nats = [n for n in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
            if n["State"] == "available"]
    nat_by_subnet = {n["SubnetId"]: n for n in nats}
    assert set(nat_by_subnet) == {subnets[f"{PREFIX}-public-us-west-2{z}"]["SubnetId"] for z in "ab"}, "a NAT per AZ"
    for nat in nats:
        assert tags_dict(nat["Tags"]) | IDENTITY == tags_dict(nat["Tags"])
        alloc = nat["NatGatewayAddresses"][0]["AllocationId"]
        eip = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]
        assert tags_dict(eip.get("Tags")) | IDENTITY == tags_dict(eip.get("Tags")), "NAT EIPs are tagged"

    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    by_subnet = {a["SubnetId"]: t for t in tables for a in t["Associations"] if a.get("SubnetId")}
    public_tables = {by_subnet[subnets[f"{PREFIX}-public-us-west-2{z}"]["SubnetId"]]["RouteTableId"] for z in "ab"}
    assert len(public_tables) == 1, "one public route table"
    for z in "ab":
        public = by_subnet[subnets[f"{PREFIX}-public-us-west-2{z}"]["SubnetId"]]
        assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw_id} in [
            {k: r[k] for k in ("DestinationCidrBlock", "GatewayId") if k in r} for r in public["Routes"]]
        private_subnet = subnets[f"{PREFIX}-private-us-west-2{z}"]
        private = by_subnet[private_subnet["SubnetId"]]
        default = [r for r in private["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        nat_here = nat_by_subnet[subnets[f"{PREFIX}-public-us-west-2{z}"]["SubnetId"]]["NatGatewayId"]
        assert [r.get("NatGatewayId") for r in default] == [nat_here], "private subnets route through their AZ's NAT"
        assert tags_dict(private["Tags"])["Name"] == f"{PREFIX}-private-us-west-2{z}"


def test_flow_logs(provisioned, vpc):
    ec2, logs, iam = (provisioned.client(s) for s in ("ec2", "logs", "iam"))
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert len(flow_logs) == 1
    fl = flow_logs[0]
    assert fl["TrafficType"] == "ALL"
    assert fl["LogGroupName"] == f"/aws/vpc/{PREFIX}"
    assert tags_dict(fl.get("Tags")) | IDENTITY == tags_dict(fl.get("Tags"))
    group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/vpc/{PREFIX}")["logGroups"][0]
    assert group["retentionInDays"] == 30
    role = iam.get_role(RoleName=f"{PREFIX}-vpc-flow-logs")["Role"]
    assert fl["DeliverLogsPermissionArn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="vpc-flow-logs-delivery")["PolicyDocument"]
    for stmt in policy["Statement"]:
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        assert all("*" not in a for a in actions)
        if "logs:PutLogEvents" in actions:
            assert all(f"log-group:/aws/vpc/{PREFIX}" in r for r in stmt["Resource"])


def rules(perms):
    """(protocol, from, to, source) for every rule, sources flattened."""
    out = set()
    for p in perms:
        key = (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
        out |= {key + (r["CidrIp"],) for r in p.get("IpRanges", [])}
        out |= {key + (g["GroupId"],) for g in p.get("UserIdGroupPairs", [])}
    return out


def test_security_groups(provisioned, vpc):
    ec2 = provisioned.client("ec2")
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    sg = {g["GroupName"]: g for g in groups}
    train, cluster, nodes, alb = (sg[f"{PREFIX}-{n}"] for n in ("gpu-training", "eks-cluster", "eks-nodes", "alb"))
    vpc_cidr = "10.0.0.0/16"
    assert rules(train["IpPermissions"]) == {
        ("tcp", 22, 22, vpc_cidr), ("tcp", 8888, 8888, vpc_cidr), ("tcp", 6006, 6006, vpc_cidr),
        ("tcp", 29500, 29500, train["GroupId"]), ("tcp", 1024, 65535, train["GroupId"]),
    }
    assert rules(cluster["IpPermissions"]) == {("tcp", 443, 443, nodes["GroupId"])}
    assert rules(nodes["IpPermissions"]) == {("-1", None, None, nodes["GroupId"]),
                                             ("tcp", 1025, 65535, cluster["GroupId"])}
    assert rules(alb["IpPermissions"]) == {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0")}
    for g in (train, cluster, nodes, alb):
        assert rules(g["IpPermissionsEgress"]) == {("-1", None, None, "0.0.0.0/0")}
        assert tags_dict(g["Tags"]) | IDENTITY | COST == tags_dict(g["Tags"])
    assert tags_dict(nodes["Tags"])[CLUSTER_TAG] == "owned"


# --- storage -----------------------------------------------------------------------------

def test_kms_key(provisioned):
    kms = provisioned.client("kms")
    alias = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{PREFIX}-s3"]
    assert len(alias) == 1
    key_id = alias[0]["TargetKeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags | IDENTITY | COST == tags


def test_buckets(provisioned):
    s3, kms = provisioned.client("s3"), provisioned.client("kms")
    key_arn = kms.describe_key(KeyId=f"alias/{PREFIX}-s3")["KeyMetadata"]["Arn"]
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(BUCKETS.values()) <= names
    for purpose, name in BUCKETS.items():
        versioning = s3.get_bucket_versioning(Bucket=name).get("Status")
        assert versioning == ("Enabled" if purpose in ("datasets", "models") else None), purpose
        sse = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert sse["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        pab = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                       "RestrictPublicBuckets": True}
        policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(deny[0]["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
        assert deny[0]["Principal"] == "*" and deny[0]["Action"] == "s3:*"
        tags = tags_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        assert tags | IDENTITY | COST == tags


def lifecycle(s3, bucket):
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def rule_prefix(rule):
    return rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))


def test_lifecycle_rules(provisioned):
    s3 = provisioned.client("s3")
    datasets = lifecycle(s3, BUCKETS["datasets"])
    assert set(datasets) == {"archive-old-datasets", "cleanup-temp-data"}
    archive = datasets["archive-old-datasets"]
    assert archive["Status"] == "Enabled" and rule_prefix(archive) == ""
    assert sorted((t["Days"], t["StorageClass"]) for t in archive["Transitions"]) == [(90, "STANDARD_IA"),
                                                                                      (180, "GLACIER")]
    nc = archive["NoncurrentVersionTransitions"]
    assert [(t["NoncurrentDays"], t["StorageClass"]) for t in nc] == [(30, "GLACIER")]
    temp = datasets["cleanup-temp-data"]
    assert rule_prefix(temp) == "temp/" and temp["Expiration"]["Days"] == 7
    artifacts = lifecycle(s3, BUCKETS["artifacts"])
    assert set(artifacts) == {"cleanup-old-experiments"}
    exp = artifacts["cleanup-old-experiments"]
    assert rule_prefix(exp) == "experiments/" and exp["Expiration"]["Days"] == 90


# --- IAM ---------------------------------------------------------------------------------

def statements(iam, role):
    docs = [iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    return [s for d in docs for s in d["Statement"]]


def as_list(v):
    return v if isinstance(v, list) else [v]


def test_iam_roles_and_profiles(provisioned):
    iam = provisioned.client("iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)}
    for purpose, service in (("training", "ec2"), ("inference", "ec2"), ("eks-cluster", "eks"), ("eks-node", "ec2")):
        name = f"{PREFIX}-{purpose}"
        assert name in roles, name
        trust = roles[name]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"] == {"Service": f"{service}.amazonaws.com"}
        tags = tags_dict(iam.list_role_tags(RoleName=name)["Tags"])
        assert tags | IDENTITY | COST == tags
    for purpose in ("training", "inference"):
        profile = iam.get_instance_profile(InstanceProfileName=f"{PREFIX}-{purpose}")["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [f"{PREFIX}-{purpose}"]

    def managed(role):
        return {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}

    assert managed(f"{PREFIX}-eks-cluster") == {"AmazonEKSClusterPolicy"}
    assert managed(f"{PREFIX}-eks-node") == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                                              "AmazonEC2ContainerRegistryReadOnly"}

    for role in roles:
        for stmt in statements(iam, role):
            assert all("*" not in a for a in as_list(stmt["Action"])), (role, stmt)

    def s3_grants(stmts):
        """{action: set of resources} over every statement that grants S3 actions."""
        grants = {}
        for stmt in stmts:
            for action in as_list(stmt["Action"]):
                if action.startswith("s3:"):
                    grants.setdefault(action, set()).update(as_list(stmt["Resource"]))
        return grants

    arns = {p: f"arn:aws:s3:::{b}" for p, b in BUCKETS.items()}
    training = statements(iam, f"{PREFIX}-training")
    assert s3_grants(training) == {
        "s3:ListBucket": set(arns.values()),
        **{a: {f"{arn}/*" for arn in arns.values()} for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")},
    }
    secrets = [s for s in training if "secretsmanager:GetSecretValue" in as_list(s["Action"])][0]
    assert as_list(secrets["Resource"]) == [f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:ml/*"]

    inference = statements(iam, f"{PREFIX}-inference")
    assert s3_grants(inference) == {"s3:ListBucket": {arns["models"]}, "s3:GetObject": {f"{arns['models']}/*"}}

    # The autoscaler's permissions are on its own role (IRSA), not on the node role every pod can use.
    node = statements(iam, f"{PREFIX}-eks-node")
    assert not [s for s in node if "autoscaling:SetDesiredCapacity" in as_list(s["Action"])]
    autoscaler = statements(iam, f"{PREFIX}-eks-cluster-autoscaler")
    scale = [s for s in autoscaler if "autoscaling:SetDesiredCapacity" in as_list(s["Action"])][0]
    assert scale["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{PREFIX}-eks": "owned"}}


def test_cluster_autoscaler_role_trusts_only_its_service_account(provisioned):
    iam = provisioned.client("iam")
    role = iam.get_role(RoleName=f"{PREFIX}-eks-cluster-autoscaler")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    [provider] = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    issuer = provider.split(":oidc-provider/")[1]
    [stmt] = trust["Statement"]
    assert stmt["Principal"] == {"Federated": provider}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        f"{issuer}:aud": "sts.amazonaws.com",
    }}
    tags = tags_dict(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
    assert tags | IDENTITY | COST == tags


# --- EKS ---------------------------------------------------------------------------------

CLUSTER = f"{PREFIX}-eks"


def test_eks_cluster(provisioned, vpc):
    eks, kms, ec2 = (provisioned.client(s) for s in ("eks", "kms", "ec2"))
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    assert cluster["version"] in ("1.33", "1.34", "1.35", "1.32")
    cfg = cluster["resourcesVpcConfig"]
    subnets = subnets_by_name(ec2, vpc["VpcId"])
    assert set(cfg["subnetIds"]) == {s["SubnetId"] for s in subnets.values()}, "private and public subnets"
    groups = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]}
    assert groups[f"{PREFIX}-eks-cluster"] in cfg["securityGroupIds"]
    assert cfg["endpointPrivateAccess"] is True and cfg["endpointPublicAccess"] is True
    assert cfg["publicAccessCidrs"] == ["0.0.0.0/0"]
    [enc] = cluster["encryptionConfig"]
    assert enc["resources"] == ["secrets"]
    key = kms.describe_key(KeyId=enc["provider"]["keyArn"])["KeyMetadata"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    enabled = {t for entry in cluster["logging"]["clusterLogging"] if entry["enabled"] for t in entry["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["tags"] | IDENTITY | COST == cluster["tags"]


def test_eks_oidc_provider(provisioned):
    eks, iam = provisioned.client("eks"), provisioned.client("iam")
    issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.removeprefix('https://')}"
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    assert len(provider["ThumbprintList"]) == 1


def test_eks_node_groups(provisioned, vpc):
    eks, ec2, iam = (provisioned.client(s) for s in ("eks", "ec2", "iam"))
    private = {s["SubnetId"] for n, s in subnets_by_name(ec2, vpc["VpcId"]).items() if "-private-" in n}
    node_role = iam.get_role(RoleName=f"{PREFIX}-eks-node")["Role"]["Arn"]
    groups = {n: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=n)["nodegroup"]
              for n in eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]}
    assert set(groups) == {"cpu-nodes", "gpu-nodes", "inference-nodes"}
    for g in groups.values():
        assert set(g["subnets"]) == private and g["nodeRole"] == node_role
    cpu, gpu, inf = groups["cpu-nodes"], groups["gpu-nodes"], groups["inference-nodes"]
    assert cpu["capacityType"] == "ON_DEMAND"
    assert cpu["scalingConfig"] == {"minSize": 2, "maxSize": 10, "desiredSize": 2}
    assert cpu["labels"] == {"workload": "cpu", "role": "general"} and not cpu.get("taints")
    assert gpu["capacityType"] == "SPOT"
    assert gpu["scalingConfig"] == {"minSize": 0, "maxSize": 10, "desiredSize": 0}
    assert gpu["labels"] == {"workload": "gpu", "role": "ml-training", "gpu-type": "a10g", "nvidia.com/gpu": "true"}
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert all(t.split(".")[0] in ("g5", "g6", "g4dn", "p4d", "p5") for t in gpu["instanceTypes"])
    assert "GPU" in gpu["amiType"] or "NVIDIA" in gpu["amiType"]
    assert inf["capacityType"] == "SPOT"
    assert inf["scalingConfig"] == {"minSize": 1, "maxSize": 20, "desiredSize": 1}
    assert inf["labels"] == {"workload": "inference", "role": "model-serving"}
    assert inf["taints"] == [{"key": "workload", "value": "inference", "effect": "NO_SCHEDULE"}]
    assert inf["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert inf["tags"][f"k8s.io/cluster-autoscaler/{CLUSTER}"] == "owned"


# --- GPU compute -------------------------------------------------------------------------

def training_instances(ec2):
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in IDENTITY.items()] + [
        {"Name": "tag:Role", "Values": ["gpu_training"]}, {"Name": "instance-state-name", "Values": ["running"]}]
    instances = [i for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
    return [i for i in instances if "aws:autoscaling:groupName" not in tags_dict(i.get("Tags"))]


def test_gpu_training_launch_template(provisioned):
    ec2 = provisioned.client("ec2")
    [lt] = ec2.describe_launch_templates(LaunchTemplateNames=[f"{PREFIX}-gpu-training"])["LaunchTemplates"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["InstanceType"] == "g5.xlarge"
    profile = data["IamInstanceProfile"]
    assert profile.get("Name") == f"{PREFIX}-training" or profile["Arn"].endswith(f":instance-profile/{PREFIX}-training")
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    # moto launches spot requests as on-demand instances: the request sent is what can be checked.
    assert data["InstanceMarketOptions"]["MarketType"] == "spot"
    spot = data["InstanceMarketOptions"]["SpotOptions"]
    assert spot["SpotInstanceType"] == "persistent" and spot["InstanceInterruptionBehavior"] == "stop"
    [root] = data["BlockDeviceMappings"]
    assert {k: root["Ebs"][k] for k in ("VolumeSize", "VolumeType", "Iops", "Throughput")} == {
        "VolumeSize": 500, "VolumeType": "gp3", "Iops": 3000, "Throughput": 125}


def test_gpu_training_instances(provisioned, vpc):
    ec2 = provisioned.client("ec2")
    instances = training_instances(ec2)
    assert len(instances) == 2
    private = {s["SubnetId"]: n for n, s in subnets_by_name(ec2, vpc["VpcId"]).items() if "-private-" in n}
    assert {i["SubnetId"] for i in instances} == set(private), "spread over both private subnets"
    for inst in instances:
        tags = tags_dict(inst["Tags"])
        assert tags["Role"] == "gpu_training" and tags["GpuType"] == "a10g"
        assert tags | IDENTITY | COST == tags
        # IMDSv2 and the instance profile: moto does not copy a template's MetadataOptions and
        # IamInstanceProfile onto the instance (AWS does); test_gpu_training_launch_template
        # asserts the request, and the instance must come from that template.
        assert tags["aws:ec2launchtemplate:id"] == ec2.describe_launch_templates(
            LaunchTemplateNames=[f"{PREFIX}-gpu-training"])["LaunchTemplates"][0]["LaunchTemplateId"]
        volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}])["Volumes"]
        data = [v for v in volumes if v["Attachments"][0]["Device"] == "/dev/sdf"]
        assert len(data) == 1, "one separate data volume"
        assert (data[0]["Size"], data[0]["VolumeType"], data[0]["Encrypted"]) == (1000, "gp3", True)
        assert data[0]["Attachments"][0]["DeleteOnTermination"] is False
        eips = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [inst["InstanceId"]]}])["Addresses"]
        assert len(eips) == 1, "env=local asks for an Elastic IP per instance"


def test_gpu_pool_and_schedule(provisioned, vpc):
    asg = provisioned.client("autoscaling")
    ec2 = provisioned.client("ec2")
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{PREFIX}-gpu-pool"])["AutoScalingGroups"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 10, 1)
    assert group["HealthCheckType"] == "EC2" and group["HealthCheckGracePeriod"] == 300
    assert group["TerminationPolicies"] == ["OldestInstance"]
    private = {s["SubnetId"] for n, s in subnets_by_name(ec2, vpc["VpcId"]).items() if "-private-" in n}
    assert set(group["VPCZoneIdentifier"].split(",")) == private
    tags = {t["Key"]: t for t in group["Tags"]}
    assert all(tags[k]["Value"] == v and tags[k]["PropagateAtLaunch"] for k, v in IDENTITY.items())
    actions = {a["ScheduledActionName"]: a for a in asg.describe_scheduled_actions(
        AutoScalingGroupName=group["AutoScalingGroupName"])["ScheduledUpdateGroupActions"]}
    recurrences = sorted(a["Recurrence"] for a in actions.values())
    assert recurrences == ["0 20 * * *", "0 8 * * MON-FRI"]
    down = [a for a in actions.values() if a["Recurrence"] == "0 20 * * *"][0]
    assert down["DesiredCapacity"] == 0 and down["TimeZone"] == "UTC"


# --- GPU hosts: the containers standing in for the instances -----------------------------

def in_host(instance_id: str, *cmd: str) -> subprocess.CompletedProcess:
    """Run a command inside the container that backs an instance."""
    return subprocess.run(["podman", "exec", f"twin-{instance_id}", *cmd], capture_output=True, text=True, check=False)


def twin_containers(twin) -> dict:
    out = subprocess.run(["podman", "ps", "-a", "--filter", f"label=mlinfra.twin.endpoint={twin.url}",
                          "--format", "json"], capture_output=True, text=True, check=True).stdout
    return {c["Names"][0]: c for c in json.loads(out or "[]")}


def running_instance_ids(twin) -> set:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in IDENTITY.items()] + [
        {"Name": "instance-state-name", "Values": ["running"]}]
    return {i["InstanceId"] for r in twin.client("ec2").describe_instances(Filters=filters)["Reservations"]
            for i in r["Instances"]}


def data_volume_fs(instance_id: str) -> dict:
    probe = in_host(instance_id, "blkid", "-p", "-o", "export", "/dev/xvdf")
    assert probe.returncode == 0, probe.stderr
    return dict(line.split("=", 1) for line in probe.stdout.split())


def test_every_running_instance_is_a_running_container(provisioned):
    ids = running_instance_ids(provisioned)
    assert len(ids) == 3, "two training instances and one from the pool"
    containers = twin_containers(provisioned)
    # The GCP VM has its own container too (test_gcp_vm_is_a_configured_host).
    assert set(containers) == {f"twin-{i}" for i in ids} | {f"twin-gcp-{PREFIX}-gpu-training-1"}
    for iid in ids:
        assert containers[f"twin-{iid}"]["State"] == "running"
        assert in_host(iid, "hostname").stdout.strip() == iid
        assert in_host(iid, "cat", "/proc/1/comm").stdout.strip() == "systemd"


def test_training_hosts_mount_their_data_volume_by_uuid(provisioned):
    for inst in training_instances(provisioned.client("ec2")):
        iid = inst["InstanceId"]
        fs = data_volume_fs(iid)
        assert fs["TYPE"] == "ext4"
        mounted = in_host(iid, "findmnt", "--noheadings", "--output", "UUID,FSTYPE", "--mountpoint", "/data")
        assert mounted.stdout.split() == [fs["UUID"], "ext4"], mounted.stdout + mounted.stderr
        fstab = in_host(iid, "cat", "/etc/fstab").stdout.splitlines()
        assert f"UUID={fs['UUID']} /data ext4 defaults,nofail 0 2" in fstab
        assert len([line for line in fstab if " /data " in line]) == 1


def test_pytorch_runs_on_the_training_hosts(provisioned):
    code = "import torch; x = torch.arange(4.0).reshape(2, 2); print(torch.__version__, torch.version.cuda, (x @ x).tolist())"
    for inst in training_instances(provisioned.client("ec2")):
        out = in_host(inst["InstanceId"], "/opt/pytorch/venv/bin/python", "-c", code)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().split(None, 2) == ["2.13.0+cpu", "None", "[[2.0, 3.0], [6.0, 11.0]]"]


# --- Kubernetes layer: the device plugin on the twin's EKS endpoint -----------------------

EKS_TOKEN = REPO / "roles" / "aws_eks" / "files" / "eks-get-token"


def k8s(twin) -> kubernetes.client.ApiClient:
    """A client for the twin's Kubernetes API with a token made the way the kubeconfig makes it."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    cred = subprocess.run([sys.executable, str(EKS_TOKEN), "--cluster-name", f"{PREFIX}-eks", "--region", "us-west-2"],
                          env=env, capture_output=True, text=True, check=True).stdout
    conf = kubernetes.client.Configuration()
    conf.host = f"http://127.0.0.1:{twin.port + 1000}"
    conf.api_key = {"authorization": "Bearer " + json.loads(cred)["status"]["token"]}
    return kubernetes.client.ApiClient(conf)


def our_daemonsets(twin) -> dict:
    apps = kubernetes.client.AppsV1Api(k8s(twin))
    items = apps.list_namespaced_daemon_set("kube-system", label_selector="app.kubernetes.io/managed-by=mlinfra.gpu_platform").items
    return {d.metadata.name: d for d in items}


def test_device_plugin_on_the_cluster(provisioned):
    daemonsets = our_daemonsets(provisioned)
    assert set(daemonsets) == {"nvidia-device-plugin"}
    spec = daemonsets["nvidia-device-plugin"].spec.template.spec
    assert spec.priority_class_name == "system-node-critical"
    assert spec.containers[0].image == "nvcr.io/nvidia/k8s-device-plugin:v0.19.0"
    tolerations = {(t.key, t.operator, t.value, t.effect) for t in spec.tolerations}
    assert ("nvidia.com/gpu", "Equal", "true", "NoSchedule") in tolerations
    assert ("workload", "Equal", "inference", "NoSchedule") in tolerations
    terms = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    selected = [{e.key: e.values[0] for e in t.match_expressions} for t in terms]
    assert {"workload": "gpu", "role": "ml-training", "gpu-type": "a10g", "nvidia.com/gpu": "true"} in selected
    assert {"workload": "inference", "role": "model-serving"} in selected
    assert not [s for s in selected if s.get("workload") == "cpu"], "the plugin must not go to CPU nodes"


def test_cluster_autoscaler_on_the_cluster(provisioned):
    api = k8s(provisioned)
    role_arn = provisioned.client("iam").get_role(RoleName=f"{PREFIX}-eks-cluster-autoscaler")["Role"]["Arn"]
    sa = kubernetes.client.CoreV1Api(api).read_namespaced_service_account("cluster-autoscaler", "kube-system")
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == role_arn
    deploy = kubernetes.client.AppsV1Api(api).read_namespaced_deployment("cluster-autoscaler", "kube-system")
    spec = deploy.spec.template.spec
    assert spec.service_account_name == "cluster-autoscaler"
    assert spec.priority_class_name == "system-cluster-critical"
    assert spec.node_selector == {"workload": "cpu", "role": "general"}, "on the on-demand CPU group, not on spot"
    [container] = spec.containers
    assert container.image == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.4"
    assert f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{CLUSTER}" \
        in container.command
    assert "--cloud-provider=aws" in container.command
    binding = kubernetes.client.RbacAuthorizationV1Api(api).read_cluster_role_binding("cluster-autoscaler")
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", "cluster-autoscaler", "kube-system")]
    # The seed's node group tags are the ones it looks for (EKS also puts them on every
    # managed node group's Auto Scaling group).
    tags = provisioned.client("eks").describe_nodegroup(clusterName=CLUSTER, nodegroupName="inference-nodes")["nodegroup"]["tags"]
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true" and tags[f"k8s.io/cluster-autoscaler/{CLUSTER}"] == "owned"


def test_kubeconfig_gets_its_token_from_the_aws_api(provisioned):
    path = Path.home() / ".kube" / "mlinfra" / f"twin-{provisioned.port}" / f"{PREFIX}-eks.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    config = yaml.safe_load(path.read_text())
    [user] = config["users"]
    assert "token" not in user["user"], "no static secret"
    assert user["user"]["exec"]["args"][-4:] == ["--cluster-name", f"{PREFIX}-eks", "--region", "us-west-2"]
    assert config["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:{provisioned.port + 1000}"
    # Usable as it is: the kubernetes client (what kubernetes.core uses) runs the exec plugin.
    client = kubernetes.config.new_client_from_config(config_file=str(path))
    names = [d.metadata.name for d in kubernetes.client.AppsV1Api(client).list_namespaced_daemon_set("kube-system").items]
    assert "nvidia-device-plugin" in names


def test_gpu_nodes_registered_with_labels_and_taints(provisioned):
    nodes = kubernetes.client.CoreV1Api(k8s(provisioned)).list_node(
        label_selector="eks.amazonaws.com/nodegroup=inference-nodes").items
    assert len(nodes) == 1, "inference-nodes keeps one node up"
    node = nodes[0]
    assert node.metadata.labels["workload"] == "inference"
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [("workload", "inference", "NoSchedule")]
    assert int(node.status.allocatable["nvidia.com/gpu"]) >= 1


# --- idempotence, plan, teardown --------------------------------------------------------

# --- GCP: read back from the twin's GCP API ---------------------------------------------------

def test_gcp_network_subnetwork_and_ssh_firewall(provisioned):
    base = f"compute/v1/projects/{GCP_PROJECT}"
    net = provisioned.gcp(f"{base}/global/networks/{PREFIX}-vpc")
    assert net["autoCreateSubnetworks"] is False
    sub = provisioned.gcp(f"{base}/regions/{GCP_REGION}/subnetworks/{PREFIX}-subnet-{GCP_REGION}")
    assert sub["ipCidrRange"] == "10.20.0.0/20"
    assert sub["privateIpGoogleAccess"] is True
    assert sub["network"].endswith(f"/global/networks/{PREFIX}-vpc")
    fw = provisioned.gcp(f"{base}/global/firewalls/{PREFIX}-allow-ssh")
    # The env's allow-list and IAP's range only: never 0.0.0.0/0.
    assert sorted(fw["sourceRanges"]) == ["10.0.0.0/8", "35.235.240.0/20"]
    assert fw["allowed"] == [{"IPProtocol": "tcp", "ports": ["22"]}]
    assert fw["targetTags"] == ["gpu-training"]
    assert fw["network"].endswith(f"/global/networks/{PREFIX}-vpc")


def test_gcp_gpu_vm_and_its_disks(provisioned):
    base = f"compute/v1/projects/{GCP_PROJECT}/zones/{GCP_ZONE}"
    vm = provisioned.gcp(f"{base}/instances/{PREFIX}-gpu-training-1")
    assert vm is not None and vm["status"] == "RUNNING"
    assert vm["machineType"].endswith("/machineTypes/a2-highgpu-1g")
    assert [(a["acceleratorType"].rsplit("/", 1)[1], a["acceleratorCount"]) for a in vm["guestAccelerators"]] \
        == [("nvidia-tesla-a100", 1)]
    sched = vm["scheduling"]
    assert sched["onHostMaintenance"] == "TERMINATE"
    assert sched["automaticRestart"] is False
    assert sched["provisioningModel"] == "SPOT"
    assert [(s["email"], s["scopes"]) for s in vm["serviceAccounts"]] == [(GCP_SA, ["https://www.googleapis.com/auth/cloud-platform"])]
    assert {i["key"]: i["value"] for i in vm["metadata"]["items"]}["install-nvidia-driver"] == "True"
    labels = vm["labels"]
    assert labels | GCP_LABELS == labels and labels["role"] == "gpu-training" and labels["gpu-type"] == "a100"
    boot = [d for d in vm["disks"] if d.get("boot")]
    data = [d for d in vm["disks"] if not d.get("boot")]
    assert len(boot) == 1 and [d["source"].rsplit("/", 1)[1] for d in data] == [f"{PREFIX}-training-data-1"]
    assert data[0]["deviceName"] == "training-data" and data[0]["autoDelete"] is False
    boot_disk = provisioned.gcp("compute/v1/" + boot[0]["source"].split("/compute/v1/", 1)[1])
    assert int(boot_disk["sizeGb"]) == 500 and boot_disk["type"].endswith("/diskTypes/pd-ssd")
    disk = provisioned.gcp(f"{base}/disks/{PREFIX}-training-data-1")
    assert int(disk["sizeGb"]) == 1000 and disk["type"].endswith("/diskTypes/pd-ssd")
    assert disk["labels"] | GCP_LABELS == disk["labels"]
    assert [u.rsplit("/", 1)[1] for u in disk.get("users", [])] == [f"{PREFIX}-gpu-training-1"]


def test_gcp_service_account_and_its_storage_binding(provisioned):
    sa = provisioned.gcp(f"v1/projects/{GCP_PROJECT}/serviceAccounts/{GCP_SA}", host="iam.googleapis.com")
    assert sa is not None and sa["email"] == GCP_SA
    bindings = {b["role"]: b["members"] for b in gcp_policy(provisioned)["bindings"]}
    assert f"serviceAccount:{GCP_SA}" in bindings["roles/storage.objectAdmin"]
    # Read-modify-write: the project's other members are still there.
    assert "user:owner@example.com" in bindings["roles/owner"]


def test_gcp_vm_is_a_configured_host(provisioned):
    name = f"twin-gcp-{PREFIX}-gpu-training-1"
    state = subprocess.run(["podman", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True)
    assert state.stdout.strip() == "true", state.stderr
    mount = subprocess.run(["podman", "exec", name, "findmnt", "-J", "-o", "SOURCE,TARGET,FSTYPE", "/data"],
                           capture_output=True, text=True)
    assert mount.returncode == 0, mount.stderr
    [fs] = json.loads(mount.stdout)["filesystems"]
    assert fs["fstype"] == "ext4"
    fstab = subprocess.run(["podman", "exec", name, "cat", "/etc/fstab"], capture_output=True, text=True).stdout
    assert any(line.split()[1:2] == ["/data"] and line.startswith("UUID=") for line in fstab.splitlines() if line.strip())
    torch = subprocess.run(["podman", "exec", name, "/opt/pytorch/venv/bin/python", "-c",
                            "import torch; print((torch.ones(2) * 3).sum().item())"], capture_output=True, text=True)
    assert torch.stdout.strip() == "6.0", torch.stderr[-2000:]


def test_second_run_changes_nothing_and_keeps_the_data(provisioned):
    hosts = [i["InstanceId"] for i in training_instances(provisioned.client("ec2"))]
    before = {}
    for iid in hosts:
        marker = uuid.uuid4().hex
        assert in_host(iid, "sh", "-c", f"echo {marker} > /data/checkpoint && sync").returncode == 0
        before[iid] = (marker, data_volume_fs(iid)["UUID"])

    run = provisioned.playbook("site.yml")
    assert run.rc == 0, run.output[-3000:]
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    assert run.changed == 0, changed
    for iid, (marker, fs_uuid) in before.items():
        assert in_host(iid, "cat", "/data/checkpoint").stdout.strip() == marker
        assert data_volume_fs(iid)["UUID"] == fs_uuid, "the data volume must never be reformatted"


def test_plan_on_a_converged_account_shows_no_change(provisioned):
    before = {n: d.metadata.resource_version for n, d in our_daemonsets(provisioned).items()}
    run = provisioned.playbook("site.yml", "--check", "--diff")
    assert run.rc == 0, run.output[-3000:]
    assert run.changed == 0
    assert {n: d.metadata.resource_version for n, d in our_daemonsets(provisioned).items()} == before


def test_plan_of_a_changed_setting_leaves_the_cluster_unchanged(provisioned):
    before = {n: d.metadata.resource_version for n, d in our_daemonsets(provisioned).items()}
    run = provisioned.playbook("site.yml", "--check", "-e", "k8s_gpu_device_plugin_version=0.18.2",
                               "-e", '{"k8s_gpu_time_slicing": {"enabled": true, "replicas": 4, "node_groups": ["inference-nodes"]}}')
    assert run.rc == 0, run.output[-3000:]
    assert run.changed > 0, "the plan shows the new image and the time-sliced plugin"
    after = our_daemonsets(provisioned)
    assert {n: d.metadata.resource_version for n, d in after.items()} == before
    assert after["nvidia-device-plugin"].spec.template.spec.containers[0].image.endswith(":v0.19.0")


def test_buckets_refuse_requests_without_tls(provisioned):
    # The twin serves plain HTTP, so the TLS-only bucket policy must deny this write.
    with pytest.raises(botocore.exceptions.ClientError, match="Forbidden|AccessDenied"):
        provisioned.client("s3").put_object(Bucket=BUCKETS["datasets"], Key="probe", Body=b"x")


def test_teardown_keeps_buckets_that_hold_data_unless_told(provisioned):
    s3 = provisioned.client("s3")
    # Writing over the twin's plain HTTP needs the TLS-only policy out of the way.
    s3.delete_bucket_policy(Bucket=BUCKETS["datasets"])
    s3.put_object(Bucket=BUCKETS["datasets"], Key="train/shard-0", Body=b"data")
    kept = provisioned.playbook("teardown.yml", "-e", "platform_destroy_data=false")
    assert kept.rc != 0
    assert f"Kept {BUCKETS['datasets']}: they still hold objects" in " ".join(kept.output.split())
    assert s3.get_object(Bucket=BUCKETS["datasets"], Key="train/shard-0")["Body"].read() == b"data"
    assert leftovers(provisioned).get("kms_keys"), "the key of a kept bucket is not scheduled for deletion"


def test_teardown_leaves_nothing_and_a_second_teardown_is_a_no_op(provisioned):
    run = provisioned.playbook("teardown.yml")
    assert run.rc == 0, run.output[-3000:]
    assert leftovers(provisioned) == {}
    assert twin_containers(provisioned) == {}, "the hosts go with their instances"
    assert our_daemonsets(provisioned) == {}, "the device plugin goes before the cluster"
    assert not list((Path.home() / ".kube" / "mlinfra" / f"twin-{provisioned.port}").glob("*.yaml")), "kubeconfig removed"
    loops = subprocess.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"],
                           capture_output=True, text=True, check=True).stdout
    volumes = Path(provisioned.env.get("TWIN_STATE_DIR", REPO / ".twin")) / "volumes"
    assert str(volumes) not in loops, "no loop device left attached to a volume file"
    assert not list(volumes.glob("vol-*.img")), "the emulator deleted the volumes: their files go too"
    again = provisioned.playbook("teardown.yml")
    assert again.rc == 0, again.output[-3000:]
    assert again.changed == 0


def test_teardown_after_an_interrupted_run(empty_twin):
    empty_twin.reset()
    # The network layer fails at its last step (a CIDR AWS rejects), after the VPC, subnets,
    # NAT gateways, routes and flow logs exist; the IAM layer never runs.
    run = empty_twin.playbook("site.yml", "--limit", "localhost,aws-network,aws-storage",
                              "-e", '{"aws_network_alb_ingress_cidrs": ["0.0.0.0/33"]}')
    assert run.rc != 0
    left = leftovers(empty_twin)
    assert {"vpcs", "subnets", "nat_gateways", "buckets"} <= set(left), left
    down = empty_twin.playbook("teardown.yml")
    assert down.rc == 0, down.output[-3000:]
    assert leftovers(empty_twin) == {}
