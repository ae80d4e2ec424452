"""IAM policy documents as data: statement helpers, and the audit every bootstrap policy must pass.

A policy is a plain dict (the JSON IAM reads). `wildcard_problems(doc)` lists each statement that
grants `"Action": "*"`, or pairs `"Resource": "*"` with an action that writes, unless the action is
in `WILDCARD_RESOURCE_EXCEPTIONS`, where each entry says why AWS leaves no narrower resource. The
tests run it over every policy the bootstrap declares, so a new exception has to be written down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "WILDCARD_RESOURCE_EXCEPTIONS",
    "allow",
    "document",
    "is_read_only",
    "wildcard_problems",
]

#: Write actions that may be granted on `"Resource": "*"`, each with the reason. Source for
#: "no resource-level permission": the Service Authorization Reference's action tables
#: (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
#: where an action without a resource type "must specify all resources (*)".
WILDCARD_RESOURCE_EXCEPTIONS: dict[str, str] = {
    # AWS KMS lists no resource type for CreateKey: the key has no ARN until it exists. The
    # statement carries aws:RequestTag/stack, so the role can only create keys tagged for its stack.
    "kms:CreateKey": "no key ARN exists before creation (AWS KMS: CreateKey has no resource type); "
    "conditioned on aws:RequestTag/stack",
    # EKS CreateCluster has no resource type (Service Authorization Reference, Amazon EKS actions
    # table); the statement carries aws:RequestTag/stack, so only a cluster tagged for the
    # role's stack can be created.
    "eks:CreateCluster": "the action has no resource type in the EKS actions table; conditioned on "
    "aws:RequestTag/stack",
    # AWS Backup mounts a vault's storage as the caller when the vault is created; the
    # backup-storage actions table lists no resource type for it (AWS Backup developer guide,
    # "Permissions to create a backup vault").
    "backup-storage:MountCapsule": "the backup-storage actions table lists no resource type; needed to "
    "create a backup vault",
    # CodeBuild creates and deletes the runner's network interface in the VPC when a build
    # starts and ends; the CodeBuild user guide ("Allow CodeBuild access to AWS services required
    # to create a VPC network interface") grants these on "*" because no interface exists before.
    "ec2:CreateNetworkInterface": "the build's network interface does not exist before the build "
    "(CodeBuild user guide, VPC network interface policy)",
    "ec2:DeleteNetworkInterface": "the build's network interface id is only known at build time "
    "(CodeBuild user guide, VPC network interface policy)",
    "acm:RequestCertificate": "no certificate ARN exists before the request (ACM: RequestCertificate "
    "has no resource type); conditioned on aws:RequestTag/stack",
    # WAF logs to CloudWatch Logs through a vended log delivery and a Logs resource policy
    # (AWS WAF developer guide, "Permissions to publish logs"); neither action names a resource
    # type in the CloudWatch Logs action table.
    "logs:CreateLogDelivery": "log deliveries have no resource type (CloudWatch Logs action table); "
    "WAF creates one when logging starts",
    "logs:DeleteLogDelivery": "log deliveries have no resource type (CloudWatch Logs action table); "
    "WAF deletes it when logging stops",
    "logs:PutResourcePolicy": "account-level Logs resource policies have no resource type "
    "(CloudWatch Logs action table); the edge writes the one for its WAF log group",
    "logs:DeleteResourcePolicy": "account-level Logs resource policies have no resource type "
    "(CloudWatch Logs action table); removes the edge's WAF log delivery policy",
}

#: Action verbs IAM's access levels count as List or Read. Anything else writes.
_READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Head", "Search", "View", "Lookup")


def is_read_only(action: str) -> bool:
    """True for an action of the List/Read access levels (`ec2:Describe*`, `s3:GetObject`)."""
    if action == "*" or ":" not in action:
        return False
    verb = action.split(":", 1)[1]
    return verb != "*" and verb.startswith(_READ_PREFIXES)


def allow(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One Allow statement; actions sorted so the document reads (and diffs) the same every run."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def document(statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A policy document with IAM's current language version."""
    return {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _excepted(action: str) -> bool:
    return action in WILDCARD_RESOURCE_EXCEPTIONS


def wildcard_problems(doc: Mapping[str, Any] | str, *, key_policy: bool = False) -> list[str]:
    """Why `doc` is broader than allowed: one line per offending statement, empty when it passes.

    `key_policy=True` reads a KMS key policy, where `"Resource": "*"` means "this key" (KMS
    developer guide, "Key policies in AWS KMS"), so only the action rule applies.
    """
    parsed: Mapping[str, Any] = json.loads(doc) if isinstance(doc, str) else doc
    problems: list[str] = []
    for i, st in enumerate(_as_list(parsed.get("Statement", []))):
        if st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid", f"#{i}")
        actions = [str(a) for a in _as_list(st.get("Action", []))]
        if "*" in actions or "NotAction" in st:
            problems.append(f"{sid}: grants every action (Action '*' or NotAction)")
            continue
        if key_policy or "*" not in _as_list(st.get("Resource", [])):
            continue
        writes = [a for a in actions if not is_read_only(a) and not _excepted(a)]
        if writes:
            problems.append(f"{sid}: write actions on Resource '*' without a listed exception: {writes}")
    return problems
