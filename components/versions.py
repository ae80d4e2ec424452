"""Every pinned version in one place: Kubernetes, EKS add-ons, Helm charts and container images.

Each pin says where it comes from. Changing one is a deliberate upgrade: the golden snapshots in
tests/ show what it changes.
"""

from __future__ import annotations

# --- Kubernetes / EKS (issue: network and cluster) -------------------------------------------

#: EKS Kubernetes minor version (standard support; EKS user guide "Kubernetes versions").
KUBERNETES_VERSION = "1.34"

#: EKS managed add-on versions for Kubernetes 1.34. Re-check with
#: `aws eks describe-addon-versions --kubernetes-version 1.34 --addon-name <name>` before an
#: upgrade: a version must be listed as compatible with the cluster's Kubernetes version.
EKS_ADDONS: dict[str, str] = {
    # aws/eks-charts release v0.0.218 ships aws-vpc-cni v1.21.x; terraform-aws-eks users moved
    # to 1.21.1 to prepare 1.34 upgrades (cookpad/terraform-aws-eks#398, March 2026).
    "vpc-cni": "v1.21.1-eksbuild.1",
    # EKS Distro 1-34 releases ship CoreDNS v1.13.2 (eks-distro v1-34-eks-16/17).
    "coredns": "v1.13.2-eksbuild.1",
    # EKS user guide, managing-kube-proxy table: 1.34 -> v1.34.0-eksbuild.5.
    "kube-proxy": "v1.34.0-eksbuild.5",
    # Seen pinned for current clusters in public Terraform (describe-addon-versions 1.34).
    "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    # aws-ebs-csi-driver 1.56.0 (cookpad/terraform-aws-eks#398, the pre-1.34 upgrade set).
    "aws-ebs-csi-driver": "v1.56.0-eksbuild.1",
    # EKS community add-on `metrics-server` (upstream v0.8.0), needed by the HPA.
    "metrics-server": "v0.8.0-eksbuild.2",
}

# --- Container images (issue: image) ---------------------------------------------------------

# --- Helm charts (issue: monitoring) ---------------------------------------------------------

#: A Helm chart pinned by name, version and the repository that publishes it.
#: kube-prometheus-stack: prometheus-community, Aug 2026 (Prometheus Operator CRDs bundled).
KUBE_PROMETHEUS_STACK = (
    "kube-prometheus-stack",
    "88.5.3",
    "https://prometheus-community.github.io/helm-charts",
)
#: loki: moved to grafana-community/helm-charts in March 2026 (grafana/loki#20705); the chart
#: left behind in grafana/helm-charts is maintained for Grafana Enterprise Logs only.
LOKI = ("loki", "18.11.0", "https://grafana-community.github.io/helm-charts")
#: alloy: stays in grafana/helm-charts (not part of the community move); replaces Promtail (EOL).
ALLOY = ("alloy", "1.11.1", "https://grafana.github.io/helm-charts")
#: opentelemetry-collector: open-telemetry/opentelemetry-helm-charts.
OPENTELEMETRY_COLLECTOR = (
    "opentelemetry-collector",
    "0.170.0",
    "https://open-telemetry.github.io/opentelemetry-helm-charts",
)
#: jaeger: jaegertracing/helm-charts 4.x deploys Jaeger v2 only (4.14.1 seen Aug 2026, app 2.2x).
JAEGER = ("jaeger", "4.14.1", "https://jaegertracing.github.io/helm-charts")
#: The collector image the chart runs; the k8s distribution has OTLP in/out, batch, memory_limiter.
OTEL_COLLECTOR_IMAGE = "otel/opentelemetry-collector-k8s"

# --- Operators whose custom resources the stacks declare (issue #19) -------------------------
# tests/crds/ holds the openAPIV3Schema of each of their CRDs at these versions (tests/_crds.py
# says where each comes from and how to regenerate it); tests/test_crds.py fails when a pin here
# and that data disagree.

#: Karpenter v1.14.1 (aws/karpenter-provider-aws, Aug 2026). Its compatibility matrix
#: (website/content/en/docs/upgrading/compatibility.md) needs Karpenter >= 1.6 for Kubernetes 1.34.
#: Both charts are published at the application's version; install the CRD chart on its own,
#: since Helm never upgrades what a chart ships in crds/.
KARPENTER_CRD = ("karpenter-crd", "1.14.1", "oci://public.ecr.aws/karpenter")
KARPENTER = ("karpenter", KARPENTER_CRD[1], "oci://public.ecr.aws/karpenter")
#: The EKS-optimised Amazon Linux 2023 release Karpenter's nodes run (EC2NodeClass amiSelectorTerms
#: alias): awslabs/amazon-eks-ami v20260714, whose CHANGELOG lists AMIs for Kubernetes 1.33-1.35.
KARPENTER_AMI_ALIAS = "al2023@v20260714"
#: External Secrets Operator chart 2.9.0 (application v2.9.0, Aug 2026; external-secrets.io/v1
#: API). The project supports only its newest minor release (docs/introduction/stability-support.md,
#: whose test matrix for 2.9 lists Kubernetes 1.36; 2.0 to 2.6 list 1.34-1.35).
EXTERNAL_SECRETS = ("external-secrets", "2.9.0", "https://charts.external-secrets.io")
#: AWS Load Balancer Controller chart 3.5.0 = controller v3.5.0 (aws/eks-charts, Aug 2026); the
#: eks-charts release tag that first carries it, where its CRDs are read from:
AWS_LOAD_BALANCER_CONTROLLER = ("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts")
AWS_LOAD_BALANCER_CONTROLLER_CHARTS_TAG = "v0.0.242"
#: Kyverno chart 3.9.0 = Kyverno v1.19.0 (Aug 2026; its CI workflows at that tag run kind clusters
#: of Kubernetes 1.33 to 1.36, 1.34.3 among them). The chart is released from the application's
#: tag, named here because the CRDs are read from it:
KYVERNO = ("kyverno", "3.9.0", "https://kyverno.github.io/kyverno")
KYVERNO_APP_VERSION = "v1.19.0"

# --- Database (issue #18) ---------------------------------------------------------------------

#: RDS for PostgreSQL major version. Only the major is pinned: RDS accepts a major as
#: `engine_version` and applies minor releases in the maintenance window
#: (`auto_minor_version_upgrade`, pulumi_aws rds.Instance docstring). 17 is the major the local
#: environment runs (LOCAL_IMAGES["postgres"]); its RDS standard support runs to early 2030 (RDS
#: user guide, "Supported PostgreSQL major versions" calendar).
POSTGRES_MAJOR = "17"
#: The parameter group family of that major (`aws rds describe-db-engine-versions --engine postgres`
#: lists `DBParameterGroupFamily` postgres17 for 17.x).
POSTGRES_PARAMETER_FAMILY = f"postgres{POSTGRES_MAJOR}"
#: The CloudWatch exporter that brings the database's AWS/RDS metrics to Prometheus:
#: prometheus-community/helm-charts chart prometheus-yet-another-cloudwatch-exporter 0.47.0 (tag
#: prometheus-yet-another-cloudwatch-exporter-0.47.0, July 2026), whose appVersion v0.67.0 is the
#: YACE release it runs (prometheus-community/yet-another-cloudwatch-exporter, the project's home
#: since it joined prometheus-community in November 2024).
CLOUDWATCH_EXPORTER = (
    "prometheus-yet-another-cloudwatch-exporter",
    "0.47.0",
    "https://prometheus-community.github.io/helm-charts",
)
CLOUDWATCH_EXPORTER_APP_VERSION = "v0.67.0"
#: The image of the Job that makes the apps' database roles (components/database/_users.py): the
#: official PostgreSQL image of the pinned major, for its `psql`, by tag and multi-platform index
#: digest (the digest seen pinned for this tag in several public projects; re-check with
#: `docker buildx imagetools inspect postgres:17.6-alpine` when upgrading: nothing here can reach
#: a registry).
_POSTGRES_CLIENT_DIGEST = "sha256:ef257d85f76e48da1c64832459b59fcaba1a4dac97bf5d7450c77753542eee94"
POSTGRES_CLIENT_IMAGE = f"docker.io/library/postgres:17.6-alpine@{_POSTGRES_CLIENT_DIGEST}"
#: The certificate authority RDS signs the instance's server certificate with (RDS user guide,
#: "Using SSL/TLS to encrypt a connection": rds-ca-rsa2048-g1 is the default for new instances
#: since 2024, valid to 2061).
RDS_CA_IDENTIFIER = "rds-ca-rsa2048-g1"

# --- Local environment (compose.yaml, `make local`; issue: cost and local) --------------------

#: Images of the local Docker Compose environment (`python -m stacks local` writes compose.yaml
#: from these): release tags (mid-2025) of the official images of the projects the cluster's
#: charts deploy. Prometheus v3.5 is its long-term-support line; Jaeger 2.x is v2 (v1 ended in
#: 2025); Loki 3.x and Alloy 1.x are the lines the loki and alloy charts deploy. Not checked
#: against a registry by the tests (they run offline): add the digests (`name:tag@sha256:...`,
#: from `docker buildx imagetools inspect`) when upgrading.
LOCAL_IMAGES: dict[str, str] = {
    "postgres": "postgres:17.5-alpine",
    "prometheus": "prom/prometheus:v3.5.0",
    "alertmanager": "prom/alertmanager:v0.28.1",
    "grafana": "grafana/grafana:12.1.0",
    "loki": "grafana/loki:3.5.0",
    "alloy": "grafana/alloy:v1.10.0",
    "otel-collector": f"{OTEL_COLLECTOR_IMAGE}:0.130.0",
    "jaeger": "jaegertracing/jaeger:2.8.0",
    # Only to hand the shared log directory to the app's user before the app starts.
    "busybox": "busybox:1.37.0",
}

#: The build image of the CodeBuild-hosted GitHub Actions runners (components/bootstrap/runner.py):
#: CodeBuild's curated Ubuntu 22.04 image (aws/aws-codebuild-docker-images
#: ubuntu/standard/7.0/Dockerfile: `FROM ubuntu:22.04`, Docker, Python 3.11). Ubuntu because the
#: workflow's actions/setup-python installs the prebuilt Pythons published for Ubuntu; CodeBuild
#: patches the image in place under the same tag.
CODEBUILD_RUNNER_IMAGE = "aws/codebuild/standard:7.0"

# --- Public entry (issue #17) -------------------------------------------------------------------
# The AWS Load Balancer Controller's pin is above, with the operators.

#: external-dns: kubernetes-sigs/external-dns chart 1.21.1 (app v0.21.0, Apr 2026).
EXTERNAL_DNS = ("external-dns", "1.21.1", "https://kubernetes-sigs.github.io/external-dns/")
