"""The pod and network-policy specs of an app: the hardening every checker asks for, in one place."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components._app_args import AppServiceArgs
from components._app_parts import EgressRule, LivenessProbe, ReadinessProbe, StartupProbe

__all__ = [
    "DATABASE_DIR",
    "KARPENTER_NODE_LABEL",
    "RUN_AS",
    "AppDatabase",
    "allow_policy_spec",
    "deployment_spec",
]

#: UID and GID the container runs as: above 10000 so it is no host user (the reference image's).
RUN_AS = 10001

#: The label Karpenter puts on every node it launches, valued with the NodePool's name; nodes of a
#: managed node group never carry it (Karpenter's webhook refuses it in a NodePool's own labels).
#: kubernetes-sigs/karpenter@v1.14.1: pkg/apis/v1/labels.go (NodePoolLabelKey, a well-known label)
#: and pkg/controllers/provisioning/scheduling/nodeclaimtemplate.go (NewNodeClaimTemplate labels
#: each NodeClaim with it and adds it to the claim's requirements, so a pod asking for it can
#: make Karpenter launch a node).
KARPENTER_NODE_LABEL = "karpenter.sh/nodepool"

_meta = k8s.meta.v1
_core = k8s.core.v1

#: Where an app's database Secret is mounted; `DATABASE_URL_FILE` names the file in it.
DATABASE_DIR = "/var/run/secrets/lmagent/database"


@dataclass(frozen=True)
class AppDatabase:
    """What an app needs to reach its database (components/database `DatabaseUsers` makes it).

    No field is secret: the app's role has no password (it signs an IAM token as one)."""

    files: Mapping[str, pulumi.Input[str]]
    """The files the app finds in `DATABASE_DIR` (its Secret `<app>-database-access`):
    `DATABASE_URL` (the app's own role, host, port, database, `sslmode=verify-full`, `sslrootcert`
    naming the CA file) and the RDS certificate authorities."""

    egress: tuple[EgressRule, ...]
    """What the app's NetworkPolicy must allow to reach the database and its credentials."""

    ready: tuple[pulumi.Resource, ...]
    """What the app's pods wait for: the Job that made its role, its Pod Identity association."""


def hardened_container(uid: int = RUN_AS) -> k8s.core.v1.SecurityContextArgs:
    """A container's security context that meets Pod Security `restricted` and every checkov
    container check: no privilege or escalation, read-only root, non-root `uid`, no capabilities,
    the runtime's seccomp profile."""
    return _core.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        capabilities=_core.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=_core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def hardened_pod(uid: int = RUN_AS, *, fs_group: bool = False) -> k8s.core.v1.PodSecurityContextArgs:
    """A pod's security context for Pod Security `restricted`: non-root `uid` (and group), the
    runtime's seccomp profile; with `fs_group`, mounted volumes owned by that group too."""
    return _core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid if fs_group else None,
        seccomp_profile=_core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def deployment_spec(
    args: AppServiceArgs,
    name: str,
    *,
    selector: k8s.meta.v1.LabelSelectorArgs,
    labels: Mapping[str, pulumi.Input[str]],
    annotations: Mapping[str, pulumi.Input[str]],
    image: pulumi.Input[str],
    account: pulumi.Input[str],
    config: pulumi.Input[str],
    env: list[k8s.core.v1.EnvVarArgs],
    karpenter_nodes: bool = False,
    database_files: pulumi.Input[str] | None = None,
) -> k8s.apps.v1.DeploymentSpecArgs:
    """The hardened Deployment spec of app `name`: one container, probes, spreading, no token.

    With `karpenter_nodes` the pods may only run on nodes Karpenter launched (a required node
    affinity on `KARPENTER_NODE_LABEL`), which leaves the managed node groups to system pods.
    With `database_files`, that Secret (`DATABASE_URL` and the RDS CAs) is mounted read-only
    at `DATABASE_DIR` (the kubelet rewrites the files when it changes; no subPath, which it never
    updates).
    """

    def probe(p: StartupProbe | ReadinessProbe | LivenessProbe) -> k8s.core.v1.ProbeArgs:
        return _core.ProbeArgs(
            http_get=_core.HTTPGetActionArgs(path=p.path, port="http"),
            initial_delay_seconds=p.initial_delay_seconds,
            period_seconds=p.period_seconds,
            timeout_seconds=p.timeout_seconds,
            failure_threshold=p.failure_threshold,
        )

    resources = args.resources
    container = _core.ContainerArgs(
        name=name,
        image=image,
        # With a digest the pull is a cache hit; Always still re-checks registry access, so a
        # pod on a node that cached the image cannot run it after access was revoked.
        image_pull_policy="Always",
        ports=[_core.ContainerPortArgs(name="http", container_port=args.port, protocol="TCP")],
        env_from=[_core.EnvFromSourceArgs(config_map_ref=_core.ConfigMapEnvSourceArgs(name=config))],
        env=env or None,
        resources=_core.ResourceRequirementsArgs(
            requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
            limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
        ),
        startup_probe=probe(args.probes.startup),
        readiness_probe=probe(args.probes.readiness),
        liveness_probe=probe(args.probes.liveness),
        # Endpoints and load balancers learn of a terminating pod with a delay: keep serving
        # that long before SIGTERM. The kubelet's sleep action needs no binary in the image.
        lifecycle=_core.LifecycleArgs(
            pre_stop=_core.LifecycleHandlerArgs(
                sleep=_core.SleepActionArgs(seconds=args.pre_stop_sleep_seconds)
            )
        )
        if args.pre_stop_sleep_seconds
        else None,
        security_context=hardened_container(),
        # The root filesystem is read-only; Python and most runtimes still need a scratch dir.
        volume_mounts=[
            _core.VolumeMountArgs(name="tmp", mount_path="/tmp"),  # noqa: S108
            # Not a subPath: files under a subPath mount are never updated.
            *(
                [_core.VolumeMountArgs(name="database", mount_path=DATABASE_DIR, read_only=True)]
                if database_files
                else []
            ),
        ],
    )
    spread = selector
    pod = _core.PodSpecArgs(
        service_account_name=account,
        automount_service_account_token=False,
        termination_grace_period_seconds=args.termination_grace_period_seconds,
        security_context=hardened_pod(fs_group=True),
        containers=[container],
        volumes=[
            _core.VolumeArgs(name="tmp", empty_dir=_core.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
            *(
                [
                    _core.VolumeArgs(
                        name="database",
                        secret=_core.SecretVolumeSourceArgs(secret_name=database_files, default_mode=0o440),
                    )
                ]
                if database_files
                else []
            ),
        ],
        # Spread over zones (a zone outage leaves pods elsewhere) and prefer distinct nodes;
        # both soft, so a full zone or a small node group never blocks scheduling.
        topology_spread_constraints=[
            _core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=spread,
                # Spread each rollout's pods, not old and new together.
                match_label_keys=["pod-template-hash"],
            )
        ],
        affinity=_core.AffinityArgs(
            # Required, not preferred: a preference would let the scheduler fill the system nodes
            # whenever they have room. No toleration goes with it: Karpenter's nodes carry no taint.
            node_affinity=_core.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=_core.NodeSelectorArgs(
                    node_selector_terms=[
                        _core.NodeSelectorTermArgs(
                            match_expressions=[
                                _core.NodeSelectorRequirementArgs(key=KARPENTER_NODE_LABEL, operator="Exists")
                            ]
                        )
                    ]
                )
            )
            if karpenter_nodes
            else None,
            pod_anti_affinity=_core.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    _core.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=_core.PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname", label_selector=spread
                        ),
                    )
                ]
            ),
        ),
    )
    return k8s.apps.v1.DeploymentSpecArgs(
        # An HPA owns the count when enabled; a replicas field here would reset it each update.
        replicas=None if args.autoscaling.enabled else args.replicas,
        selector=selector,
        strategy=k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate",
            rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
        ),
        template=_core.PodTemplateSpecArgs(
            metadata=_meta.ObjectMetaArgs(
                labels=dict(labels),
                annotations=dict(annotations),
            ),
            spec=pod,
        ),
    )


def allow_policy_spec(
    args: AppServiceArgs, selector: k8s.meta.v1.LabelSelectorArgs
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """What the app's pods may reach and be reached from; everything else the deny policy blocks."""
    net = k8s.networking.v1

    def namespace_peer(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
        # `kubernetes.io/metadata.name` is set by the API server on every namespace.
        return net.NetworkPolicyPeerArgs(
            namespace_selector=_meta.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": namespace}
            )
        )

    def egress(rule: EgressRule) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
        if rule.namespace is not None:
            to = [namespace_peer(rule.namespace)]
        else:
            to = [
                net.NetworkPolicyPeerArgs(
                    ip_block=net.IPBlockArgs(cidr=cidr, except_=_inside(rule.except_cidrs, cidr) or None)
                )
                for cidr in rule.cidrs
            ]
        ports = [net.NetworkPolicyPortArgs(port=p, protocol=rule.protocol) for p in rule.ports]
        return net.NetworkPolicyEgressRuleArgs(to=to, ports=ports)

    dns = net.NetworkPolicyEgressRuleArgs(
        to=[
            net.NetworkPolicyPeerArgs(
                namespace_selector=_meta.LabelSelectorArgs(
                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                ),
                pod_selector=_meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
            )
        ],
        ports=[net.NetworkPolicyPortArgs(port=53, protocol=p) for p in ("UDP", "TCP")],
    )
    return net.NetworkPolicySpecArgs(
        pod_selector=selector,
        policy_types=["Ingress", "Egress"],
        # Kubelet probes come from the node and are not subject to these rules.
        ingress=[
            net.NetworkPolicyIngressRuleArgs(
                from_=[namespace_peer(ns) for ns in args.ingress_from],
                ports=[net.NetworkPolicyPortArgs(port=args.port, protocol="TCP")],
            )
        ]
        if args.ingress_from
        else [],
        egress=[dns, *(egress(rule) for rule in [*args.egress, *args.extra_egress])],
    )


def _inside(excepts: list[str], cidr: str) -> list[str]:
    """The carve-outs that lie inside `cidr` (an ipBlock rejects any other)."""
    outer = ipaddress.ip_network(cidr)
    return [
        e
        for e in excepts
        if (inner := ipaddress.ip_network(e)).version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]
    ]
