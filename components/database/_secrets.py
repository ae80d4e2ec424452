"""ExternalSecrets: the External Secrets Operator and the store that hands database credentials to apps.

The operator (chart `versions.EXTERNAL_SECRETS`) runs in its own namespace with an IRSA role that
may read exactly the database secrets it is given (GetSecretValue/DescribeSecret on their ARNs,
kms:Decrypt on their keys through Secrets Manager only). One ClusterSecretStore on AWS Secrets
Manager serves only the namespaces listed (`spec.conditions[].namespaces`): an ExternalSecret
elsewhere is refused by the operator. Each app with a database gets an ExternalSecret rendering
`DATABASE_URL` into a Secret of its namespace; the credentials never pass through Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components._monitoring_network import IMDS, dns_egress
from components.versions import EXTERNAL_SECRETS

__all__ = ["DATABASE_URL_KEY", "ESO_NAMESPACE", "ExternalSecrets", "database_url_template"]

ESO_NAMESPACE = "external-secrets"
STORE_NAME = "aws-secrets-manager"
#: The key of the rendered Secret the app reads.
DATABASE_URL_KEY = "DATABASE_URL"
#: The operator's controller ServiceAccount: the chart names it after the release's fullname
#: (chart 2.9.0 templates/_helpers.tpl `external-secrets.serviceAccountName`); fixed here so the
#: IRSA trust policy can name it.
CONTROLLER_SERVICE_ACCOUNT = "external-secrets"
#: values.yaml `webhook.port` (chart 2.9.0): where the API server calls the validating webhook.
WEBHOOK_PORT = 10250
#: How often the operator re-reads the secret; a rotation reaches the Secret within this.
REFRESH_INTERVAL = "15m"

_meta, _net = k8s.meta.v1, k8s.networking.v1

#: A function making an IRSA role (name, namespace, service account, policy JSON) -> role ARN.
Irsa = Callable[[str, str, str, pulumi.Input[str]], pulumi.Input[str]]


def database_url_template(host: str, port: int, database: str, ca_path: str | None) -> str:
    """The ESO template (engine v2, Go text/template) of `DATABASE_URL`.

    User and password go through `urlquery`, Go's query escaping, so '@', ':', '/', '%' and '?'
    in them cannot break the URL. RDS-generated passwords contain no spaces (the one character
    `urlquery` turns into '+', which libpq would not decode in the user-info part).
    """
    params = "sslmode=verify-full" + (f"&sslrootcert={ca_path}" if ca_path else "")
    return (
        "postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}"
        f"@{host}:{port}/{database}?{params}"
    )


class ExternalSecrets(pulumi.ComponentResource):
    """External Secrets Operator, its IRSA role, and a ClusterSecretStore limited to `namespaces`."""

    store_name: str
    """Name of the ClusterSecretStore apps' ExternalSecrets refer to."""

    release: k8s.helm.v3.Release
    """The operator's Helm release (it installs the external-secrets.io CRDs)."""

    def __init__(
        self,
        name: str,
        *,
        provider: k8s.Provider,
        region: str,
        irsa: Irsa,
        secrets: Sequence[tuple[pulumi.Input[str], pulumi.Input[str]]],
        namespaces: Sequence[str],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`secrets` lists (secret ARN, KMS key ARN) pairs the operator may read, and nothing
        else; `namespaces` are the only ones whose ExternalSecrets the store serves; `irsa` makes
        the operator's role (e.g. `EksCluster.irsa_role`); `depends_on` is what the release's pods
        need first (cluster DNS)."""
        if not secrets or not namespaces:
            raise ValueError("ExternalSecrets: secrets and namespaces must each name at least one entry")
        super().__init__("lmagent:components:ExternalSecrets", name, None, opts)
        self._provider = provider
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        statements = pulumi.Output.all(*[pulumi.Output.all(s, k) for s, k in secrets]).apply(_policy)
        role_arn = irsa(f"{name}-operator", ESO_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT, statements)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=_meta.ObjectMetaArgs(
                name=ESO_NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=k8s_opts,
        )
        for role, spec in network_policies().items():
            _net.NetworkPolicy(
                f"{name}-{role}",
                metadata=_meta.ObjectMetaArgs(name=role, namespace=namespace.metadata.name),
                spec=spec,
                opts=k8s_opts,
            )
        chart, version, repo = EXTERNAL_SECRETS
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name="external-secrets",
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
                namespace=namespace.metadata.name,
                values=chart_values(role_arn),
                max_history=10,
                timeout=600,
                cleanup_on_fail=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        self.store_name = STORE_NAME
        self._store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=_meta.ObjectMetaArgs(name=STORE_NAME),
            spec={
                # Only these namespaces may use the store (ESO ClusterSecretStore
                # `spec.conditions`; api/v1 ClusterSecretStoreCondition).
                "conditions": [{"namespaces": sorted(set(namespaces))}],
                # The operator's own IRSA credentials: no auth block (ESO AWS provider docs,
                # "EKS Service Account credentials" on the controller's service account).
                "provider": {"aws": {"service": "SecretsManager", "region": region}},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.release]),
        )
        self.register_outputs({"storeName": STORE_NAME})

    def database_url(
        self,
        app: str,
        namespace: pulumi.Input[str],
        *,
        secret_arn: pulumi.Input[str],
        host: pulumi.Input[str],
        port: pulumi.Input[int],
        database: str,
        ca_path: str | None,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """An ExternalSecret in `namespace` rendering the Secret `<app>-database` with `DATABASE_URL`."""
        template = pulumi.Output.all(host, port).apply(
            lambda hp: database_url_template(str(hp[0]), int(hp[1]), database, ca_path)
        )
        return k8s.apiextensions.CustomResource(
            f"{app}-database-url",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=_meta.ObjectMetaArgs(name=f"{app}-database", namespace=namespace),
            spec={
                "refreshInterval": REFRESH_INTERVAL,
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
                "target": {
                    "name": f"{app}-database",
                    "creationPolicy": "Owner",
                    "template": {"engineVersion": "v2", "data": {DATABASE_URL_KEY: template}},
                },
                "data": [
                    {"secretKey": field, "remoteRef": {"key": secret_arn, "property": field}}
                    for field in ("username", "password")
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self._provider, depends_on=[self.release, self._store, *depends_on]
            ),
        )


def _policy(pairs: list[list[str]]) -> str:
    """Read exactly these secrets, and decrypt with their keys only through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTheDatabaseSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                    "Resource": sorted({s for s, _ in pairs}),
                },
                {
                    "Sid": "DecryptThemThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": sorted({k for _, k in pairs}),
                    "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
                },
            ],
        },
        sort_keys=True,
    )


def chart_values(role_arn: pulumi.Input[str]) -> Mapping[str, object]:
    """The chart's values (external-secrets 2.9.0 values.yaml): CRDs installed, the controller's
    ServiceAccount named and annotated for IRSA, requests and limits, two webhook replicas."""
    resources = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}
    return {
        "installCRDs": True,
        "replicaCount": 1,
        "serviceAccount": {
            "name": CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "resources": resources,
        # Only cluster stores are used: namespaced SecretStores would let any namespace pick its
        # own credentials.
        "processSecretStore": False,
        "processPushSecret": False,
        "processClusterPushSecret": False,
        "webhook": {"port": WEBHOOK_PORT, "replicaCount": 2, "resources": resources},
        "certController": {"resources": resources},
    }


def network_policies() -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """The operator namespace: deny all, then DNS, HTTPS out (API server, Secrets Manager, STS)
    except the metadata address, and the webhook port in (called by the EKS control plane from
    addresses in the cluster's subnets, hence any source on that port)."""
    everything = _meta.LabelSelectorArgs()
    return {
        "default-deny": _net.NetworkPolicySpecArgs(
            pod_selector=everything, policy_types=["Ingress", "Egress"]
        ),
        "allow-external-secrets": _net.NetworkPolicySpecArgs(
            pod_selector=everything,
            policy_types=["Ingress", "Egress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_net.NetworkPolicyPeerArgs(ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0"))],
                    ports=[_net.NetworkPolicyPortArgs(port=WEBHOOK_PORT, protocol="TCP")],
                )
            ],
            egress=[
                dns_egress(),
                _net.NetworkPolicyEgressRuleArgs(
                    to=[
                        _net.NetworkPolicyPeerArgs(
                            ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0", except_=[IMDS])
                        )
                    ],
                    ports=[_net.NetworkPolicyPortArgs(port=443, protocol="TCP")],
                ),
            ],
        ),
    }
