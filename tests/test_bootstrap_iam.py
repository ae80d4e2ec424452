"""The deploy role against what the platform stacks really call, and every bootstrap policy against
IAM's own action tables (tests/_iam_reference.py, tests/iam/reference.json)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from components.bootstrap._iam import is_read_only
from tests import _iam_reference as iam_reference
from tests.conftest import STACKS, synth_stack
from tests.test_bootstrap import ready
from tests.test_bootstrap_policies import deploy_statements, documents

#: The AWS API calls `pulumi up` (create, update, delete) makes for each resource type the
#: platform declares: the calls of terraform-provider-aws's resource implementations, which
#: pulumi-aws wraps, plus what the service itself asks of the caller (EKS: iam:PassRole for its
#: roles, kms:CreateGrant and kms:DescribeKey for secrets encryption; EKS user guide, "Enable
#: secrets encryption"). Reads are covered by the Describe/Get/List statements. A new type in the
#: platform fails the test below until the deploy policy and this table learn it.
PLATFORM_API_CALLS: dict[str, tuple[str, ...]] = {
    "aws:acm/certificate:Certificate": (
        "acm:RequestCertificate",
        "acm:AddTagsToCertificate",
        "acm:DescribeCertificate",
        "acm:DeleteCertificate",
    ),
    "aws:acm/certificateValidation:CertificateValidation": ("acm:DescribeCertificate",),
    "aws:route53/record:Record": ("route53:ChangeResourceRecordSets", "route53:GetChange"),
    "aws:wafv2/webAcl:WebAcl": ("wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL"),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "wafv2:PutLoggingConfiguration",
        "wafv2:DeleteLoggingConfiguration",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": (
        "logs:PutResourcePolicy",
        "logs:DeleteResourcePolicy",
    ),
    "aws:cloudwatch/logGroup:LogGroup": (
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteLogGroup",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
    ),
    "aws:ec2/eip:Eip": ("ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DisassociateAddress"),
    "aws:ec2/flowLog:FlowLog": ("ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "iam:PassRole"),
    "aws:ec2/internetGateway:InternetGateway": (
        "ec2:CreateInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:DeleteInternetGateway",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        "ec2:CreateLaunchTemplate",
        "ec2:CreateLaunchTemplateVersion",
        "ec2:ModifyLaunchTemplate",
        "ec2:DeleteLaunchTemplate",
    ),
    "aws:ec2/natGateway:NatGateway": ("ec2:CreateNatGateway", "ec2:DeleteNatGateway"),
    "aws:ec2/route:Route": ("ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"),
    "aws:ec2/routeTable:RouteTable": ("ec2:CreateRouteTable", "ec2:DeleteRouteTable"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
    ),
    "aws:ec2/subnet:Subnet": ("ec2:CreateSubnet", "ec2:ModifySubnetAttribute", "ec2:DeleteSubnet"),
    "aws:ec2/vpc:Vpc": ("ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:DeleteVpc"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (
        "ec2:CreateVpcEndpoint",
        "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy"),
    "aws:ecr/repository:Repository": (
        "ecr:CreateRepository",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:DeleteRepository",
    ),
    "aws:eks/accessEntry:AccessEntry": (
        "eks:CreateAccessEntry",
        "eks:UpdateAccessEntry",
        "eks:DeleteAccessEntry",
    ),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": (
        "eks:AssociateAccessPolicy",
        "eks:DisassociateAccessPolicy",
    ),
    "aws:eks/addon:Addon": ("eks:CreateAddon", "eks:UpdateAddon", "eks:DeleteAddon", "iam:PassRole"),
    "aws:eks/cluster:Cluster": (
        "eks:CreateCluster",
        "eks:UpdateClusterConfig",
        "eks:UpdateClusterVersion",
        "eks:DeleteCluster",
        "iam:PassRole",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "eks:CreateNodegroup",
        "eks:UpdateNodegroupConfig",
        "eks:UpdateNodegroupVersion",
        "eks:DeleteNodegroup",
        "iam:PassRole",
    ),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule", "events:TagResource", "events:DeleteRule"),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:PutTargets", "events:RemoveTargets"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
        "eks:CreatePodIdentityAssociation",
        "eks:UpdatePodIdentityAssociation",
        "eks:DeletePodIdentityAssociation",
        "iam:PassRole",
    ),
    "aws:iam/policy:Policy": (
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:DeletePolicy",
    ),
    "aws:sqs/queue:Queue": ("sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:DeleteQueue"),
    "aws:sqs/queuePolicy:QueuePolicy": ("sqs:SetQueueAttributes",),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "iam:CreateOpenIDConnectProvider",
        "iam:DeleteOpenIDConnectProvider",
    ),
    "aws:iam/role:Role": ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy", "iam:DeleteRolePolicy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
    "aws:kms/key:Key": (
        "kms:CreateKey",
        "kms:EnableKeyRotation",
        "kms:PutKeyPolicy",
        "kms:UpdateKeyDescription",
        "kms:ScheduleKeyDeletion",
    ),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket", "s3:PutBucketTagging", "s3:DeleteBucket"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
    ),
    # components/database. RDS creates the master secret as the caller (RDS user guide, "Password
    # management with Amazon RDS and AWS Secrets Manager") and passes the monitoring role.
    "aws:rds/instance:Instance": (
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:AddTagsToResource",
        "iam:PassRole",
        "secretsmanager:CreateSecret",
        "kms:CreateGrant",
        "kms:GenerateDataKey",
    ),
    "aws:rds/parameterGroup:ParameterGroup": (
        "rds:CreateDBParameterGroup",
        "rds:ModifyDBParameterGroup",
        "rds:DeleteDBParameterGroup",
    ),
    "aws:rds/subnetGroup:SubnetGroup": (
        "rds:CreateDBSubnetGroup",
        "rds:ModifyDBSubnetGroup",
        "rds:DeleteDBSubnetGroup",
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DeleteSecurityGroup",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:ModifySecurityGroupRules",
    ),
    "aws:backup/vault:Vault": (
        "backup:CreateBackupVault",
        "backup-storage:MountCapsule",
        "backup:DeleteBackupVault",
    ),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "backup:PutBackupVaultLockConfiguration",
        "backup:DeleteBackupVaultLockConfiguration",
    ),
    "aws:backup/plan:Plan": ("backup:CreateBackupPlan", "backup:UpdateBackupPlan", "backup:DeleteBackupPlan"),
    "aws:backup/selection:Selection": (
        "backup:CreateBackupSelection",
        "backup:DeleteBackupSelection",
        "iam:PassRole",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"),
    # BuildKit pushes the app image to the stack's repository.
    "docker-build:index:Image": (
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    ),
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_is_granted_every_call_the_platforms_resource_types_make(stack):
    types = {
        r["type"]
        for r in synth_stack(stack).resources
        if r["custom"] and not r["type"].startswith(("kubernetes:", "pulumi:"))
    }
    assert sorted(types - set(PLATFORM_API_CALLS)) == [], "a new resource type: teach the deploy policy"
    granted = [a for st in deploy_statements(stack) for a in st["Action"]]
    missing = {
        typ: [
            call for call in PLATFORM_API_CALLS[typ] if not any(fnmatch.fnmatchcase(call, g) for g in granted)
        ]
        for typ in types
    }
    assert {typ: calls for typ, calls in missing.items() if calls} == {}


# --- against IAM's own tables (tests/_iam_reference.py, tests/iam/reference.json) ---------------


def identity_policies() -> list[tuple[str, dict[str, Any]]]:
    """The bootstrap's identity policies (role and managed policies), not trust, key or bucket policies."""
    return [
        (name, doc)
        for name, doc, key_policy in documents(ready())
        if not key_policy and name.endswith(".policy") and not name.startswith("state-policy")
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_every_call_the_platform_makes_is_authorized_by_the_deploy_role_as_iam_evaluates_it(stack):
    calls = {call for calls in PLATFORM_API_CALLS.values() for call in calls}
    assert iam_reference.problems(deploy_statements(stack), calls) == []


def test_every_action_a_bootstrap_policy_grants_exists_and_can_match_the_resources_it_names():
    found = identity_policies()
    assert len(found) == 18  # 7 deploy parts x 2 stacks, readonly, 2 runner, flow logs
    assert {
        name: iam_reference.problems(doc["Statement"])
        for name, doc in found
        if iam_reference.problems(doc["Statement"])
    } == {}


def test_what_the_audit_counts_as_read_is_read_or_list_in_iams_tables():
    read_on_star = {
        action
        for _, doc in identity_policies()
        for st in doc["Statement"]
        if st.get("Resource") == "*"
        for pattern in st["Action"]
        if is_read_only(pattern)
        for action in iam_reference.expand(pattern)
    }
    assert len(read_on_star) > 50  # ec2:Describe* alone is hundreds
    assert {
        a: iam_reference.access_level(a)
        for a in read_on_star
        if iam_reference.access_level(a) not in ("Read", "List")
    } == {}


def test_the_iam_check_refuses_a_create_conditioned_on_request_tags_for_the_vpc_it_goes_into():
    # The defect this check found: CreateSubnet also acts on the VPC, for which IAM evaluates
    # aws:ResourceTag only, so a statement conditioned on aws:RequestTag alone denies it.
    only_request_tag = [
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateSubnet"],
            "Resource": ["arn:aws:ec2:eu-west-1:123456789012:*"],
            "Condition": {"StringEquals": {"aws:RequestTag/stack": "staging"}},
        }
    ]
    (problem,) = iam_reference.problems(only_request_tag)
    assert problem.startswith("ec2:CreateSubnet on vpc ")
    on_an_arn = [
        {
            "Effect": "Allow",
            "Action": ["eks:CreateCluster"],
            "Resource": ["arn:aws:eks:eu-west-1:123456789012:cluster/x"],
        }
    ]
    assert iam_reference.problems(on_an_arn) == [
        "eks:CreateCluster: takes no resource ARN (needs Resource '*') or a condition it lacks"
    ]
    assert iam_reference.problems([{"Effect": "Allow", "Action": ["ec2:CreateVcp"], "Resource": "*"}]) == [
        "ec2:CreateVcp: no such action in the Service Authorization Reference"
    ]


def test_the_iam_tables_are_a_dated_export_of_the_service_authorization_reference():
    data = iam_reference.reference()
    assert data["version"] == "0.1.202610271"
    assert "Service Authorization Reference" in data["source"]
    assert {"ec2", "eks", "iam", "kms", "logs", "ecr", "s3", "codeconnections"} <= set(data["actions"])
