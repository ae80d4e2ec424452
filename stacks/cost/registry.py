"""The cost registry: for each resource type a stack can declare, the priced components it costs.

Shaped as Infracost shapes its resource registry (infracost/infracost
`internal/providers/terraform/aws/registry.go`, `ResourceRegistry` and `FreeResources`, with the
cost logic in `internal/resources/aws/*.go`): one entry per resource type with a function (in
stacks/cost/aws.py and stacks/cost/kubernetes.py) that turns the resource's declared inputs into
cost components (a name, a monthly quantity, a unit,
a price from the region's table), the usage keys it reads (Infracost's `UsageSchema`), and a list of
types that cost nothing on their own (Infracost's `FreeResources`). Fixed components come from what
the stack declares; usage components (marked `usage`) from the usage file.

A type in neither `REGISTRY` nor `FREE` is reported as unpriced, and a test fails on any that
the stacks declare. Entries for types the stacks do not declare yet (load balancers, WAF, RDS,
SQS, CodeBuild, Secrets Manager, Route 53) are here so new components are priced when they land.
"""

from __future__ import annotations

from stacks.cost import aws, kubernetes
from stacks.cost.kubernetes import CHARTS, UnpricedChartError
from stacks.cost.lines import Context, Entry, Line

__all__ = ["CHARTS", "FREE", "REGISTRY", "Context", "Entry", "Line", "UnpricedChartError", "usage_schema"]

REGISTRY: dict[str, Entry] = {
    "aws:eks/cluster:Cluster": Entry(aws.eks_cluster),
    "aws:eks/nodeGroup:NodeGroup": Entry(aws.eks_node_group),
    "aws:ec2/instance:Instance": Entry(aws.ec2_instance),
    "aws:ec2/natGateway:NatGateway": Entry(aws.nat_gateway, ("monthlyDataProcessedGb",)),
    "aws:ec2/eip:Eip": Entry(aws.eip),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Entry(aws.vpc_endpoint, ("monthlyDataProcessedGb",)),
    "aws:cloudwatch/logGroup:LogGroup": Entry(aws.log_group, ("monthlyIngestedGb",)),
    "aws:kms/key:Key": Entry(aws.kms_key, ("monthlyRequests",)),
    "aws:ecr/repository:Repository": Entry(aws.ecr_repository, ("storageGb",)),
    "aws:s3/bucket:Bucket": Entry(aws.s3_bucket, ("storageGb", "monthlyPutRequests", "monthlyGetRequests")),
    "aws:s3/bucketV2:BucketV2": Entry(
        aws.s3_bucket, ("storageGb", "monthlyPutRequests", "monthlyGetRequests")
    ),
    "aws:secretsmanager/secret:Secret": Entry(aws.secret, ("monthlyApiCalls",)),
    "aws:sqs/queue:Queue": Entry(aws.sqs_queue, ("monthlyRequests",)),
    "aws:codebuild/project:Project": Entry(aws.codebuild_project, ("monthlyBuildMinutes",)),
    "aws:lb/loadBalancer:LoadBalancer": Entry(aws.load_balancer, ("lcuPerHour",)),
    "aws:wafv2/webAcl:WebAcl": Entry(aws.web_acl, ("monthlyRequestsMillions",)),
    "aws:rds/instance:Instance": Entry(aws.rds_instance, ("backupStorageGb",)),
    "aws:route53/zone:Zone": Entry(aws.hosted_zone),
    "aws:backup/vault:Vault": Entry(aws.backup_vault, ("storageGb", "monthlyCopiedGb")),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Entry(aws.metric_alarm),
    "kubernetes:core/v1:Service": Entry(kubernetes.k8s_service, ("lcuPerHour", "monthlyDataProcessedGb")),
    "kubernetes:networking.k8s.io/v1:Ingress": Entry(kubernetes.k8s_ingress, ("lcuPerHour",)),
    "kubernetes:core/v1:PersistentVolumeClaim": Entry(kubernetes.k8s_pvc),
    "kubernetes:apps/v1:StatefulSet": Entry(kubernetes.k8s_statefulset),
    "kubernetes:helm.sh/v3:Release": Entry(kubernetes.helm_release),
}

_ON_NODES = "runs on the nodes, priced with the node group"
_CONTROL = "configuration, no charge of its own"

# Types that cost nothing by themselves, with the reason (Infracost's FreeResources).
FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": _CONTROL,
    "aws:ec2/subnet:Subnet": _CONTROL,
    "aws:ec2/routeTable:RouteTable": _CONTROL,
    "aws:ec2/route:Route": _CONTROL,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _CONTROL,
    "aws:ec2/internetGateway:InternetGateway": "no charge; data transfer out is billed per GB, not estimated",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _CONTROL,
    "aws:ec2/securityGroup:SecurityGroup": _CONTROL,
    "aws:ec2/securityGroupRule:SecurityGroupRule": _CONTROL,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _CONTROL,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _CONTROL,
    "aws:ec2/flowLog:FlowLog": "delivery is priced as ingestion into its log group",
    "aws:ec2/launchTemplate:LaunchTemplate": "priced with the node group or instance that launches it",
    "aws:eks/addon:Addon": "EKS add-ons have no charge; their pods run on the nodes",
    "aws:eks/accessEntry:AccessEntry": _CONTROL,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": _CONTROL,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _CONTROL,
    "aws:iam/role:Role": "IAM has no charge",
    "aws:iam/policy:Policy": "IAM has no charge",
    "aws:iam/rolePolicy:RolePolicy": "IAM has no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM has no charge",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM has no charge",
    "aws:kms/alias:Alias": "aliases have no charge",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _CONTROL,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _CONTROL,
    "aws:s3/bucketPolicy:BucketPolicy": _CONTROL,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _CONTROL,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _CONTROL,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "SSE-KMS requests are priced as the key's requests"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _CONTROL,
    "aws:s3/bucketVersioning:BucketVersioning": "old versions are priced as the bucket's storage",
    "aws:secretsmanager/secretVersion:SecretVersion": "priced with its secret",
    "aws:sqs/queuePolicy:QueuePolicy": _CONTROL,
    "aws:cloudwatch/eventRule:EventRule": "AWS service events on the default bus are delivered at no charge",
    "aws:cloudwatch/eventTarget:EventTarget": _CONTROL,
    "aws:codebuild/webhook:Webhook": _CONTROL,
    "aws:codeconnections/connection:Connection": "CodeConnections has no charge of its own",
    "aws:codestarconnections/connection:Connection": "CodeConnections has no charge of its own",
    "aws:codebuild/sourceCredential:SourceCredential": _CONTROL,
    "aws:lb/targetGroup:TargetGroup": "priced with its load balancer",
    "aws:lb/listener:Listener": "priced with its load balancer",
    "aws:lb/listenerRule:ListenerRule": "priced with its load balancer",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "priced with its web ACL",
    "aws:rds/subnetGroup:SubnetGroup": _CONTROL,
    "aws:rds/parameterGroup:ParameterGroup": _CONTROL,
    "aws:backup/plan:Plan": "priced with the vault that holds its recovery points",
    "aws:backup/selection:Selection": _CONTROL,
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": _CONTROL,
    "aws:acm/certificate:Certificate": "public ACM certificates have no charge",
    "aws:acm/certificateValidation:CertificateValidation": _CONTROL,
    "aws:route53/record:Record": "standard queries are priced per million, not estimated",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "delivery is priced as ingestion into its log group"
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": _CONTROL,
    "kubernetes:networking.k8s.io/v1:IngressClass": "its load balancer is priced with the Ingresses",
    "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams": "its load balancer is priced with the Ingresses",
    "docker-build:index:Image": "built where Pulumi runs; its storage is priced in ECR",
    "pulumi:providers:aws": "a provider, not a resource",
    "pulumi:providers:kubernetes": "a provider, not a resource",
    "kubernetes:core/v1:Namespace": _CONTROL,
    "kubernetes:core/v1:ConfigMap": _CONTROL,
    "kubernetes:core/v1:Secret": _CONTROL,
    "kubernetes:core/v1:ServiceAccount": _CONTROL,
    "kubernetes:apps/v1:Deployment": _ON_NODES,
    "kubernetes:apps/v1:DaemonSet": _ON_NODES,
    "kubernetes:batch/v1:Job": _ON_NODES,
    "kubernetes:batch/v1:CronJob": _ON_NODES,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": _CONTROL,
    "kubernetes:policy/v1:PodDisruptionBudget": _CONTROL,
    "kubernetes:kyverno.io/v1:ClusterPolicy": _CONTROL,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": _CONTROL,
    "kubernetes:external-secrets.io/v1:ExternalSecret": "priced with the secret's API calls",
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": _CONTROL,
    "kubernetes:storage.k8s.io/v1:StorageClass": "volumes are priced with the claims that use the class",
    "kubernetes:rbac.authorization.k8s.io/v1:Role": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": _CONTROL,
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": _CONTROL,
    "kubernetes:karpenter.sh/v1:NodePool": (
        "its nodes are EC2 instances launched for pending pods and billed while they run; none idle"
    ),
}


def usage_schema() -> dict[str, tuple[str, ...]]:
    """Type -> the usage keys its entry reads (what the usage file may set)."""
    return {t: e.usage_keys for t, e in REGISTRY.items()}
