"""A hardened EKS cluster: encrypted secrets, private endpoint, API access entries, IRSA, add-ons."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import Field, ValidationInfo, field_validator, model_validator

from components import versions
from components._addons import AFTER_NODES, BEFORE_NODES, addons, gp3_storage_class
from components._log_key import encrypted_log_group, rotating_key
from components._model import (
    Environment,
    InputStr,
    Model,
    as_args,
    check_later,
    for_environment,
    in_production,
)
from components._nodegroups import NodeGroupArgs, Taint, node_groups, node_role, service_trust
from components._options import resolve_protect
from components.network import check_retention

__all__ = [
    "ADMIN_POLICY_ARN",
    "READ_ONLY_POLICY_ARN",
    "RUNNER_CIDRS_LATER",
    "EksCluster",
    "EksClusterArgs",
    "NodeGroupArgs",
    "Taint",
    "default_cluster_name",
]

LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]

#: Who did what and who logged in; the controller manager and scheduler logs are opt-in.
DEFAULT_LOG_TYPES: tuple[LogType, ...] = ("api", "audit", "authenticator")

#: The EKS access policy that makes a principal cluster-admin (EKS user guide, access policies).
ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

#: What the read-only role (previews, `pulumi preview --refresh`, the drift check) gets. A refresh
#: reads every object the stack manages: Secrets (the app's and monitoring's, and the Secrets in
#: which Helm stores each release), the cluster-scoped Namespaces and StorageClass, and the
#: prometheus-operator custom resources. AmazonEKSViewPolicy lists a fixed set of built-in API
#: groups and leaves Secrets out, so a refresh would fail with 403 on them; AmazonEKSAdminViewPolicy
#: grants get/list/watch on every resource of every API group (custom resources and Secrets
#: included) and no write verb. EKS user guide, "Review access policy permissions":
#: https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
READ_ONLY_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"

#: Validation context key: the deploy runners' egress CIDRs will be added to the public endpoint's
#: allowlist when the program runs (a stack sets it when its config names a bootstrap stack).
RUNNER_CIDRS_LATER = "runnerCidrsLater"

_PRINCIPAL = r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$"
_ROLE = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
_WORLD = ("0.0.0.0/0", "::/0")


class EksClusterArgs(Model):
    """The `cluster` section of the stack file: control plane, access, logging and node groups."""

    name: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$",
        description="The EKS cluster's name. Default: `lmagent-<stack>` (set by the stack).",
    )
    version: str = Field(
        default=versions.KUBERNETES_VERSION,
        pattern=r"^1\.\d{2}$",
        description=(
            f"Kubernetes minor version. Default: {versions.KUBERNETES_VERSION} (components/versions.py, "
            "which also pins the add-ons for it)."
        ),
    )
    endpoint_public_access: bool = Field(
        default=False,
        description=(
            "Expose the API server on the internet as well as in the VPC. Default: off (private "
            "endpoint only, reached from inside the VPC). When on, only `publicAccessCidrs` and the "
            "deploy runners' egress CIDRs (from the bootstrap stack, see README) may reach it."
        ),
    )
    public_access_cidrs: list[str] = Field(
        default=[],
        description=(
            "CIDRs allowed to reach a public endpoint, besides the deploy runners' egress CIDRs "
            "the stack adds from its bootstrap stack. Default: none. Production refuses 0.0.0.0/0."
        ),
    )
    log_types: list[LogType] = Field(
        default_factory=lambda: list(DEFAULT_LOG_TYPES),
        description=(
            "Control-plane log types sent to CloudWatch. Default: api, audit, authenticator "
            "(who did what, and who logged in); controllerManager and scheduler are optional."
        ),
    )
    log_retention_days: int = Field(
        default=90,
        description="Retention of the `/aws/eks/<name>/cluster` log group. Default: 90 days.",
    )
    kms_key_arn: InputStr | None = Field(
        default=None,
        description=(
            "KMS key for envelope encryption of Kubernetes Secrets (may be an Output, such as a "
            "key's `arn`). Default: a key created here with yearly rotation on."
        ),
    )
    deploy_role_arn: str | None = Field(
        default=None,
        pattern=_ROLE,
        description=(
            "IAM role the deploy pipeline runs `pulumi up` as; it gets cluster-admin "
            "(AmazonEKSClusterAdminPolicy) through an EKS access entry, and everything this "
            "program puts on the cluster waits for that entry. Default: the ARN the caller passes "
            "(the stack takes it from its bootstrap stack's `deployRoleArns`, else "
            "`arn:aws:iam::<account>:role/lmagent-infra-deploy-<stack>`)."
        ),
    )
    read_only_role_arn: str | None = Field(
        default=None,
        pattern=_ROLE,
        description=(
            "IAM role previews and the drift check run as; it gets AmazonEKSAdminViewPolicy (read "
            "everything, Secrets and custom resources included; write nothing) so "
            "`pulumi preview --refresh` can read what the stack manages. Default: the ARN the "
            "caller passes (the stack takes it from its bootstrap stack's `readOnlyRoleArn`, else "
            "`arn:aws:iam::<account>:role/lmagent-infra-readonly`); none if neither is given."
        ),
    )
    admin_principal_arns: list[InputStr] = Field(
        default=[],
        description=(
            "Break-glass IAM roles/users given cluster-admin through EKS access entries (e.g. the "
            "platform team's SSO role; each may be an Output, such as a role's `arn`). Default: "
            "none besides the deploy role."
        ),
    )
    bootstrap_creator_admin: bool = Field(
        default=False,
        description=(
            "Also give the identity that creates the cluster a hidden cluster-admin grant. Default: "
            "off; access is only what the access entries above list. EKS reads this only at "
            "creation: changing it on an existing cluster REPLACES the cluster (new control plane, "
            "every object on it recreated). Refused together with a deploy role: EKS would give the "
            "creator (the deploy role, in the pipeline) a second access entry."
        ),
    )
    support_type: Literal["STANDARD", "EXTENDED"] = Field(
        default="STANDARD",
        description=(
            "EKS version support. Default: STANDARD (EKS upgrades the control plane at end of "
            "standard support instead of billing extended support at ~$365/month more)."
        ),
    )
    node_groups: dict[str, NodeGroupArgs] = Field(
        default_factory=lambda: {"general": NodeGroupArgs()},
        min_length=1,
        description="Managed node groups by name. Default: one group `general` with the defaults.",
    )

    @field_validator("public_access_cidrs")
    @classmethod
    def _allowlist_is_explicit(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 203.0.113.0/24") from None
        public = info.data.get("endpoint_public_access")
        later = isinstance(info.context, dict) and info.context.get(RUNNER_CIDRS_LATER)
        if public and not value and not later:
            raise ValueError(
                "must list the CIDRs allowed to reach the public endpoint when endpointPublicAccess is "
                "true (or set lmagent-infra:bootstrapStack so the deploy runners' egress CIDRs are used)"
            )
        if not public and value:
            raise ValueError("is set but endpointPublicAccess is false: set both or neither")
        if in_production(info) and any(c in _WORLD for c in value):
            raise ValueError(
                "production refuses a public API endpoint open to the world (0.0.0.0/0); "
                "list your office/VPN CIDRs or turn endpointPublicAccess off"
            )
        return value

    @field_validator("log_types")
    @classmethod
    def _log_types_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a log type")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_valid(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key_is_an_arn(cls, value: Any) -> Any:
        return None if value is None else check_later("kms_key_arn", value, _kms_key)

    @field_validator("admin_principal_arns")
    @classmethod
    def _principals_are_iam(cls, value: list[Any]) -> list[Any]:
        bad = [a for a in value if isinstance(a, str) and not re.match(_PRINCIPAL, a)]
        if bad:
            raise ValueError(
                f"must be IAM role or user ARNs such as arn:aws:iam::123456789012:role/admin (bad: {bad})"
            )
        # Outputs get the same check when they resolve.
        return [
            a if isinstance(a, str) else check_later("admin_principal_arns", a, _principal) for a in value
        ]

    @model_validator(mode="after")
    def _one_entry_per_principal(self) -> EksClusterArgs:
        # EKS allows one access entry per principal: a role listed twice would fail the deploy.
        named = [("deployRoleArn", self.deploy_role_arn), ("readOnlyRoleArn", self.read_only_role_arn)]
        # An Output ARN is not known yet: only plain ones can be compared here.
        named += [
            (f"adminPrincipalArns[{i}]", a)
            for i, a in enumerate(self.admin_principal_arns)
            if isinstance(a, str)
        ]
        seen: dict[str, str] = {}
        for key, arn in named:
            if arn is None:
                continue
            if arn in seen:
                raise ValueError(
                    f"{key} repeats {arn} (already {seen[arn]}): EKS allows one access entry per principal"
                )
            seen[arn] = key
        return self

    @field_validator("node_groups")
    @classmethod
    def _group_names(cls, value: dict[str, NodeGroupArgs]) -> dict[str, NodeGroupArgs]:
        bad = [g for g in value if not re.match(r"^[a-z][a-z0-9-]{0,30}$", g)]
        if bad:
            raise ValueError(f"node group names must be lowercase letters, digits and '-' (bad: {bad})")
        return value

    @field_validator("node_groups")
    @classmethod
    def _two_system_nodes_in_production(
        cls, value: dict[str, NodeGroupArgs], info: ValidationInfo
    ) -> dict[str, NodeGroupArgs]:
        # Karpenter's two controllers need two nodes it did not launch: the chart requires
        # karpenter.sh/nodepool DoesNotExist and one replica per hostname, spread over zones
        # (aws/karpenter-provider-aws@v1.14.1: charts/karpenter/values.yaml, `affinity`).
        if in_production(info) and not any(g.min_size >= 2 for g in value.values()):
            sizes = {name: g.min_size for name, g in value.items()}
            raise ValueError(
                "production needs a node group with minSize >= 2, so Karpenter's two controllers "
                f"and the system pods have two nodes in two AZs (minSize: {sizes})"
            )
        return value


def _principal(arn: str) -> str:
    if not isinstance(arn, str) or not re.match(_PRINCIPAL, arn):
        raise ValueError("must be an IAM role or user ARN such as arn:aws:iam::123456789012:role/admin")
    return arn


def _kms_key(arn: str) -> str:
    if not isinstance(arn, str) or not re.match(
        r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$", arn
    ):
        raise ValueError("must be a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>")
    return arn


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    oidcs = identities[0].oidcs or []
    return str(oidcs[0].issuer)


def allowlist(static: Sequence[str], runners: Sequence[str]) -> list[str]:
    """The public endpoint's allowlist: `static` (from config, already validated) then the deploy
    runners' egress CIDRs, each once. Raises ValueError on a bad or world-open runner CIDR, and on
    an empty list, which EKS would read as 0.0.0.0/0."""
    for cidr in runners:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise ValueError(
                f"EksCluster: runner egress CIDR {cidr!r} is not a CIDR such as 203.0.113.10/32"
            ) from None
        if network.prefixlen == 0:
            raise ValueError(
                f"EksCluster: runner egress CIDR {cidr!r} opens the API endpoint to the world; the "
                "bootstrap stack's runnerEgressCidrs must be its NAT gateways' addresses (/32)"
            )
    cidrs = list(dict.fromkeys([*static, *runners]))
    if not cidrs:
        raise ValueError(
            "EksCluster: endpointPublicAccess is on but no CIDR may reach it (publicAccessCidrs and the "
            "runners' egress CIDRs are empty); EKS would open it to 0.0.0.0/0"
        )
    return cidrs


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig that authenticates with `aws eks get-token`: no static credentials, no profile."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }


def default_cluster_name(name: str) -> str:
    """`<project>-<stack>-<name>`, shortened to EKS's 100 characters: unique per stack and project.

    Characters EKS does not allow in a name (Pulumi allows `.` in project and stack names) become
    `-`; a name cut short ends in a hash of the whole, so two long names stay distinct.
    """
    full = re.sub(r"[^A-Za-z0-9_-]", "-", f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}")
    if len(full) > 100:
        full = f"{full[:91]}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"
    return full if full[0].isalnum() else f"c{full[1:]}"


class EksCluster(pulumi.ComponentResource):
    """An EKS control plane with managed node groups, IRSA, pinned add-ons and a default gp3 class."""

    cluster_name: pulumi.Output[str]
    """The EKS cluster name."""

    endpoint: pulumi.Output[str]
    """The API server's URL."""

    certificate_authority: pulumi.Output[str]
    """The cluster CA certificate (base64 PEM), as kubeconfig's `certificate-authority-data`."""

    oidc_provider_arn: pulumi.Output[str]
    """ARN of the IAM OIDC provider IRSA roles trust."""

    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL (`https://oidc.eks.<region>.amazonaws.com/id/...`)."""

    node_role_arn: pulumi.Output[str]
    """ARN of the managed node groups' IAM role."""

    kubeconfig: pulumi.Output[str]
    """A kubeconfig (a secret) that authenticates with `aws eks get-token`."""

    provider: k8s.Provider
    """The Kubernetes provider for this cluster: pass it to the components that deploy onto it."""

    addons: dict[str, aws.eks.Addon]
    """The managed add-ons by name, for what must wait for one (cluster DNS: `coredns`)."""
    storage_class: k8s.storage.v1.StorageClass
    """The default encrypted gp3 StorageClass; anything with a volume waits for it."""

    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS puts on the control plane and on the managed nodes (and so on the
    traffic of their pods): what a database admits."""

    def __init__(
        self,
        name: str,
        args: EksClusterArgs,
        *,
        private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        cluster_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        protect: bool | None = None,
        environment: Environment = "production",
        deploy_role_arn: pulumi.Input[str] | None = None,
        read_only_role_arn: pulumi.Input[str] | None = None,
        runner_cidrs: pulumi.Input[Sequence[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the cluster `name` in the subnets `private_subnet_ids`.

        The EKS cluster's name is `cluster_name`, else `args.name`, else
        `<project>-<stack>-<name>` (`default_cluster_name`): unique per stack, so two stacks or
        two projects can share an account. AWS children use the provider `opts` resolves for
        `aws` (`provider`, `providers`, the parent's), as any Pulumi child does. `protect` (or
        `opts.protect`; default on) protects the cluster (with EKS deletion protection) and its
        KMS key. `environment` (default `production`) selects the guardrails `args` are checked
        against.

        `deploy_role_arn` and `read_only_role_arn` are used where `args` names no role (the
        stack derives them); `runner_cidrs`, the deploy runners' egress CIDRs, join
        `args.public_access_cidrs` on the public endpoint's allowlist when it is on.
        """
        where = f"EksCluster {name!r}"
        # Runner CIDRs given here join the allowlist, so an empty list in args is not an error.
        later = {RUNNER_CIDRS_LATER: True} if runner_cidrs is not None else {}
        args = for_environment(where, as_args(where, EksClusterArgs, args), environment, **later)
        protect = resolve_protect(where, protect, opts)
        deploy_role_arn = args.deploy_role_arn or deploy_role_arn
        read_only_role_arn = args.read_only_role_arn or read_only_role_arn
        if deploy_role_arn is None and not args.bootstrap_creator_admin:
            # Checked before anything registers: the program itself could not reach the cluster.
            raise ValueError(
                "EksCluster: deployRoleArn is unset and bootstrapCreatorAdmin is false, so nobody "
                "(not even this program) could use the cluster; set deployRoleArn to the role "
                "`pulumi up` runs as, or pass deploy_role_arn="
            )
        if deploy_role_arn is not None and args.bootstrap_creator_admin:
            # EKS gives the creator its own access entry, and a principal may be in only one
            # (EKS user guide, "Create access entries":
            # https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html). When
            # the deploy role creates the cluster, as the pipeline does, its entry here would fail
            # with ResourceInUseException after the cluster exists.
            raise ValueError(
                "EksCluster: bootstrapCreatorAdmin is true and a deploy role is set "
                f"({deploy_role_arn if isinstance(deploy_role_arn, str) else 'an Output'}): EKS would "
                "create an access entry for the identity that creates the cluster, which is the deploy "
                "role when the pipeline runs `pulumi up`, and a principal may have only one entry; set "
                "bootstrapCreatorAdmin to false and list extra admins in adminPrincipalArns"
            )
        super().__init__("lmagent:components:EksCluster", name, None, opts)
        self._name = name
        self._tags = {**(tags or {}), "component": "cluster"}
        physical = cluster_name or args.name or default_cluster_name(name)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)

        key_arn: pulumi.Input[str]
        if args.kms_key_arn is None:
            key = rotating_key(
                f"{name}-secrets-key",
                description=f"EKS {physical}: envelope encryption of Kubernetes Secrets",
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            key_arn = key.arn
        else:
            key_arn = args.kms_key_arn

        # Created before the cluster: otherwise EKS creates it on first log with no expiry (and
        # without this key).
        log_group_name = f"/aws/eks/{physical}/cluster"
        region = aws.get_region_output(opts=invoke).region
        # The audit trail: protected with the cluster, so no update can delete it.
        logs = encrypted_log_group(
            f"{name}-logs",
            log_group_name=log_group_name,
            retention_days=args.log_retention_days,
            account=aws.get_caller_identity_output(opts=invoke).account_id,
            region=region,
            purpose=f"EKS {physical} control plane logs",
            tags=self._tags,
            parent=self,
            protect=protect,
        )
        role = aws.iam.Role(
            f"{name}-cluster-role",
            aws.iam.RoleArgs(
                description=f"EKS {physical} control plane",
                assume_role_policy=service_trust("eks.amazonaws.com"),
                tags=self._tags,
            ),
            opts=child,
        )
        role_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-AmazonEKSClusterPolicy",
            aws.iam.RolePolicyAttachmentArgs(
                role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
            ),
            opts=child,
        )
        public = args.endpoint_public_access
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            aws.eks.ClusterArgs(
                name=physical,
                version=args.version,
                role_arn=role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=private_subnet_ids,
                    endpoint_private_access=True,
                    endpoint_public_access=public,
                    public_access_cidrs=(
                        pulumi.Output.all(args.public_access_cidrs, runner_cidrs or []).apply(
                            lambda a: allowlist(a[0], a[1])
                        )
                        if public
                        else None
                    ),
                ),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    resources=["secrets"],
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn),
                ),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API",
                    bootstrap_cluster_creator_admin_permissions=args.bootstrap_creator_admin,
                ),
                enabled_cluster_log_types=list(args.log_types),
                # The add-ons are installed below as managed add-ons at pinned versions; the
                # self-managed copies EKS would otherwise bootstrap would be unmanaged drift.
                bootstrap_self_managed_addons=False,
                deletion_protection=protect,
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type),
                tags=self._tags,
            ),
            # The role's policy must outlive the cluster, or EKS cannot clean up its ENIs and
            # security groups on delete (ClusterArgs.role_arn docstring).
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[logs, role_policy]),
        )

        issuer = cluster.identities.apply(_issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(
                url=issuer, client_id_lists=["sts.amazonaws.com"], tags=self._tags
            ),
            opts=child,
        )
        self.oidc_issuer = issuer
        self.oidc_provider_arn = oidc.arn
        self.cluster_name = cluster.name

        # Who may use the cluster: access entries only (authentication mode API), nothing hidden.
        deploy_access = (
            self._access(f"{name}-deploy", cluster.name, deploy_role_arn, ADMIN_POLICY_ARN)
            if deploy_role_arn is not None
            else None
        )
        if read_only_role_arn is not None:
            self._access(f"{name}-readonly", cluster.name, read_only_role_arn, READ_ONLY_POLICY_ARN)
        for i, principal in enumerate(args.admin_principal_arns):
            self._access(f"{name}-admin-{i}", cluster.name, principal, ADMIN_POLICY_ARN)

        nodes_role, nodes_policies = node_role(name, self._tags, self)
        early = addons(
            name,
            BEFORE_NODES,
            cluster_name=cluster.name,
            irsa_role=self.irsa_role,
            tags=self._tags,
            depends_on=[],
            parent=self,
        )
        groups = node_groups(
            name,
            args.node_groups,
            cluster_name=cluster.name,
            role=nodes_role,
            subnet_ids=private_subnet_ids,
            tags=self._tags,
            depends_on=[*nodes_policies, *early.values()],
            parent=self,
        )
        late = addons(
            name,
            AFTER_NODES,
            cluster_name=cluster.name,
            irsa_role=self.irsa_role,
            tags=self._tags,
            depends_on=list(groups.values()),
            parent=self,
        )

        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.apply(lambda ca: str(ca.data))
        self.node_role_arn = nodes_role.arn
        # EKS creates this group and puts it on the control plane's interfaces and on every
        # managed node group's nodes (EKS user guide, "Amazon EKS security group requirements"):
        # the source to admit for traffic from pods on those nodes (e.g. to a database).
        self.cluster_security_group_id = cluster.vpc_config.apply(lambda v: str(v.cluster_security_group_id))
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, self.certificate_authority, region).apply(
                lambda a: json.dumps(kubeconfig(a[0], a[1], a[2], a[3]), indent=2)
            )
        )
        # Everything on the cluster goes through this provider: it never reads the machine's
        # kubeconfig or current context.
        # Everything on the cluster waits, through this provider, for nodes to run it on and for
        # the deploy role's access: the kubeconfig alone only waits for the control plane, and
        # `pulumi up` (running as the deploy role) gets 401 until its access policy is associated.
        ready: list[pulumi.Resource] = [*groups.values()]
        if deploy_access is not None:
            ready.append(deploy_access)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=self.kubeconfig, enable_server_side_apply=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        self.addons = {**early, **late}
        self.storage_class = gp3_storage_class(
            name, provider=self.provider, depends_on=[late["aws-ebs-csi-driver"]], parent=self
        )
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "certificateAuthority": self.certificate_authority,
                "oidcProviderArn": self.oidc_provider_arn,
                "oidcIssuer": self.oidc_issuer,
                "nodeRoleArn": self.node_role_arn,
                "clusterSecurityGroupId": self.cluster_security_group_id,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _access(
        self,
        name: str,
        cluster_name: pulumi.Input[str],
        principal: pulumi.Input[str],
        policy_arn: str,
    ) -> aws.eks.AccessPolicyAssociation:
        """An access entry for `principal` and the cluster-wide access policy `policy_arn`."""
        entry = aws.eks.AccessEntry(
            name,
            aws.eks.AccessEntryArgs(
                cluster_name=cluster_name, principal_arn=principal, type="STANDARD", tags=self._tags
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.AccessPolicyAssociation(
            f"{name}-policy",
            aws.eks.AccessPolicyAssociationArgs(
                cluster_name=cluster_name,
                # From the entry, so the association waits for it.
                principal_arn=entry.principal_arn,
                policy_arn=policy_arn,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def irsa_role(
        self,
        name: str,
        namespace: str,
        service_account: str,
        policy_json: pulumi.Input[str] | None = None,
        managed_policy_arns: Sequence[pulumi.Input[str]] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> aws.iam.Role:
        """An IAM role only `system:serviceaccount:<namespace>:<service_account>` can assume (IRSA).

        `policy_json` becomes the role's inline policy; `managed_policy_arns` are attached. The
        role is a child of this cluster unless `opts` names another parent.
        """
        rname = f"{self._name}-irsa-{name}"
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), opts)
        subject = f"system:serviceaccount:{namespace}:{service_account}"

        def trust(args: list[str]) -> str:
            arn, issuer = args
            host = issuer.removeprefix("https://")
            return json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": arn},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {f"{host}:sub": subject, f"{host}:aud": "sts.amazonaws.com"}
                            },
                        }
                    ],
                }
            )

        role = aws.iam.Role(
            rname,
            aws.iam.RoleArgs(
                description=f"IRSA for {subject}",
                assume_role_policy=pulumi.Output.all(self.oidc_provider_arn, self.oidc_issuer).apply(trust),
                tags=self._tags,
            ),
            opts=opts,
        )
        child = pulumi.ResourceOptions(parent=opts.parent)
        if policy_json is not None:
            aws.iam.RolePolicy(
                f"{rname}-policy", aws.iam.RolePolicyArgs(role=role.id, policy=policy_json), opts=child
            )
        for i, arn in enumerate(managed_policy_arns):
            aws.iam.RolePolicyAttachment(
                # Named after the policy when its ARN is known now, else by its position.
                f"{rname}-{arn.rsplit('/', 1)[-1]}" if isinstance(arn, str) else f"{rname}-policy-{i}",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
                opts=child,
            )
        return role
