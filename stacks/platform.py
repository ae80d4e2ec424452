"""The composition: network, cluster, image, monitoring and apps wired together, and the exports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from components._app_pod import AppDatabase
from components.admission import AdmissionController, app_namespaces
from components.app import AppService, PublicEntry
from components.cluster import EksCluster
from components.database import (
    ADMIN_NAMESPACE,
    DATABASE_URL_KEY,
    DatabaseAlerts,
    DatabaseUser,
    DatabaseUsers,
    ExternalSecrets,
    PostgresDatabase,
)
from components.edge import Edge
from components.image import ContainerImage
from components.karpenter import Karpenter
from components.monitoring import MonitoringStack
from components.network import Network, subnet_plan
from components.versions import POSTGRES_CLIENT_IMAGE
from stacks.config import PROJECT, Settings


def build(settings: Settings) -> None:
    """Declare the platform for one stack and export what operators and other stacks need."""
    cfg = settings.config
    tags = base_tags(settings)

    # One name for the cluster and the subnet discovery tags that point at it; unique per stack
    # so staging and production can share an account.
    cluster_name = cfg.cluster.name or f"{pulumi.get_project()}-{settings.stack}"
    network = Network(
        "network",
        cfg.network,
        cluster_name=cluster_name,
        tags=tags,
        protect=cfg.protect,
        environment=cfg.environment,
    )
    access = cluster_access(settings)
    cluster = EksCluster(
        "cluster",
        cfg.cluster,
        private_subnet_ids=network.private_subnet_ids,
        cluster_name=cluster_name,
        tags=tags,
        protect=cfg.protect,
        deploy_role_arn=access.deploy_role_arn,
        read_only_role_arn=access.read_only_role_arn,
        runner_cidrs=access.runner_cidrs,
        environment=cfg.environment,
    )
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig)  # a secret: `pulumi stack output --show-secrets`

    # The service image, built and pushed before the apps that deploy it by digest.
    image = ContainerImage("lmagent-api", cfg.image, tags=tags, protect=cfg.protect)
    pulumi.export("repositoryUrl", image.repository_url)
    pulumi.export("imageRef", image.image_ref)

    # Metrics, logs and traces on the cluster; Loki reaches its bucket through the cluster's IRSA.
    monitoring = MonitoringStack(
        "monitoring",
        cfg.monitoring,
        provider=cluster.provider,
        environment=cfg.environment,
        region=settings.region,
        secret=settings.secret,
        irsa=cluster.irsa_role,
        tags=tags,
        protect=cfg.protect,
        cluster_dns=cluster.addons["coredns"],
        storage_class=cluster.storage_class,
    )
    # Nodes for the pods the node groups have no room for; scraped and alerted on like the rest.
    karpenter = Karpenter(
        "karpenter",
        cfg.karpenter,
        provider=cluster.provider,
        cluster_name=cluster.cluster_name,
        tags=tags,
        depends_on=[cluster.addons["coredns"], cluster.addons["eks-pod-identity-agent"]],
        monitoring=monitoring,
    )
    pulumi.export("karpenterNodeRoleArn", karpenter.node_role_arn)
    pulumi.export("grafanaUrl", monitoring.grafana_url)
    pulumi.export("prometheusUrl", monitoring.prometheus_url)
    pulumi.export("otlpEndpoint", monitoring.otlp_endpoint)

    # The public entry, when the stack has one: one shared ALB, its certificate, DNS and WAF.
    owner_id = f"{pulumi.get_project()}-{settings.stack}"
    edge = None
    if cfg.edge is not None:
        edge = Edge(
            "edge",
            cfg.edge,
            cluster_name=cluster.cluster_name,
            vpc_id=network.vpc_id,
            region=settings.region,
            owner_id=owner_id,
            irsa=cluster.irsa_role,
            cluster_dns=cluster.addons["coredns"],
            tags=tags,
            protect=cfg.protect,
            opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
        )
        pulumi.export("webAclArn", edge.web_acl_arn)

    public_entry = (
        PublicEntry(
            ingress_class_name=edge.ingress_class_name,
            source_cidrs=[pair.public for pair in subnet_plan(cfg.network)],
        )
        if edge is not None
        else None
    )
    load_balancers: list[pulumi.Output[str]] = []
    used = sorted({app.database for app in cfg.apps.values() if app.database is not None})
    # The admission controller: in the app namespaces, only images this repository's pipeline
    # signed. Each app's Deployment waits for the policy, so none is admitted before it is in force.
    admission = AdmissionController(
        "admission",
        cfg.admission,
        app_namespaces=app_namespaces(cfg.apps),
        irsa=cluster.irsa_role,
        repository_arns=image.repository_arn.apply(lambda arn: [arn]),
        environment=cfg.environment,
        cluster_dns=cluster.addons["coredns"],
        # The database-admin Job runs the official PostgreSQL image, by digest, and nothing else.
        pinned_images={ADMIN_NAMESPACE: [POSTGRES_CLIENT_IMAGE]} if used else None,
        opts=pulumi.ResourceOptions(provider=cluster.provider),
    )

    # The databases, in the private subnets, admitting only the cluster's nodes; the operator that
    # renders their rotating master credentials into the database-admin namespace alone, where a
    # Job makes each app's own role (IAM authentication: no password reaches an app).
    databases = {
        db_name: PostgresDatabase(
            f"database-{db_name}",
            db_args,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=cluster.cluster_security_group_id,
            identifier=f"{cluster_name}-{db_name}",
            tags=tags,
            protect=cfg.protect,
        )
        for db_name, db_args in sorted(cfg.databases.items())
    }
    pulumi.export("databaseEndpoints", {n: db.address for n, db in databases.items()})
    if databases:
        # Their alerts: CloudWatch's AWS/RDS metrics through an exporter that the monitoring
        # stack's Prometheus scrapes, routed by its Alertmanager like every other alert.
        DatabaseAlerts(
            "database-alerts",
            [db.monitored for db in databases.values()],
            namespace=cfg.monitoring.namespace,
            namespace_ready=monitoring.namespace,
            crds=monitoring.crds,
            region=settings.region,
            irsa=cluster.irsa_role,
            provider=cluster.provider,
            cluster_dns=cluster.addons["coredns"],
        )
    app_databases: dict[str, AppDatabase] = {}
    if used:
        secrets = ExternalSecrets(
            "external-secrets",
            provider=cluster.provider,
            region=settings.region,
            irsa=cluster.irsa_role,
            secrets=[(databases[n].secret_arn, databases[n].key_arn) for n in used],
            namespaces=[ADMIN_NAMESPACE],
            depends_on=[cluster.addons["coredns"]],
        )
        users = DatabaseUsers(
            "database-users",
            provider=cluster.provider,
            cluster_name=cluster.cluster_name,
            region=settings.region,
            secrets=secrets,
            database_cidrs=[pair.private for pair in subnet_plan(cfg.network)],
            # The Job's pod is judged by the admission policy: it waits for it, like the apps.
            depends_on=[cluster.addons["coredns"], admission.policy],
            tags=tags,
        )
        for db_name in used:
            app_databases |= users.database(
                db_name,
                databases[db_name],
                [
                    # The app's pods' role carries its `iamPolicyArns` too: one role per pod.
                    DatabaseUser(
                        app=app.name or app_name,
                        namespace=str(app.namespace),
                        service_account=app.name or app_name,
                        policy_arns=tuple(app.iam_policy_arns),
                    )
                    for app_name, app in sorted(cfg.apps.items())
                    if app.database == db_name
                ],
                master_username=cfg.databases[db_name].master_username,
            )
    # Each app's DATABASE_URL: its own role, no password (the app signs an IAM token as one).
    pulumi.export(
        "databaseUrls", {app: access.files[DATABASE_URL_KEY] for app, access in app_databases.items()}
    )

    # The apps, each running the image built above unless its config names one. Each waits for
    # what it needs and nothing more (issue "Deploy time"): its ServiceMonitor and PrometheusRule
    # for the release that installs their CRDs, its Deployment for cluster DNS, and everything on
    # the cluster, through the provider, for the nodes and the deploy role's access. Apps that
    # create their namespace go first; the others in that namespace wait for that Namespace alone,
    # not for the app that creates it.
    creators: dict[str, pulumi.Resource] = {}
    urls: dict[str, pulumi.Output[str]] = {}
    images: dict[str, pulumi.Input[str]] = {}
    for app_name, app in sorted(cfg.apps.items(), key=lambda item: (not item[1].create_namespace, item[0])):
        namespace = str(app.namespace)  # the stack file holds names, never Outputs
        role = (
            # The trust policy names the app's ServiceAccount, which has the app's Kubernetes name.
            # An app with a database gets its policies on its Pod Identity role instead (above).
            cluster.irsa_role(
                app_name, namespace, app.name or app_name, managed_policy_arns=app.iam_policy_arns
            )
            if app.iam_policy_arns and app.database is None
            else None
        )
        after = [creators[namespace]] if namespace in creators else []
        service = AppService(
            app_name,
            app,
            provider=cluster.provider,
            image=image.image_ref,
            role_arn=role.arn if role is not None else None,
            secrets={key: settings.secret(key) for key in app.secret_env.values()},
            otlp_endpoint=monitoring.otlp_endpoint,
            crds=monitoring.crds,
            public_entry=public_entry if app.public is not None else None,
            cluster_dns=cluster.addons["coredns"],
            admission=admission.policy,
            # Karpenter runs in every stack: the apps go to its nodes, the node group keeps the
            # system pods (README, Karpenter).
            karpenter_nodes=True,
            protect=cfg.protect,
            environment=cfg.environment,
            database=app_databases.get(app.name or app_name),
            opts=pulumi.ResourceOptions(depends_on=after),
        )
        if service.load_balancer_hostname is not None:
            load_balancers.append(service.load_balancer_hostname)
        if service.namespace_resource is not None:
            creators[namespace] = service.namespace_resource
        urls[app_name] = service.url
        images[app_name] = app.image if app.image is not None else image.image_ref
    pulumi.export("appUrls", urls)
    pulumi.export("appImages", images)
    if load_balancers:
        # The public apps share one load balancer (one IngressGroup): its DNS name, for CNAMEs
        # outside the zone and for checks.
        pulumi.export("loadBalancerDnsName", load_balancers[0])

    pulumi.export("environment", cfg.environment)
    pulumi.export("region", settings.region)


class ClusterAccess(NamedTuple):
    """Who may use the cluster and from where, as the stack derives it (config's explicit ARNs win
    inside EksCluster)."""

    deploy_role_arn: pulumi.Input[str]
    read_only_role_arn: pulumi.Input[str]
    runner_cidrs: pulumi.Input[Sequence[str]] | None


def cluster_access(settings: Settings) -> ClusterAccess:
    """The deploy role, the read-only role and the deploy runners' egress CIDRs.

    With `bootstrapStack` set, all three are that stack's outputs (`deployRoleArns[<environment>]`,
    `readOnlyRoleArn`, `runnerEgressCidrs`), so nothing is copied by hand. Without it, the roles
    follow the bootstrap project's naming in the account the stack deploys to
    (`<project>-deploy-<stack>`, `<project>-readonly`) and there are no runner CIDRs.
    """
    cfg = settings.config
    explicit_deploy, explicit_read_only = cfg.cluster.deploy_role_arn, cfg.cluster.read_only_role_arn
    if cfg.bootstrap_stack is not None:
        # A fixed resource name: the URN stays the same whichever bootstrap stack it reads.
        ref = pulumi.StackReference("bootstrap", stack_name=cfg.bootstrap_stack)
        environment, source = cfg.environment, cfg.bootstrap_stack

        def deploy_role(roles: dict[str, str] | None) -> str:
            if not roles or environment not in roles:
                raise ValueError(
                    f"{PROJECT}:bootstrapStack: {source} exports no deployRoleArns[{environment!r}] "
                    f"(it has {sorted(roles or {})}); run the bootstrap for this environment first"
                )
            return str(roles[environment])

        return ClusterAccess(
            deploy_role_arn=explicit_deploy or ref.require_output("deployRoleArns").apply(deploy_role),
            read_only_role_arn=explicit_read_only or ref.require_output("readOnlyRoleArn").apply(str),
            runner_cidrs=ref.require_output("runnerEgressCidrs").apply(lambda c: [str(x) for x in c or []]),
        )
    invoke = pulumi.InvokeOutputOptions()
    account = aws.get_caller_identity_output(opts=invoke).account_id
    partition = aws.get_partition_output(opts=invoke).partition

    def role(role_name: str) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", partition, ":iam::", account, ":role/", role_name)

    return ClusterAccess(
        deploy_role_arn=explicit_deploy or role(f"{PROJECT}-deploy-{settings.stack}"),
        read_only_role_arn=explicit_read_only or role(f"{PROJECT}-readonly"),
        runner_cidrs=None,
    )


def base_tags(settings: Settings) -> dict[str, str]:
    """The tags every AWS resource carries (components add `component`); the stack's extra tags win."""
    return {
        "project": pulumi.get_project(),
        "stack": settings.stack,
        "managed-by": "pulumi",
        **settings.config.tags,
    }
