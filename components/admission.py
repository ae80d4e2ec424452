"""AdmissionController: Kyverno and a ClusterPolicy that admits only images this pipeline signed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, ValidationInfo, field_validator

from components import versions
from components._helm import pinned_release
from components._model import Environment, Model, as_args, for_environment, in_production
from components._monitoring_network import RESTRICTED_NAMESPACE_LABELS, webhook_controller_policies
from components._options import resolve_provider
from components.monitoring import IrsaRoleFactory, irsa_role_arn

#: GitHub Actions' OIDC issuer: the identity cosign keyless signing puts in the certificate.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: The public Sigstore instance cosign signs against by default (Fulcio certificates, Rekor log).
REKOR_URL = "https://rekor.sigstore.dev"
#: The Helm release name; the chart names its objects after it (`kyverno-admission-controller`).
RELEASE = "kyverno"
#: The admission controller's service account (chart 3.9.0, templates/admission-controller/
#: _helpers.tpl: `<fullname>-admission-controller` unless set; set here so IRSA can name it).
SERVICE_ACCOUNT = "kyverno-admission-controller"
#: The admission controller's webhook port (chart 3.9.0 values.yaml `admissionController.webhookServer.port`;
#: the cleanup controller's webhook listens on the same port).
WEBHOOK_PORT = 9443
#: The name of the policy object, which the policy pack looks for.
POLICY_NAME = "verify-image-signatures"

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_WORKFLOW = re.compile(r"^\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml$")
_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9_./-]+$")

#: Namespaces no app runs in, whose pods come from EKS and the platform's charts (upstream images
#: this pipeline does not sign).
SYSTEM_NAMESPACES = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "kyverno",
    "monitoring",
    "external-secrets",
]


class SignerIdentity(Model):
    """Who must have signed an image: the keyless (Fulcio) certificate of a GitHub Actions workflow."""

    repository: str = Field(
        default="your-github-org/lmagent-infra",
        description=(
            "The GitHub repository `<owner>/<name>` whose workflow signs images. Default: "
            "`your-github-org/lmagent-infra`, the placeholder the bootstrap stack uses too; until it "
            "names your repository no image is admitted in Enforce mode."
        ),
    )
    workflow: str = Field(
        default=".github/workflows/infra.yml",
        description=(
            "The workflow file that builds and signs (`.github/workflows/<file>.yml`). Default: "
            "`.github/workflows/infra.yml`, whose deploy jobs build, sign and verify before `pulumi up`."
        ),
    )
    ref: str = Field(
        default="refs/heads/main",
        description=(
            "The git ref the signing run was started from. Default: `refs/heads/main`, the branch "
            "production deploys; staging sets `refs/heads/develop`."
        ),
    )
    issuer: str = Field(
        default=GITHUB_ISSUER,
        description=f"The OIDC issuer in the certificate. Default: GitHub Actions, `{GITHUB_ISSUER}`.",
    )

    @field_validator("repository")
    @classmethod
    def _repository_is_owner_name(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError("must be a GitHub repository as <owner>/<name>")
        return value

    @field_validator("workflow")
    @classmethod
    def _workflow_is_a_file(cls, value: str) -> str:
        if not _WORKFLOW.match(value):
            raise ValueError("must be a workflow file path such as .github/workflows/infra.yml")
        return value

    @field_validator("ref")
    @classmethod
    def _ref_is_full(cls, value: str) -> str:
        if not _REF.match(value):
            raise ValueError("must be a full git ref such as refs/heads/main or refs/tags/v1")
        return value

    @property
    def subject(self) -> str:
        """The certificate's subject (SAN) for a run of this workflow at this ref, as Fulcio
        writes it for GitHub Actions: `https://github.com/<repo>/<workflow>@<ref>`."""
        return f"https://github.com/{self.repository}/{self.workflow}@{self.ref}"


class AdmissionArgs(Model):
    """The admission controller and its image policy (stack section `lmagent-infra:admission`)."""

    mode: Literal["Enforce", "Audit"] = Field(
        default="Enforce",
        description=(
            "What happens to a pod in an app namespace whose image is not signed by `signer`. "
            "Default: `Enforce`, the pod is refused, and the webhook fails closed (a pod is refused "
            "too while Kyverno cannot answer); `Audit` admits it, records a policy report and fails "
            "open. Production must enforce; staging audits."
        ),
    )
    namespace: str = Field(
        default="kyverno",
        description="Namespace Kyverno runs in, created by the stack. Default: `kyverno`.",
    )
    replicas: int = Field(
        default=3,
        ge=1,
        description=(
            "Admission controller replicas, spread over zones, with a PodDisruptionBudget keeping "
            "all but one available. Default: 3, so a drain or a lost node never leaves the webhook without "
            "an answer; at least 3 in production."
        ),
    )
    excluded_namespaces: list[str] = Field(
        default_factory=lambda: list(SYSTEM_NAMESPACES),
        description=(
            "Namespaces the policy and Kyverno's webhooks never look at: EKS's and the platform "
            f"charts'. Default: {', '.join(SYSTEM_NAMESPACES)}. An app namespace may not be listed."
        ),
    )
    signer: SignerIdentity = Field(
        default_factory=SignerIdentity,
        description="The keyless identity images must be signed by. Default: see `SignerIdentity`.",
    )

    @field_validator("mode")
    @classmethod
    def _enforced_in_production(cls, value: str, info: ValidationInfo) -> str:
        if in_production(info) and value != "Enforce":
            raise ValueError("must be 'Enforce' in production: unsigned images are refused there")
        return value

    @field_validator("replicas")
    @classmethod
    def _highly_available_in_production(cls, value: int, info: ValidationInfo) -> int:
        if in_production(info) and value < 3:
            raise ValueError("must be >= 3 in production: the webhook fails closed there")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_is_a_name(cls, value: str) -> str:
        if not (len(value) <= 63 and _NAMESPACE.match(value)):
            raise ValueError("must be a Kubernetes namespace name (lowercase letters, digits, '-')")
        return value

    @field_validator("excluded_namespaces")
    @classmethod
    def _excluded_are_names(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not (len(n) <= 63 and _NAMESPACE.match(n))]
        if bad:
            raise ValueError(f"must be Kubernetes namespace names (bad: {bad})")
        if len(set(value)) != len(value):
            raise ValueError("must not list a namespace twice")
        return value


def policy_document(
    args: AdmissionArgs,
    app_namespaces: Sequence[str],
    pinned_images: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The ClusterPolicy (kyverno.io/v1) verifying every image of every pod in `app_namespaces`,
    and allowing, in each namespace of `pinned_images`, only the images listed there by digest.

    The second rule is for third-party images the pipeline did not build and that carry no
    signature of an identity to verify (the database-admin Job's official PostgreSQL image): the
    digest names the exact bytes, so nothing else can run there. Its JMESPath reads every kind of
    container (Kyverno's "Restrict Image Registries" sample policy uses the same expression).

    `type: SigstoreBundle` because the pipeline signs with cosign 3, which stores the signature as
    a Sigstore bundle attached to the image through the OCI referrers API, not under the
    `sha256-<digest>.sig` tag that the default `Cosign` type reads (Kyverno v1.19.0,
    pkg/image/verifiers/cpol/cosign/sigstore.go; kyverno/kyverno#15327).
    """
    if not app_namespaces:
        raise ValueError("policy_document: no app namespaces to cover")
    pinned = {ns: sorted(images) for ns, images in sorted((pinned_images or {}).items())}
    excluded = sorted(set(args.excluded_namespaces) & (set(app_namespaces) | set(pinned)))
    if excluded:
        raise ValueError(f"policy_document: app namespaces {excluded} are in excludedNamespaces")
    unpinned = sorted(i for images in pinned.values() for i in images if "@sha256:" not in i)
    if unpinned:
        raise ValueError(
            f"policy_document: pinned images {unpinned} name no digest; allowed: <image>@sha256:<digest>"
        )
    both = sorted(set(pinned) & set(app_namespaces))
    if both:
        raise ValueError(f"policy_document: namespaces {both} are app namespaces; their images are verified")
    enforce = args.mode == "Enforce"
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "annotations": {
                "policies.kyverno.io/title": "Images signed by the deploy pipeline",
                "policies.kyverno.io/description": (
                    f"Pods in {', '.join(sorted(app_namespaces))} run only images signed keylessly "
                    f"by {args.signer.subject}."
                ),
            },
        },
        "spec": {
            # Admission only: a background scan would re-verify every running pod's image.
            "background": False,
            "failurePolicy": "Fail" if enforce else "Ignore",
            "webhookTimeoutSeconds": 30,
            "rules": [
                {
                    "name": "signed-by-the-pipeline",
                    "match": {
                        "any": [{"resources": {"kinds": ["Pod"], "namespaces": sorted(app_namespaces)}}]
                    },
                    "exclude": {"any": [{"resources": {"namespaces": sorted(args.excluded_namespaces)}}]},
                    "verifyImages": [
                        {
                            "type": "SigstoreBundle",
                            "imageReferences": ["*"],
                            "failureAction": args.mode,
                            "required": True,
                            # Images are deployed by digest already; nothing to rewrite.
                            "mutateDigest": False,
                            "verifyDigest": True,
                            "attestors": [
                                {
                                    "count": 1,
                                    "entries": [
                                        {
                                            "keyless": {
                                                "issuer": args.signer.issuer,
                                                "subject": args.signer.subject,
                                                "rekor": {"url": REKOR_URL},
                                            }
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                },
                *(
                    {
                        "name": f"pinned-images-{namespace}",
                        "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": [namespace]}}]},
                        "validate": {
                            "failureAction": args.mode,
                            "message": f"Pods in {namespace} run only {', '.join(images)}.",
                            "deny": {
                                "conditions": {
                                    "any": [
                                        {
                                            "key": "{{ request.object.spec.[ephemeralContainers, "
                                            "initContainers, containers][].image }}",
                                            "operator": "AnyNotIn",
                                            "value": images,
                                        }
                                    ]
                                }
                            },
                        },
                    }
                    for namespace, images in pinned.items()
                ),
            ],
        },
    }


def chart_values(args: AdmissionArgs, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Values for the kyverno chart (3.9.0 values.yaml)."""
    not_system = {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "NotIn",
                    "values": sorted(args.excluded_namespaces),
                }
            ]
        }
    }
    return {
        "admissionController": {
            "replicas": args.replicas,
            # One pod down at a time. `minAvailable`, not `maxUnavailable`: the chart fails when both
            # are set and its default sets minAvailable 1 (a null cannot delete it: values with
            # nulls never reach Helm through the SDK). Chart 3.9.0 templates/_helpers/_pdb.tpl.
            "podDisruptionBudget": {"enabled": True, "minAvailable": max(1, args.replicas - 1)},
            "rbac": {
                "serviceAccount": {
                    "name": SERVICE_ACCOUNT,
                    # ECR pulls of the signature and the image manifest (Kyverno's `amazon`
                    # credential helper uses the pod's AWS credentials).
                    "annotations": {"eks.amazonaws.com/role-arn": role_arn},
                }
            },
            # One replica per node where possible, and across zones.
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/component": "admission-controller",
                            "app.kubernetes.io/instance": RELEASE,
                        }
                    },
                }
            ],
        },
        "features": {
            # Only the registries this platform uses (ECR through IRSA; `default` for public ones).
            "registryClient": {"credentialHelpers": ["default", "amazon"]},
        },
        # Kyverno's webhooks skip the system namespaces, so with the policy failing closed a
        # Kyverno outage never blocks CoreDNS or the CNI from starting. A mapping, the chart's
        # default form: a list is read as webhooks keyed by `name` (chart 3.9.0,
        # templates/config/_helpers.tpl `kyverno.config.webhooks`), which adds Kyverno's own
        # namespace to the NotIn list either way.
        "config": {"webhooks": not_system},
    }


def ecr_read_policy(repository_arns: Sequence[str]) -> str:
    """IAM policy for Kyverno to read images and signatures from the stack's repositories."""
    statements: list[dict[str, Any]] = [
        # GetAuthorizationToken has no resource-level permissions (ECR's IAM reference).
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
    ]
    if repository_arns:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"],
                "Resource": sorted(repository_arns),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def network_policies() -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """Default deny for Kyverno's namespace, then what Kyverno needs: name lookups; HTTPS out to the
    API server, ECR and STS (IRSA) and Sigstore (Rekor, Fulcio's roots through TUF); the control
    plane calling its webhooks, from addresses in the cluster's subnets this component does not
    know, hence any source on that one port."""
    return webhook_controller_policies("allow-kyverno", WEBHOOK_PORT)


class AdmissionController(pulumi.ComponentResource):
    """Kyverno (pinned chart, 3 admission replicas with a PDB) in its own namespace behind a
    default-deny NetworkPolicy, and the ClusterPolicy `verify-image-signatures`."""

    namespace: pulumi.Output[str]
    """The namespace Kyverno runs in."""

    policy: k8s.apiextensions.CustomResource
    """The ClusterPolicy: a Deployment it must judge waits for it."""

    def __init__(
        self,
        name: str,
        args: AdmissionArgs | Mapping[str, object],
        *,
        app_namespaces: Sequence[str],
        irsa: IrsaRoleFactory,
        repository_arns: pulumi.Input[Sequence[str]],
        environment: Environment = "production",
        provider: k8s.Provider | None = None,
        cluster_dns: pulumi.Resource | None = None,
        pinned_images: Mapping[str, Sequence[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`app_namespaces` are those the policy covers; `pinned_images` (namespace -> images by
        digest; default none) adds, per namespace, a rule admitting only those images; `irsa`
        (`EksCluster.irsa_role` itself will do) makes Kyverno's ECR read role for
        `repository_arns`; the release waits for `cluster_dns` (the coredns add-on).
        `environment` (default `production`) selects the guardrails `args` are checked against
        (Enforce and 3 replicas in production).

        The Kubernetes provider comes from `opts` as Pulumi resolves it, or from `provider=`;
        without one this raises rather than use the ambient kubeconfig.
        """
        where = f"AdmissionController {name!r}"
        args = for_environment(where, as_args(where, AdmissionArgs, args), environment)
        provider = resolve_provider(where, "kubernetes", k8s.Provider, provider, opts)
        document = policy_document(args, app_namespaces, pinned_images)  # bad input fails first
        super().__init__("lmagent:components:AdmissionController", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {
            "app.kubernetes.io/name": "kyverno",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/part-of": "lmagent-infra",
            "app.kubernetes.io/managed-by": "pulumi",
        }
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels,
                    "app.kubernetes.io/component": "namespace",
                    # The chart's pods meet `restricted` (values.yaml securityContext of each controller).
                    **RESTRICTED_NAMESPACE_LABELS,
                },
            ),
            opts=k8s_opts,
        )
        namespace = ns.metadata.apply(lambda m: str(m.name))
        for role, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=role,
                    namespace=namespace,
                    labels={**labels, "app.kubernetes.io/component": "network-policy"},
                ),
                spec=spec,
                opts=k8s_opts,
            )
        made = irsa(
            "kyverno",
            args.namespace,
            SERVICE_ACCOUNT,
            pulumi.Output.from_input(repository_arns).apply(lambda arns: ecr_read_policy(list(arns))),
        )
        role_arn = irsa_role_arn(f"AdmissionController {name!r}", made)
        release = pinned_release(
            f"{name}-kyverno",
            versions.KYVERNO,
            release=RELEASE,
            namespace=namespace,
            values=chart_values(args, role_arn),
            timeout=600,
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(depends_on=[cluster_dns] if cluster_dns is not None else []),
            ),
        )
        self.policy = k8s.apiextensions.CustomResource(
            f"{name}-policy",
            api_version=document["apiVersion"],
            kind=document["kind"],
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=POLICY_NAME,
                labels={**labels, "app.kubernetes.io/component": "policy"},
                annotations=document["metadata"]["annotations"],
            ),
            spec=document["spec"],
            # The CRD comes with the release, and the webhook must answer before the policy matters.
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[release])),
        )
        self.namespace = namespace
        self.register_outputs({"namespace": namespace, "policyName": POLICY_NAME})


def app_namespaces(apps: Mapping[str, Any]) -> list[str]:
    """The namespaces of the stack's apps (`AppServiceArgs.namespace`), sorted, each once."""
    return sorted({str(app.namespace) for app in apps.values()})
