"""Entry point the Pulumi CLI runs for `--policy-pack policies`: serve the checklist as a policy pack."""

import sys
from pathlib import Path

from pulumi_policy import PolicyPack

# The CLI runs this directory as a script (runpy), so only `policies/` itself is on sys.path; the
# project root goes first so `policies.rules` imports exactly as it does in the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.rules import ALL_POLICIES, DEFAULT_ENFORCEMENT

# Starts a gRPC server and blocks: never import this module.
PolicyPack(
    name="lmagent-security",
    policies=ALL_POLICIES,
    enforcement_level=DEFAULT_ENFORCEMENT,
    description="The lmagent-infra security checklist: hardened containers, images by digest, "
    "ECR scanning and immutability, EKS encryption, audit logs, endpoint and IMDSv2, "
    "NetworkPolicies and no plaintext secrets.",
)
