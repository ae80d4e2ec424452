"""Typical create times of the resources the stacks declare, each with where the figure comes from.

`python -m stacks plan` adds these up along the dependency graph to estimate a first `pulumi up`.
Each entry is one create of one resource, from the moment its dependencies are ready to the moment
the engine records it, as a first deploy in one region sees it. A figure read from a published
measurement or a provider's documentation names it; where none was found the source says
`assumption` and why the figure is what it is. Replace an assumption with a measurement as soon as
one exists: a real deploy prints each resource's time (`pulumi up` shows "created (913s)").

Kubernetes objects: pulumi-kubernetes waits for a Deployment's rollout and a Service's endpoints
(its "await logic", https://www.pulumi.com/blog/improving-kubernetes-management-with-pulumis-await-logic/,
and each class's docstring in pulumi_kubernetes 4.34.2); other objects, custom resources included,
are done when the API server accepts them. A `helm.v3.Release` waits for the chart's
workloads to be ready unless `skipAwait` is set (pulumi_kubernetes 4.34.2, `helm/v3/Release`
docstring of `skip_await`), so its time is the chart's, listed per chart in `CHARTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@dataclass(frozen=True)
class Estimate:
    """How long one create takes, in seconds, and where that figure comes from."""

    seconds: int
    source: str

    @property
    def assumed(self) -> bool:
        return self.source.startswith("assumption")


class UnknownDurationError(KeyError):
    """A resource type (or Helm chart) the table has no figure for."""

    def __str__(self) -> str:
        return str(self.args[0])


_K8S_OBJECT = "pulumi-kubernetes has no await logic for this kind: done when the API server accepts it"
_API_CALL = "assumption: one synchronous API call, no waiting for a state change"

TYPES: Mapping[str, Estimate] = {
    # --- network -----------------------------------------------------------------------------
    "aws:ec2/vpc:Vpc": Estimate(
        25, "measured: aws_vpc created in 24s (turbot/steampipe-plugin-aws#131, test log)"
    ),
    "aws:ec2/subnet:Subnet": Estimate(
        10, "measured: aws_subnet created in 10s (terraform-aws-modules/terraform-aws-eks#2203, apply log)"
    ),
    "aws:ec2/routeTable:RouteTable": Estimate(
        6, "measured: aws:ec2:RouteTable created in 5-7s (redhat-developer/mapt#766, pulumi up log)"
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": Estimate(
        2, "measured: 1-2s (terraform-aws-modules/terraform-aws-eks#2203; redhat-developer/mapt#766)"
    ),
    "aws:ec2/route:Route": Estimate(2, _API_CALL),
    "aws:ec2/internetGateway:InternetGateway": Estimate(5, _API_CALL + " plus the VPC attachment"),
    "aws:ec2/eip:Eip": Estimate(2, _API_CALL),
    "aws:ec2/natGateway:NatGateway": Estimate(
        120,
        "assumption from published logs: aws_nat_gateway still creating after 1m20s "
        "(hashicorp-education/learn-terraform-provision-eks-cluster#22); the provider waits for "
        "the `available` state",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": Estimate(2, _API_CALL),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Estimate(
        15, "assumption: a gateway endpoint; the provider waits for the `available` state"
    ),
    "aws:ec2/flowLog:FlowLog": Estimate(5, _API_CALL),
    "aws:ec2/launchTemplate:LaunchTemplate": Estimate(2, _API_CALL),
    "aws:ec2/securityGroup:SecurityGroup": Estimate(3, _API_CALL),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Estimate(2, _API_CALL),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": Estimate(2, _API_CALL),
    # --- identity, keys, logs ----------------------------------------------------------------
    "aws:iam/role:Role": Estimate(
        7, "measured: aws_iam_role created in 7s (turbot/steampipe-plugin-aws#131, test log)"
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Estimate(
        4, "measured: aws_iam_role_policy_attachment created in 4s (turbot/steampipe-plugin-aws#131)"
    ),
    "aws:iam/rolePolicy:RolePolicy": Estimate(4, "assumption: as a policy attachment (measured 4s)"),
    "aws:iam/policy:Policy": Estimate(4, "assumption: as a policy attachment (measured 4s)"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": Estimate(3, _API_CALL),
    "aws:kms/key:Key": Estimate(5, _API_CALL + " (CreateKey, then the key policy and rotation)"),
    "aws:kms/alias:Alias": Estimate(2, _API_CALL),
    "aws:cloudwatch/logGroup:LogGroup": Estimate(2, _API_CALL),
    "aws:cloudwatch/eventRule:EventRule": Estimate(2, _API_CALL),
    "aws:cloudwatch/eventTarget:EventTarget": Estimate(2, _API_CALL),
    "aws:sqs/queue:Queue": Estimate(
        5, "assumption: CreateQueue, then the provider waits for the attributes to read back"
    ),
    "aws:sqs/queuePolicy:QueuePolicy": Estimate(3, _API_CALL),
    # --- EKS ----------------------------------------------------------------------------------
    "aws:eks/cluster:Cluster": Estimate(
        900,
        "measured: 913s to create an EKS control plane in eu-west-1, 793-971s across 21 regions "
        "(https://easontechtalk.com/unofficial-eks-cluster-creation-performance-across-aws-regions); "
        "AWS put the average at 15 minutes (aws/containers-roadmap#1227)",
    ),
    "aws:eks/nodeGroup:NodeGroup": Estimate(
        180,
        "measured: aws_eks_node_group created in 2m50s in eu-west-1 "
        "(umotif-public/terraform-aws-eks-node-group#7); an eksctl node group stack took 3m36s "
        "(eksctl-io/eksctl#482)",
    ),
    "aws:eks/addon:Addon": Estimate(
        60,
        "assumption: the provider waits for the add-on to be ACTIVE, which needs its pods ready "
        "(a few seconds for a DaemonSet with no nodes yet; about a minute for a Deployment)",
    ),
    "aws:eks/accessEntry:AccessEntry": Estimate(3, _API_CALL),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": Estimate(3, _API_CALL),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": Estimate(3, _API_CALL),
    # --- database (components/database) ----------------------------------------------------------
    "aws:rds/instance:Instance": Estimate(
        720,
        "assumption: the provider waits for the `available` state, and a Multi-AZ instance with "
        "storage encryption is commonly reported at 10-15 minutes (hashicorp/terraform#15036: "
        "still creating after 5m20s); no measurement of this configuration was found",
    ),
    "aws:rds/parameterGroup:ParameterGroup": Estimate(3, _API_CALL),
    "aws:rds/subnetGroup:SubnetGroup": Estimate(3, _API_CALL),
    "aws:backup/vault:Vault": Estimate(3, _API_CALL),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": Estimate(2, _API_CALL),
    "aws:backup/plan:Plan": Estimate(2, _API_CALL),
    "aws:backup/selection:Selection": Estimate(
        10, "assumption: the provider retries while the new IAM role propagates"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Estimate(2, _API_CALL),
    # --- image --------------------------------------------------------------------------------
    "aws:ecr/repository:Repository": Estimate(3, _API_CALL),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": Estimate(2, _API_CALL),
    "docker-build:index:Image": Estimate(
        180,
        "assumption: a BuildKit build of app/ without a warm cache and the push to ECR; "
        "a cached rebuild takes seconds",
    ),
    # --- S3 (the production Loki bucket) ------------------------------------------------------
    "aws:s3/bucket:Bucket": Estimate(3, _API_CALL),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Estimate(
        5, "assumption: the provider re-reads the configuration until it is visible"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": Estimate(2, _API_CALL),
    "aws:s3/bucketPolicy:BucketPolicy": Estimate(2, _API_CALL),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Estimate(2, _API_CALL),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Estimate(
        2, _API_CALL
    ),
    # --- public entry (components/edge) -------------------------------------------------------
    "aws:acm/certificate:Certificate": Estimate(
        10,
        "assumption: RequestCertificate returns at once; the provider waits only until ACM lists "
        "the DNS validation options",
    ),
    "aws:acm/certificateValidation:CertificateValidation": Estimate(
        300,
        "assumption: waits for ISSUED; ACM validates a DNS record once it resolves, which the ACM "
        "user guide says can take up to 30 minutes (usually minutes)",
    ),
    "aws:route53/record:Record": Estimate(
        60,
        "assumption: the provider waits for the change to be INSYNC; Route 53 propagates changes "
        "to its name servers generally within 60 seconds (Route 53 developer guide)",
    ),
    "aws:wafv2/webAcl:WebAcl": Estimate(3, _API_CALL),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": Estimate(3, _API_CALL),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": Estimate(2, _API_CALL),
    "kubernetes:networking.k8s.io/v1:IngressClass": Estimate(1, _K8S_OBJECT),
    "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams": Estimate(1, _K8S_OBJECT),
    "kubernetes:networking.k8s.io/v1:Ingress": Estimate(
        180,
        "assumption: pulumi-kubernetes waits for the Ingress status to carry the load balancer's "
        "address, which the controller writes once the ALB exists; a new ALB takes a few minutes, "
        "a rule on the group's existing ALB seconds",
    ),
    # --- Kubernetes ---------------------------------------------------------------------------
    "pulumi:providers:kubernetes": Estimate(
        0, "a provider is configured inside the engine: no call to the cluster"
    ),
    "kubernetes:core/v1:Namespace": Estimate(2, _K8S_OBJECT),
    "kubernetes:core/v1:ConfigMap": Estimate(1, _K8S_OBJECT),
    "kubernetes:core/v1:Secret": Estimate(1, _K8S_OBJECT),
    "kubernetes:core/v1:ServiceAccount": Estimate(1, _K8S_OBJECT),
    "kubernetes:batch/v1:Job": Estimate(
        45,
        "assumption: pulumi-kubernetes waits until the Job completes (4.34.2 batch/v1/Job docstring); "
        "the database-users Job pulls the postgres alpine image (about 100 MB) and runs one short psql "
        "session",
    ),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": Estimate(1, _K8S_OBJECT),
    "kubernetes:policy/v1:PodDisruptionBudget": Estimate(1, _K8S_OBJECT),
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": Estimate(1, _K8S_OBJECT),
    "kubernetes:storage.k8s.io/v1:StorageClass": Estimate(1, _K8S_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:Role": Estimate(1, _K8S_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": Estimate(1, _K8S_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": Estimate(1, _K8S_OBJECT),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": Estimate(1, _K8S_OBJECT),
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": Estimate(1, _K8S_OBJECT),
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": Estimate(1, _K8S_OBJECT),
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": Estimate(1, _K8S_OBJECT),
    "kubernetes:karpenter.sh/v1:NodePool": Estimate(1, _K8S_OBJECT),
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": Estimate(1, _K8S_OBJECT),
    "kubernetes:external-secrets.io/v1:ExternalSecret": Estimate(1, _K8S_OBJECT),
    "kubernetes:external-secrets.io/v1:SecretStore": Estimate(1, _K8S_OBJECT),
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": Estimate(1, _K8S_OBJECT),
    "kubernetes:kyverno.io/v1:ClusterPolicy": Estimate(1, _K8S_OBJECT),
    "kubernetes:core/v1:PersistentVolumeClaim": Estimate(
        1, "pulumi-kubernetes does not wait for a claim to bind (its pod's volume does)"
    ),
    "kubernetes:apps/v1:Deployment": Estimate(
        60,
        "assumption: the provider waits for the Available condition (pulumi_kubernetes 4.34.2, "
        "apps/v1 Deployment docstring): an image pull from ECR in-region and the readiness "
        "probe's first successes",
    ),
    "kubernetes:core/v1:Service": Estimate(
        70,
        "assumption: the provider waits until no selected endpoint is not ready, then 10 s more "
        "for stragglers (pulumi_kubernetes 4.34.2, core/v1 Service docstring): its Deployment's "
        "pods' readiness plus 10 s",
    ),
}

CHARTS: Mapping[str, Estimate] = {
    "kube-prometheus-stack": Estimate(
        240,
        "assumption: CRDs, the operator's admission-webhook jobs, then Prometheus and "
        "Alertmanager StatefulSets each binding a new EBS volume, and Grafana",
    ),
    "loki": Estimate(
        120, "assumption: the single-binary StatefulSet, its volume bind (staging) and its ring joining"
    ),
    "alloy": Estimate(60, "assumption: one DaemonSet pod per node, a small image"),
    "jaeger": Estimate(90, "assumption: one Deployment (Jaeger v2 all-in-one) and its UI"),
    "opentelemetry-collector": Estimate(60, "assumption: one Deployment, a small image"),
    "karpenter-crd": Estimate(10, "assumption: CRDs only, no workload to wait for"),
    "karpenter": Estimate(60, "assumption: the controller Deployment (two replicas), a small image"),
    "kyverno": Estimate(
        90,
        "assumption: four controller Deployments (three admission replicas), each issuing its "
        "webhook certificate and registering its webhooks before it reports ready",
    ),
    "external-secrets": Estimate(
        90, "assumption: the operator, its webhook (a certificate to issue first) and the cert controller"
    ),
    "aws-load-balancer-controller": Estimate(
        60, "assumption: one Deployment of 2 replicas and its webhook certificate Secret"
    ),
    "external-dns": Estimate(45, "assumption: one Deployment, a small image"),
    "prometheus-yet-another-cloudwatch-exporter": Estimate(
        30, "assumption: one Deployment of one replica, a small image, ready once it serves /healthz"
    ),
}

COMPONENT = Estimate(0, "a component: registering it creates nothing in the cloud")


def estimate(resource: Mapping[str, Any]) -> Estimate:
    """The create time of one resources.json record; UnknownDurationError if the table has none."""
    if not resource["custom"]:
        return COMPONENT
    typ = resource["type"]
    if typ == HELM_RELEASE:
        # An OCI reference (oci://public.ecr.aws/karpenter/karpenter) names the chart last.
        chart = str(resource["inputs"].get("chart", "")).rsplit("/", 1)[-1]
        if chart not in CHARTS:
            raise UnknownDurationError(
                f"{resource['name']}: no create time for Helm chart {chart!r} in stacks/durations.py "
                f"CHARTS (charts with one: {', '.join(sorted(CHARTS))})"
            )
        return CHARTS[chart]
    if typ not in TYPES:
        raise UnknownDurationError(
            f"{resource['name']}: no create time for resource type {typ!r} in stacks/durations.py "
            "TYPES; add one with its source"
        )
    return TYPES[typ]
