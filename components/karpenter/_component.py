"""The Karpenter component: node role and access, interruption queue, controller, node class and pools."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import versions
from components._helm import pinned_release
from components._monitoring_values import DASHBOARD_LABEL
from components._nodegroups import POD_IDENTITY_SERVICE, service_trust
from components.karpenter._args import KarpenterArgs, NodePoolArgs
from components.karpenter._dashboard import karpenter_dashboard
from components.karpenter._iam import POLICY_NAMES, Scope, controller_policies
from components.karpenter._rules import karpenter_rules

__all__ = ["INTERRUPTION_EVENTS", "NODE_POLICIES", "SERVICE_ACCOUNT", "Karpenter"]

#: The service account the controller chart creates (its fullname), tied to the role by Pod Identity.
SERVICE_ACCOUNT = "karpenter"

#: What Karpenter's nodes need from IAM (the pinned release's cloudformation.yaml lists these,
#: plus AmazonEKS_CNI_Policy and AmazonSSMManagedInstanceCore). The CNI policy is left out as for
#: the managed node groups: the vpc-cni add-on has its own role, so pods cannot borrow the node's
#: rights over network interfaces; SSM access is left out: nobody logs in to a node.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)

#: The EventBridge rules that feed the interruption queue, as the pinned release's
#: cloudformation.yaml lists them: (rule name suffix, source, detail-type).
INTERRUPTION_EVENTS = (
    ("scheduled-change", "aws.health", "AWS Health Event"),
    ("spot-interruption", "aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("rebalance", "aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("instance-state-change", "aws.ec2", "EC2 Instance State-change Notification"),
    (
        "capacity-reservation-interruption",
        "aws.ec2",
        "EC2 Capacity Reservation Instance Interruption Warning",
    ),
)


class Karpenter(pulumi.ComponentResource):
    """Karpenter on an EKS cluster: nodes that follow the pods' requests, within each pool's limits.

    The CRDs are a Helm release of their own (`karpenter-crd`), because Helm installs a chart's
    `crds/` once and never upgrades them; the controller release skips them. The controller runs
    two replicas on the managed node groups only (the chart's affinity keeps it off the nodes it
    launches), with its AWS rights through EKS Pod Identity.
    """

    node_role_arn: pulumi.Output[str]
    """ARN of the IAM role Karpenter's nodes run as (their access entry and instance profile)."""
    node_role_name: pulumi.Output[str]
    """Name of that node role, for attaching further policies to the nodes."""
    controller_role_arn: pulumi.Output[str]
    """ARN of the controller's IAM role, which it gets through EKS Pod Identity."""
    queue_name: pulumi.Output[str]
    """Name of the SQS queue EventBridge feeds spot interruptions and instance events into."""

    def __init__(
        self,
        name: str,
        args: KarpenterArgs,
        *,
        provider: k8s.Provider,
        cluster_name: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        monitoring: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`depends_on`: what the controller's pods need running first (cluster DNS, the Pod
        Identity agent). `monitoring`: what installs the prometheus-operator CRDs; when given, the
        controller's ServiceMonitor, alert rules and dashboard are declared and wait for it (the
        controller itself does not)."""
        super().__init__("lmagent:components:Karpenter", name, None, opts)
        self._name = name
        self._tags = {**(tags or {}), "component": "karpenter"}
        self._provider = provider
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        cluster = pulumi.Output.from_input(cluster_name)

        node_role = self._node_role(cluster)
        queue = self._interruption_queue(cluster)
        identity = aws.get_caller_identity_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        role = aws.iam.Role(
            f"{name}-controller-role",
            aws.iam.RoleArgs(
                description="Karpenter controller (EKS Pod Identity)",
                assume_role_policy=service_trust(POD_IDENTITY_SERVICE),
                tags=self._tags,
            ),
            opts=child,
        )
        documents = pulumi.Output.all(
            partition.partition, region.region, identity.account_id, cluster, node_role.arn, queue.arn
        ).apply(lambda a: controller_policies(Scope(*(str(x) for x in a))))
        attachments = [self._policy(role, policy_name, documents) for policy_name in POLICY_NAMES]
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=cluster,
                namespace=args.namespace,
                service_account=SERVICE_ACCOUNT,
                role_arn=role.arn,
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

        crds = pinned_release(
            f"{name}-crd",
            versions.KARPENTER_CRD,
            release="karpenter-crd",
            namespace=args.namespace,
            values={},
            # No pods, but the test of every release for cluster DNS holds it to the same order.
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        after: list[pulumi.Resource] = [crds, association, *depends_on]
        controller = pinned_release(
            f"{name}-controller",
            versions.KARPENTER,
            release="karpenter",
            namespace=args.namespace,
            # The CRDs belong to the release above, which upgrades them.
            skip_crds=True,
            values=self._values(args, cluster, queue.name),
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
        )

        node_class = self._node_class(args, cluster, node_role.name, crds)
        for pool_name, pool in sorted(args.node_pools.items()):
            self._node_pool(pool_name, pool, node_class, after=[crds, controller])
        if monitoring is not None:
            # Declared here rather than by the chart (`serviceMonitor.enabled`), which renders it
            # only when the CRD already exists and would make the controller wait for the
            # monitoring stack; this way Karpenter comes first and can give its pods nodes.
            k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=self._metadata("karpenter", namespace=args.namespace),
                spec={
                    # The chart's Service (charts/karpenter/templates/service.yaml at v1.14.1):
                    # named after the release, selected by the chart's selector labels, metrics
                    # on port `http-metrics`; Prometheus labels its series job="karpenter".
                    "selector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "karpenter",
                            "app.kubernetes.io/instance": "karpenter",
                        }
                    },
                    "namespaceSelector": {"matchNames": [args.namespace]},
                    "endpoints": [{"port": "http-metrics", "path": "/metrics", "interval": "30s"}],
                },
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[monitoring, controller]
                ),
            )
            k8s.apiextensions.CustomResource(
                f"{name}-rules",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._metadata("karpenter", namespace=args.namespace),
                spec={"groups": karpenter_rules(args.namespace)},
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[monitoring]),
            )
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                # Grafana's dashboard sidecar loads every ConfigMap with this label, in any namespace.
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    **self._metadata("karpenter-dashboard", namespace=args.namespace, labels=DASHBOARD_LABEL)
                ),
                data={"karpenter.json": json.dumps(karpenter_dashboard(), indent=1, sort_keys=True)},
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[monitoring]),
            )

        self.node_role_arn = node_role.arn
        self.node_role_name = node_role.name
        self.controller_role_arn = role.arn
        self.queue_name = queue.name
        self.register_outputs(
            {
                "nodeRoleArn": self.node_role_arn,
                "controllerRoleArn": self.controller_role_arn,
                "queueName": self.queue_name,
            }
        )

    # -----------------------------------------------------------------------------------------

    def _node_role(self, cluster: pulumi.Output[str]) -> aws.iam.Role:
        """The role of the nodes Karpenter launches, with the access entry that lets them join."""
        name, child = self._name, pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-node-role",
            aws.iam.RoleArgs(
                description="Nodes launched by Karpenter",
                assume_role_policy=service_trust("ec2.amazonaws.com"),
                tags=self._tags,
            ),
            opts=child,
        )
        for arn in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[1]}",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
                opts=child,
            )
        # EC2_LINUX: EKS maps the role to system:nodes itself (no aws-auth ConfigMap, no policy).
        aws.eks.AccessEntry(
            f"{name}-node-access",
            aws.eks.AccessEntryArgs(
                cluster_name=cluster, principal_arn=role.arn, type="EC2_LINUX", tags=self._tags
            ),
            opts=child,
        )
        return role

    def _interruption_queue(self, cluster: pulumi.Output[str]) -> aws.sqs.Queue:
        """The SQS queue EventBridge fills with spot, rebalance, health and state-change events."""
        name, child = self._name, pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-interruption",
            aws.sqs.QueueArgs(
                name=cluster.apply(lambda c: f"{c}-karpenter"),
                # An interruption older than the two-minute spot notice is of no use.
                message_retention_seconds=300,
                sqs_managed_sse_enabled=True,
                tags=self._tags,
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruption-policy",
            aws.sqs.QueuePolicyArgs(
                queue_url=queue.url,
                policy=queue.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "EventBridgeSends",
                                    "Effect": "Allow",
                                    "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                                    "Action": "sqs:SendMessage",
                                    "Resource": arn,
                                },
                                {
                                    "Sid": "DenyHTTP",
                                    "Effect": "Deny",
                                    "Principal": "*",
                                    "Action": "sqs:*",
                                    "Resource": arn,
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                },
                            ],
                        }
                    )
                ),
            ),
            opts=child,
        )
        for suffix, source, detail_type in INTERRUPTION_EVENTS:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{suffix}",
                aws.cloudwatch.EventRuleArgs(
                    description=f"Karpenter interruption queue: {detail_type}",
                    event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
                    tags=self._tags,
                ),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}-target",
                aws.cloudwatch.EventTargetArgs(
                    rule=rule.name, arn=queue.arn, target_id="KarpenterInterruptionQueueTarget"
                ),
                opts=child,
            )
        return queue

    def _policy(
        self, role: aws.iam.Role, policy_name: str, documents: pulumi.Output[dict[str, dict[str, Any]]]
    ) -> aws.iam.RolePolicyAttachment:
        policy = aws.iam.Policy(
            f"{self._name}-controller-{policy_name}",
            aws.iam.PolicyArgs(
                description=f"Karpenter controller: {policy_name.replace('-', ' ')}",
                policy=documents.apply(lambda d: json.dumps(d[policy_name], separators=(",", ":"))),
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.iam.RolePolicyAttachment(
            f"{self._name}-controller-{policy_name}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy.arn),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _values(
        self, args: KarpenterArgs, cluster: pulumi.Output[str], queue: pulumi.Output[str]
    ) -> dict[str, Any]:
        # Keys as charts/karpenter/values.yaml at v1.14.1 names them.
        return {
            "replicas": args.replicas,
            "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
            "settings": {"clusterName": cluster, "interruptionQueue": queue},
            "controller": {
                # Karpenter's docs size the controller at 1 CPU / 1Gi for clusters of this size;
                # memory is capped at its request so a leak restarts the pod, not the node.
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                }
            },
            # The ServiceMonitor is declared apart (see above).
            "serviceMonitor": {"enabled": False},
            "logLevel": "info",
        }

    def _metadata(
        self, name: str, *, namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        common = {
            "app.kubernetes.io/name": "karpenter",
            "app.kubernetes.io/instance": self._name,
            "app.kubernetes.io/version": versions.KARPENTER[1],
            "app.kubernetes.io/component": "autoscaler",
            "app.kubernetes.io/part-of": "lmagent",
            "app.kubernetes.io/managed-by": "pulumi",
        }
        meta: dict[str, Any] = {"name": name, "labels": {**common, **(labels or {})}}
        if namespace is not None:
            meta["namespace"] = namespace
        return meta

    def _node_class(
        self,
        args: KarpenterArgs,
        cluster: pulumi.Output[str],
        role: pulumi.Output[str],
        crds: pulumi.Resource,
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-nodeclass",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata=self._metadata("default"),
            spec=pulumi.Output.all(cluster, role).apply(
                lambda a: {
                    "role": a[1],
                    "amiSelectorTerms": [{"alias": args.ami_alias}],
                    # The private subnets the network tags for this cluster's internal load balancers.
                    "subnetSelectorTerms": [
                        {
                            "tags": {
                                f"kubernetes.io/cluster/{a[0]}": "shared",
                                "kubernetes.io/role/internal-elb": "1",
                            }
                        }
                    ],
                    # The cluster security group EKS creates and tags (EKS user guide,
                    # sec-group-reqs), which the managed node groups use too.
                    "securityGroupSelectorTerms": [
                        {"tags": {f"kubernetes.io/cluster/{a[0]}": "owned", "aws:eks:cluster-name": a[0]}}
                    ],
                    # Hop limit 1: pods cannot reach the instance metadata service and the node's role.
                    "metadataOptions": {
                        "httpEndpoint": "enabled",
                        "httpProtocolIPv6": "disabled",
                        "httpPutResponseHopLimit": 1,
                        "httpTokens": "required",
                    },
                    "blockDeviceMappings": [
                        {
                            "deviceName": "/dev/xvda",  # the AL2023 root device
                            "ebs": {
                                "volumeSize": f"{args.root_volume_gib}Gi",
                                "volumeType": "gp3",
                                "encrypted": True,
                                "deleteOnTermination": True,
                            },
                        }
                    ],
                    "tags": dict(sorted(self._tags.items())),
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self._provider, depends_on=[crds]),
        )

    def _node_pool(
        self,
        pool_name: str,
        pool: NodePoolArgs,
        node_class: k8s.apiextensions.CustomResource,
        *,
        after: list[pulumi.Resource],
    ) -> None:
        budgets = []
        for b in pool.budgets:
            budget: dict[str, Any] = {"nodes": b.nodes}
            if b.schedule is not None:
                budget |= {"schedule": b.schedule, "duration": b.duration}
            budgets.append(budget)
        k8s.apiextensions.CustomResource(
            f"{self._name}-pool-{pool_name}",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata=self._metadata(pool_name),
            spec={
                "template": {
                    "metadata": {"labels": {"lmagent.dev/node-pool": pool_name}},
                    "spec": {
                        "nodeClassRef": {
                            "group": "karpenter.k8s.aws",
                            "kind": "EC2NodeClass",
                            "name": "default",
                        },
                        "requirements": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                            {
                                "key": "kubernetes.io/arch",
                                "operator": "In",
                                "values": list(pool.architectures),
                            },
                            {
                                "key": "karpenter.sh/capacity-type",
                                "operator": "In",
                                "values": list(pool.capacity_types),
                            },
                            {
                                "key": "karpenter.k8s.aws/instance-category",
                                "operator": "In",
                                "values": list(pool.instance_categories),
                            },
                            {
                                "key": "karpenter.k8s.aws/instance-generation",
                                "operator": "Gt",
                                "values": [str(pool.min_generation - 1)],
                            },
                        ],
                        "expireAfter": pool.expire_after,
                    },
                },
                "limits": {"cpu": pool.cpu_limit, "memory": pool.memory_limit},
                "disruption": {
                    "consolidationPolicy": pool.consolidation_policy,
                    "consolidateAfter": pool.consolidate_after,
                    "budgets": budgets,
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self._provider, depends_on=[*after, node_class]
            ),
        )
