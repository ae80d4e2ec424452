"""components/_log_key.py: every log group the stacks declare is encrypted with its own KMS key."""

from __future__ import annotations

import json

from components._log_key import LOGS_KEY_ACTIONS, log_key_policy
from components.testing import ACCOUNT_ID, SynthResult

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY = "aws:kms/key:Key"


def test_the_policy_lets_logs_use_the_key_for_one_log_group_only() -> None:
    policy = log_key_policy(
        account="123456789012", region="eu-west-1", log_group_name="/aws/eks/demo/cluster"
    )
    admin, logs = policy["Statement"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and admin["Action"] == "kms:*"
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Action"] == LOGS_KEY_ACTIONS
    group_arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/demo/cluster"
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}


def test_each_log_group_has_its_own_rotating_key_that_names_it(stack: str, synthesized: SynthResult) -> None:
    groups = {g["name"]: g for g in synthesized.of_type(LOG_GROUP) if not g["name"].startswith("database-")}
    assert set(groups) == {"cluster-logs", "network-flow-logs", "edge-waf-logs"}
    keys = {k["name"]: k for k in synthesized.of_type(KEY)}
    for name, group in groups.items():
        key = keys[f"{name}-key"]
        assert key["parent"] == group["parent"]  # declared by the component that owns the group
        assert key["inputs"]["enableKeyRotation"] is True
        arn = f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:{group['inputs']['name']}"
        statement = json.loads(key["inputs"]["policy"])["Statement"][1]
        assert statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == arn
    used = [g["inputs"]["kmsKeyId"] for g in groups.values()]
    secrets_key = synthesized.of_type("aws:eks/cluster:Cluster")[0]["inputs"]["encryptionConfig"]["provider"]
    assert all(arn.startswith("arn:aws:kms:eu-west-1:") for arn in used)
    assert len(set(used)) == len(groups) and secrets_key["keyArn"] not in used  # one key per log group


def test_a_databases_log_groups_share_a_key_that_names_only_its_instances_groups(
    stack: str, synthesized: SynthResult
) -> None:
    groups = [g for g in synthesized.of_type(LOG_GROUP) if g["name"].startswith("database-main-log-")]
    assert len(groups) == 2
    (key,) = [k for k in synthesized.of_type(KEY) if k["name"] == "database-main-logs-key"]
    assert key["inputs"]["enableKeyRotation"] is True
    identifier = f"lmagent-infra-{stack}-main"
    statement = json.loads(key["inputs"]["policy"])["Statement"][1]
    assert statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:/aws/rds/instance/{identifier}/*"
    )
    assert {g["inputs"]["name"].rsplit("/", 1)[0] for g in groups} == {f"/aws/rds/instance/{identifier}"}
