"""What `pulumi up --refresh` of one platform stack needs: the deploy role's policy, by part.

How it is narrowed, since the platform's resources are mostly auto-named:
- by ARN where the name is known: the EKS cluster `lmagent-infra-<stack>` and its node groups,
  add-ons and access entries; its log group; the stack's own files in the state bucket;
- by name prefix where Pulumi auto-names: IAM roles of the `cluster` and `network` components,
  the Loki bucket `monitoring-logs-*`;
- by the `stack` tag every taggable platform resource carries (stacks/platform.py `base_tags`):
  creates must send `aws:RequestTag/stack = <stack>`, changes and deletes need
  `aws:ResourceTag/stack = <stack>` (IAM user guide, "Controlling access to AWS resources using
  tags"), so the staging role cannot touch production's VPC, keys, roles or repository.
Two limits remain, said plainly: the role writes inline policies on its own roles (the Loki and
flow-log policies), so whoever controls the program could grant those roles more; and S3 bucket
settings are scoped by name prefix only (S3 bucket tags were not usable as a condition when this
was written). A permissions boundary on every platform role would close the first; see README.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.bootstrap._iam import allow, document
from components.bootstrap._policies import (
    BOOTSTRAP_PROJECT,
    PLATFORM_MANAGED_POLICY_ARNS,
    PLATFORM_POLICY_PREFIX,
    PLATFORM_PROJECT,
    PLATFORM_ROLE_PREFIXES,
    state_object_prefixes,
)

__all__ = ["deploy_policies"]


def _state_statements(bucket_arn: str, key_arn: str, stack: str) -> list[dict[str, Any]]:
    objects = [f"{bucket_arn}/{prefix}" for prefix in state_object_prefixes(stack)]
    return [
        allow("ListTheStateBucket", ["s3:ListBucket", "s3:GetBucketLocation"], [bucket_arn]),
        allow("ReadBackendMetadata", ["s3:GetObject"], [f"{bucket_arn}/.pulumi/meta.yaml"]),
        allow("ReadAndWriteThisStacksState", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], objects),
        # The platform reads the bootstrap's outputs (roles, runner CIDRs) by StackReference.
        allow(
            "ReadTheBootstrapOutputs",
            ["s3:GetObject"],
            [f"{bucket_arn}/.pulumi/stacks/{BOOTSTRAP_PROJECT}/*"],
        ),
        # The same key encrypts the state objects (SSE-KMS) and the stack's secrets
        # (awskms:// secrets provider): S3 asks for GenerateDataKey on write, Decrypt on read.
        allow(
            "UseTheStateKey",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            [key_arn],
        ),
    ]


def _tagged(
    sid: str,
    stack: str,
    *,
    create: Sequence[str] = (),
    change: Sequence[str] = (),
    resources: Sequence[str],
) -> list[dict[str, Any]]:
    """A create statement requiring the request to tag `stack`, and a change statement requiring
    the resource to carry it."""
    out = []
    if create:
        out.append(
            allow(f"Create{sid}", create, resources, {"StringEquals": {"aws:RequestTag/stack": stack}})
        )
    if change:
        out.append(
            allow(f"Change{sid}", change, resources, {"StringEquals": {"aws:ResourceTag/stack": stack}})
        )
    return out


def deploy_policies(
    *,
    stack: str,
    account: str,
    region: str,
    state_bucket_arn: str,
    state_key_arn: str,
    attachable_policy_arns: Sequence[str] = (),
    cluster_name: str | None = None,
) -> dict[str, dict[str, Any]]:
    """What `pulumi up --refresh` of the platform stack `stack` needs, and nothing of other stacks.

    Split by part (state, network, cluster, iam, data), one managed policy each: the whole is
    over 10,240 characters, IAM's limit for a role's inline policies together, and each part
    stays under 6,144, the limit of one managed policy (IAM user guide, "IAM and AWS STS quotas").
    """
    cluster = cluster_name or f"{PLATFORM_PROJECT}-{stack}"
    ec2 = f"arn:aws:ec2:{region}:{account}"
    eks = f"arn:aws:eks:{region}:{account}"
    iam = f"arn:aws:iam::{account}"
    roles = [f"{iam}:role/{prefix}*" for prefix in PLATFORM_ROLE_PREFIXES]
    policies = [f"{iam}:policy/{PLATFORM_POLICY_PREFIX}*"]
    logs = f"arn:aws:logs:{region}:{account}:log-group"
    log_groups = [
        f"{logs}:/aws/eks/{cluster}/*",
        f"{logs}:/aws/vpc/*",
        f"{logs}:/aws/rds/instance/{cluster}-*",
    ]
    log_groups += [f"{g}:*" for g in log_groups]
    ec2_creates = [
        "ec2:AllocateAddress",
        "ec2:CreateFlowLogs",
        "ec2:CreateInternetGateway",
        "ec2:CreateLaunchTemplate",
        "ec2:CreateNatGateway",
        "ec2:CreateRouteTable",
        "ec2:CreateSecurityGroup",
        "ec2:CreateSubnet",
        "ec2:CreateVpc",
        "ec2:CreateVpcEndpoint",
    ]
    parts: dict[str, list[dict[str, Any]]] = {}
    parts["state"] = [
        *_state_statements(state_bucket_arn, state_key_arn, stack),
        # Reads a refresh and the provider's waiters make; none of them writes.
        allow(
            "DescribeWhatTheStackReads",
            [
                "ec2:Describe*",
                "ec2:GetManagedPrefixListEntries",
                "eks:DescribeAddonVersions",
                "eks:ListClusters",
                "kms:ListAliases",
                "logs:DescribeLogGroups",
                "ecr:DescribeRepositories",
                "iam:ListOpenIDConnectProviders",
            ],
            "*",
        ),
    ]
    # VPC (components/network.py): creates in this account and region, tagged for the stack;
    # changes and deletes only on resources tagged for it.
    parts["network"] = [
        *_tagged("Ec2Networking", stack, create=ec2_creates, resources=[f"{ec2}:*"]),
        # A create also acts on what it goes into (CreateSubnet on its VPC, CreateNatGateway on
        # its subnet and Elastic IP...). For those resources IAM evaluates aws:ResourceTag, not
        # aws:RequestTag (Service Authorization Reference, EC2 actions table): a second statement
        # lets the creates use only this stack's own VPC, subnets, route tables and addresses.
        allow(
            "CreateInsideThisStacksNetwork",
            ec2_creates,
            [f"{ec2}:*"],
            {"StringEquals": {"aws:ResourceTag/stack": stack}},
        ),
        allow(
            "TagEc2ResourcesAsTheyAreCreated",
            ["ec2:CreateTags"],
            [f"{ec2}:*"],
            {"StringEquals": {"ec2:CreateAction": ec2_creates}},
        ),
        *_tagged(
            "Ec2NetworkingOfThisStack",
            stack,
            change=[
                "ec2:AssociateRouteTable",
                "ec2:AttachInternetGateway",
                "ec2:CreateRoute",
                "ec2:CreateTags",
                "ec2:DeleteFlowLogs",
                "ec2:DeleteInternetGateway",
                "ec2:DeleteLaunchTemplate",
                "ec2:DeleteNatGateway",
                "ec2:DeleteRoute",
                "ec2:DeleteRouteTable",
                "ec2:DeleteSubnet",
                "ec2:DeleteTags",
                "ec2:DeleteVpc",
                "ec2:DeleteVpcEndpoints",
                "ec2:DetachInternetGateway",
                "ec2:DisassociateAddress",
                "ec2:DisassociateRouteTable",
                "ec2:ModifySubnetAttribute",
                "ec2:ModifyVpcAttribute",
                "ec2:ModifyVpcEndpoint",
                "ec2:ReleaseAddress",
                "ec2:ReplaceRoute",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:ModifyLaunchTemplate",
                # The databases' security groups and their one ingress rule each.
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
                "ec2:ModifySecurityGroupRules",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
            ],
            resources=[f"{ec2}:*"],
        ),
        # The VPC's default security group is adopted, not created: it has no stack tag until the
        # provider tags it, so emptying its rules cannot be conditioned on the tag.
        allow(
            "EmptyTheAdoptedDefaultSecurityGroup",
            ["ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"],
            [f"{ec2}:security-group/*"],
        ),
    ]
    # EKS (components/cluster.py): the stack's cluster by name, and what hangs off it.
    parts["cluster"] = [
        # CreateCluster names no resource type in the Service Authorization Reference (EKS actions
        # table): it is authorized on "*" only, here for clusters tagged for this stack.
        allow(
            "CreateThisStacksCluster",
            ["eks:CreateCluster"],
            "*",
            {"StringEquals": {"aws:RequestTag/stack": stack}},
        ),
        allow(
            "ManageThisStacksCluster",
            [
                "eks:AssociateAccessPolicy",
                "eks:CreateAccessEntry",
                "eks:CreateAddon",
                "eks:CreateNodegroup",
                "eks:CreatePodIdentityAssociation",
                "eks:DeleteAccessEntry",
                "eks:DeleteAddon",
                "eks:DeleteCluster",
                "eks:DeleteNodegroup",
                "eks:DeletePodIdentityAssociation",
                "eks:DescribeAccessEntry",
                "eks:DescribeAddon",
                "eks:DescribeCluster",
                "eks:DescribeNodegroup",
                "eks:DescribePodIdentityAssociation",
                "eks:DescribeUpdate",
                "eks:DisassociateAccessPolicy",
                "eks:ListAccessEntries",
                "eks:ListAddons",
                "eks:ListAssociatedAccessPolicies",
                "eks:ListNodegroups",
                "eks:ListPodIdentityAssociations",
                "eks:ListTagsForResource",
                "eks:TagResource",
                "eks:UntagResource",
                "eks:UpdateAccessEntry",
                "eks:UpdateAddon",
                "eks:UpdateClusterConfig",
                "eks:UpdateClusterVersion",
                "eks:UpdateNodegroupConfig",
                "eks:UpdateNodegroupVersion",
                "eks:UpdatePodIdentityAssociation",
            ],
            [
                f"{eks}:cluster/{cluster}",
                f"{eks}:nodegroup/{cluster}/*",
                f"{eks}:addon/{cluster}/*",
                f"{eks}:access-entry/{cluster}/*",
                f"{eks}:podidentityassociation/{cluster}/*",
                "arn:aws:eks::aws:cluster-access-policy/*",
            ],
        ),
        # Karpenter's interruption queue (named after the cluster) and the EventBridge rules that
        # fill it (auto-named `karpenter-<event>-<random>`: scoped by the stack tag instead).
        allow(
            "ManageThisStacksInterruptionQueue",
            [
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListQueueTags",
                "sqs:SetQueueAttributes",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ],
            [f"arn:aws:sqs:{region}:{account}:{cluster}-karpenter"],
        ),
        *_tagged(
            "InterruptionRules",
            stack,
            create=["events:PutRule", "events:TagResource"],
            change=[
                "events:DeleteRule",
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ],
            resources=[f"arn:aws:events:{region}:{account}:rule/karpenter-*"],
        ),
        allow(
            "ReadInterruptionRules",
            ["events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule"],
            [f"arn:aws:events:{region}:{account}:rule/karpenter-*"],
        ),
    ]
    # IAM: the platform's roles (prefix and tag), its OIDC provider, service-linked roles.
    parts["iam"] = [
        *_tagged(
            "PlatformRoles",
            stack,
            create=["iam:CreateRole", "iam:TagRole"],
            change=[
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            resources=roles,
        ),
        allow(
            "ReadPlatformRoles",
            [
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
            ],
            roles,
        ),
        allow(
            "AttachOnlyThePlatformsManagedPolicies",
            ["iam:AttachRolePolicy"],
            roles,
            {
                "ArnEquals": {
                    "iam:PolicyARN": sorted({*PLATFORM_MANAGED_POLICY_ARNS, *attachable_policy_arns})
                },
                "StringEquals": {"aws:ResourceTag/stack": stack},
            },
        ),
        # The Karpenter controller's own policies: created tagged for the stack, changed only so.
        *_tagged(
            "PlatformPolicies",
            stack,
            create=["iam:CreatePolicy", "iam:TagPolicy"],
            change=[
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            resources=policies,
        ),
        allow(
            "ReadPlatformPolicies",
            ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyTags", "iam:ListPolicyVersions"],
            policies,
        ),
        allow(
            "AttachThePlatformsOwnPolicies",
            ["iam:AttachRolePolicy"],
            roles,
            {
                "ArnLike": {"iam:PolicyARN": policies},
                "StringEquals": {"aws:ResourceTag/stack": stack},
            },
        ),
        # EKS (cluster, node groups), VPC flow logs, and EKS Pod Identity (the Karpenter controller).
        allow(
            "PassPlatformRolesToEksAndFlowLogs",
            ["iam:PassRole"],
            roles,
            {
                "StringEquals": {
                    "iam:PassedToService": [
                        "backup.amazonaws.com",
                        "eks.amazonaws.com",
                        "monitoring.rds.amazonaws.com",
                        "pods.eks.amazonaws.com",
                        "vpc-flow-logs.amazonaws.com",
                    ]
                }
            },
        ),
        allow(
            "CreateEksServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            [f"{iam}:role/aws-service-role/*"],
            {
                "StringEquals": {
                    "iam:AWSServiceName": [
                        "eks.amazonaws.com",
                        "eks-nodegroup.amazonaws.com",
                        "rds.amazonaws.com",
                    ]
                }
            },
        ),
        *_tagged(
            "ClusterOidcProvider",
            stack,
            create=["iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"],
            change=[
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:DeleteOpenIDConnectProvider",
                "iam:RemoveClientIDFromOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider",
                "iam:UntagOpenIDConnectProvider",
                "iam:UpdateOpenIDConnectProviderThumbprint",
            ],
            resources=[f"{iam}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/*"],
        ),
        allow(
            "ReadClusterOidcProviders",
            ["iam:GetOpenIDConnectProvider"],
            [f"{iam}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/*"],
        ),
    ]
    # KMS keys (EKS secrets, log groups, the Loki bucket), log groups, the ECR repository and
    # the Loki bucket: the stores of the platform.
    parts["data"] = [
        allow(
            "CreateKeysTaggedForThisStack",
            ["kms:CreateKey"],
            "*",
            {"StringEquals": {"aws:RequestTag/stack": stack}},
        ),
        # CreateKey with Tags also needs kms:TagResource (KMS API reference, CreateKey: "Tags").
        allow(
            "TagKeysAsTheyAreCreated",
            ["kms:TagResource"],
            [f"arn:aws:kms:{region}:{account}:key/*"],
            {"StringEquals": {"aws:RequestTag/stack": stack}},
        ),
        allow(
            "ManageKeysOfThisStack",
            [
                "kms:CreateGrant",
                "kms:DescribeKey",
                "kms:EnableKeyRotation",
                "kms:GetKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:ListResourceTags",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:UpdateKeyDescription",
            ],
            [f"arn:aws:kms:{region}:{account}:key/*"],
            {"StringEquals": {"aws:ResourceTag/stack": stack}},
        ),
        # CloudWatch Logs: the cluster's control-plane log group and the VPC flow logs.
        *_tagged(
            "LogGroups",
            stack,
            create=["logs:CreateLogGroup", "logs:TagResource"],
            change=[
                "logs:AssociateKmsKey",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:DisassociateKmsKey",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            resources=log_groups,
        ),
        allow("ReadLogGroupTags", ["logs:ListTagsForResource"], log_groups),
        # ECR (components/image.py): the repository and the image push.
        # The login token is account-wide: GetAuthorizationToken (access level Read) has no
        # resource type (ECR user guide, "Private registry authentication"). Pushing is scoped.
        allow("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
        *_tagged(
            "Repository",
            stack,
            create=["ecr:CreateRepository", "ecr:TagResource"],
            change=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DeleteLifecyclePolicy",
                "ecr:DeleteRepository",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:InitiateLayerUpload",
                "ecr:ListTagsForResource",
                "ecr:PutImage",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:UploadLayerPart",
            ],
            resources=[f"arn:aws:ecr:{region}:{account}:repository/*"],
        ),
        # S3: the Loki bucket (components/monitoring.py), auto-named `monitoring-logs-*`.
        allow(
            "ManageTheLokiBucket",
            [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:GetAccelerateConfiguration",
                "s3:GetBucketAcl",
                "s3:GetBucketCORS",
                "s3:GetBucketLogging",
                "s3:GetBucketObjectLockConfiguration",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketRequestPayment",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetBucketWebsite",
                "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:ListBucket",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            ["arn:aws:s3:::monitoring-logs-*"],
        ),
    ]
    parts["edge"] = _edge_statements(stack, account, region)
    # RDS, AWS Backup and alarms (components/database): instances, groups and snapshots named
    # `<cluster>-<database>`, vaults and alarms `rds-<cluster>-*`.
    rds = f"arn:aws:rds:{region}:{account}"
    parts["database"] = [
        allow(
            "ManageThisStacksDatabases",
            [
                "rds:AddTagsToResource",
                "rds:CreateDBInstance",
                "rds:CreateDBParameterGroup",
                "rds:CreateDBSubnetGroup",
                "rds:DeleteDBInstance",
                "rds:DeleteDBParameterGroup",
                "rds:DeleteDBSubnetGroup",
                "rds:DescribeDBParameters",
                "rds:ListTagsForResource",
                "rds:ModifyDBInstance",
                "rds:ModifyDBParameterGroup",
                "rds:ModifyDBSubnetGroup",
                "rds:RemoveTagsFromResource",
            ],
            [
                f"{rds}:db:{cluster}-*",
                f"{rds}:pg:{cluster}-*",
                f"{rds}:subgrp:{cluster}-*",
                f"{rds}:snapshot:{cluster}-*",
                f"{rds}:og:default:*",
            ],
        ),
        allow(
            "ReadDatabases",
            ["rds:DescribeDBInstances", "rds:DescribeDBParameterGroups", "rds:DescribeDBSubnetGroups"],
            "*",
        ),
        # manage_master_user_password: RDS creates the secret as the caller (RDS user guide,
        # "Password management with Amazon RDS and AWS Secrets Manager", required permissions).
        allow(
            "LetRdsKeepTheMasterSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
            ],
            [f"arn:aws:secretsmanager:{region}:{account}:secret:rds!*"],
        ),
        allow(
            "EncryptTheSecretWithThisStacksKeys",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [f"arn:aws:kms:{region}:{account}:key/*"],
            {"StringEquals": {"aws:ResourceTag/stack": stack}},
        ),
        allow(
            "ManageThisStacksBackups",
            [
                "backup:CreateBackupPlan",
                "backup:CreateBackupSelection",
                "backup:CreateBackupVault",
                "backup:DeleteBackupPlan",
                "backup:DeleteBackupSelection",
                "backup:DeleteBackupVault",
                "backup:DeleteBackupVaultLockConfiguration",
                "backup:DescribeBackupVault",
                "backup:GetBackupPlan",
                "backup:GetBackupSelection",
                "backup:ListTags",
                "backup:PutBackupVaultLockConfiguration",
                "backup:TagResource",
                "backup:UntagResource",
                "backup:UpdateBackupPlan",
            ],
            [
                f"arn:aws:backup:{region}:{account}:backup-vault:rds-{cluster}-*",
                f"arn:aws:backup:{region}:{account}:backup-plan:*",
            ],
        ),
        # A vault's storage (AWS Backup developer guide, "Permissions to create a vault").
        allow("BackupVaultStorage", ["backup-storage:MountCapsule"], "*"),
        allow(
            "ThisStacksDatabaseAlarms",
            [
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            [f"arn:aws:cloudwatch:{region}:{account}:alarm:rds-{cluster}-*"],
        ),
    ]
    return {part: document(statements) for part, statements in parts.items()}


def _edge_statements(stack: str, account: str, region: str) -> list[dict[str, Any]]:
    """The public entry (components/edge): the certificate and its validation record, the web ACL
    and its logging. The controllers' own AWS calls are their IRSA roles', not this role's."""
    owner = f"{PLATFORM_PROJECT}-{stack}"
    certificates = [f"arn:aws:acm:{region}:{account}:certificate/*"]
    waf_logs = f"arn:aws:logs:{region}:{account}:log-group:aws-waf-logs-{owner}"
    return [
        # RequestCertificate names no resource type (the certificate has no ARN before it exists);
        # the request must tag the certificate for this stack.
        allow(
            "RequestCertificatesTaggedForThisStack",
            ["acm:RequestCertificate"],
            "*",
            {"StringEquals": {"aws:RequestTag/stack": stack}},
        ),
        *_tagged(
            "Certificates",
            stack,
            create=["acm:AddTagsToCertificate"],
            change=["acm:AddTagsToCertificate", "acm:DeleteCertificate", "acm:RemoveTagsFromCertificate"],
            resources=certificates,
        ),
        allow("ReadCertificates", ["acm:DescribeCertificate", "acm:ListTagsForCertificate"], certificates),
        # Only validation records, whose names start with `_`: external-dns writes the hosts'
        # records with its own role (Route 53 developer guide, "Using IAM policy conditions for
        # fine-grained access control": ChangeResourceRecordSetsNormalizedRecordNames).
        allow(
            "CertificateValidationRecords",
            ["route53:ChangeResourceRecordSets"],
            ["arn:aws:route53:::hostedzone/*"],
            {
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_*"],
                    "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
                }
            },
        ),
        allow(
            "ReadRecords",
            ["route53:GetChange", "route53:GetHostedZone", "route53:ListResourceRecordSets"],
            ["arn:aws:route53:::hostedzone/*", "arn:aws:route53:::change/*"],
        ),
        # The web ACL is named after the stack; creating it references AWS's managed rule groups.
        allow(
            "ThisStacksWebAcl",
            [
                "wafv2:CreateWebACL",
                "wafv2:DeleteLoggingConfiguration",
                "wafv2:DeleteWebACL",
                "wafv2:GetLoggingConfiguration",
                "wafv2:GetWebACL",
                "wafv2:ListTagsForResource",
                "wafv2:PutLoggingConfiguration",
                "wafv2:TagResource",
                "wafv2:UntagResource",
                "wafv2:UpdateWebACL",
            ],
            [
                f"arn:aws:wafv2:{region}:{account}:regional/webacl/{owner}/*",
                f"arn:aws:wafv2:{region}:{account}:regional/managedruleset/*/*",
            ],
        ),
        # WAF logging to CloudWatch Logs goes through log delivery and a resource policy, both
        # account-level (AWS WAF developer guide, "Permissions to log to CloudWatch Logs").
        allow(
            "WafLogDelivery",
            [
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DeleteResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:PutResourcePolicy",
            ],
            "*",
        ),
        *_tagged(
            "WafLogGroup",
            stack,
            create=["logs:CreateLogGroup", "logs:TagResource"],
            change=[
                "logs:AssociateKmsKey",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            resources=[waf_logs, f"{waf_logs}:*"],
        ),
    ]
