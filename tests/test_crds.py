"""Custom resources pass the strict schema of their pinned CRD; the validator rejects broken ones."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components import versions
from tests import _crds
from tests.conftest import STACKS, synth_stack

# One small, valid object per CRD in the table, written from each project's documentation at the
# pinned version, and the path of a nested object in it where an unknown field must be refused.
EXAMPLES: dict[tuple[str, str, str], tuple[dict[str, Any], tuple[str | int, ...]]] = {
    ("monitoring.coreos.com", "v1", "ServiceMonitor"): (
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "api", "namespace": "apps", "labels": {"release": "monitoring"}},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", "targetPort": 8080}],
            },
        },
        ("spec", "endpoints", 0),
    ),
    ("monitoring.coreos.com", "v1", "PrometheusRule"): (
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "api", "namespace": "apps"},
            "spec": {
                "groups": [
                    {
                        "name": "api",
                        "rules": [{"alert": "Down", "expr": "up == 0", "for": "5m", "labels": {"a": "b"}}],
                    }
                ]
            },
        },
        ("spec", "groups", 0, "rules", 0),
    ),
    # karpenter.sh/docs/concepts/nodepools (v1.14)
    ("karpenter.sh", "v1", "NodePool"): (
        {
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": "general"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"workload": "apps"}},
                    "spec": {
                        "nodeClassRef": {
                            "group": "karpenter.k8s.aws",
                            "kind": "EC2NodeClass",
                            "name": "default",
                        },
                        "requirements": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                            {
                                "key": "karpenter.k8s.aws/instance-category",
                                "operator": "In",
                                "values": ["c", "m"],
                            },
                        ],
                        "expireAfter": "720h",
                    },
                },
                "limits": {"cpu": 64, "memory": "256Gi"},
                "disruption": {
                    "consolidationPolicy": "WhenEmptyOrUnderutilized",
                    "consolidateAfter": "1m",
                    "budgets": [{"nodes": "10%"}],
                },
            },
        },
        ("spec", "template", "spec", "requirements", 0),
    ),
    # karpenter.sh/docs/concepts/nodeclasses (v1.14)
    ("karpenter.k8s.aws", "v1", "EC2NodeClass"): (
        {
            "apiVersion": "karpenter.k8s.aws/v1",
            "kind": "EC2NodeClass",
            "metadata": {"name": "default"},
            "spec": {
                "role": "KarpenterNodeRole-lmagent",
                "amiSelectorTerms": [{"alias": "al2023@v20260807"}],
                "subnetSelectorTerms": [{"tags": {"kubernetes.io/role/internal-elb": "1"}}],
                "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "lmagent"}}],
                "metadataOptions": {
                    "httpEndpoint": "enabled",
                    "httpProtocolIPv6": "disabled",
                    "httpPutResponseHopLimit": 1,
                    "httpTokens": "required",
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {"volumeSize": "50Gi", "volumeType": "gp3", "encrypted": True},
                    }
                ],
            },
        },
        ("spec", "blockDeviceMappings", 0, "ebs"),
    ),
    # external-secrets.io/latest/api/externalsecret (v1)
    ("external-secrets.io", "v1", "ExternalSecret"): (
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "db", "namespace": "apps"},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
                "target": {"name": "db", "creationPolicy": "Owner"},
                "data": [{"secretKey": "DATABASE_URL", "remoteRef": {"key": "apps/db", "property": "url"}}],
            },
        },
        ("spec", "data", 0, "remoteRef"),
    ),
    # external-secrets.io/latest/provider/aws-secrets-manager
    ("external-secrets.io", "v1", "ClusterSecretStore"): (
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": "aws-secrets-manager"},
            "spec": {
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": "eu-west-1",
                        "auth": {
                            "jwt": {"serviceAccountRef": {"name": "eso", "namespace": "external-secrets"}}
                        },
                    }
                }
            },
        },
        ("spec", "provider", "aws", "auth", "jwt", "serviceAccountRef"),
    ),
    # kubernetes-sigs.github.io/aws-load-balancer-controller: ingress_class, targetgroupbinding
    ("elbv2.k8s.aws", "v1beta1", "IngressClassParams"): (
        {
            "apiVersion": "elbv2.k8s.aws/v1beta1",
            "kind": "IngressClassParams",
            "metadata": {"name": "public"},
            "spec": {"scheme": "internet-facing", "group": {"name": "apps"}, "ipAddressType": "ipv4"},
        },
        ("spec", "group"),
    ),
    ("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"): (
        {
            "apiVersion": "elbv2.k8s.aws/v1beta1",
            "kind": "TargetGroupBinding",
            "metadata": {"name": "api", "namespace": "apps"},
            "spec": {
                "serviceRef": {"name": "api", "port": 80},
                "targetGroupARN": (
                    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0123456789abcdef"
                ),
                "targetType": "ip",
            },
        },
        ("spec", "serviceRef"),
    ),
    # kyverno.io/docs/writing-policies/validate (v1.19)
    ("kyverno.io", "v1", "ClusterPolicy"): (
        {
            "apiVersion": "kyverno.io/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": "require-name-label"},
            "spec": {
                "background": True,
                "rules": [
                    {
                        "name": "require-name-label",
                        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                        "validate": {
                            "failureAction": "Enforce",
                            "message": "label app.kubernetes.io/name is required",
                            # Free-form (preserve-unknown-fields): any shape is kept.
                            "pattern": {"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}},
                        },
                    }
                ],
            },
        },
        ("spec", "rules", 0, "match", "any", 0, "resources"),
    ),
}


def _at(obj: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _where(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# ---------------------------------------------------------------------------------------------
# What the stacks declare


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_the_stack_declares_passes_its_crd_schema(stack: str) -> None:
    custom = [m for m in synth_stack(stack).manifests if not _crds.is_builtin(m)]
    kinds = {m["kind"] for m in custom}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    assert [p for m in custom for p in _crds.problems(m)] == []


def test_a_kind_without_a_pinned_crd_is_a_problem() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert not _crds.is_builtin(obj)
    (problem,) = _crds.problems(obj)
    assert problem.startswith("example.com/v1 Widget w: no pinned CRD schema (known: ")


def test_builtin_kinds_are_left_to_kubernetes_validate() -> None:
    assert _crds.is_builtin({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}})
    assert _crds.is_builtin({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "x": 1})


# ---------------------------------------------------------------------------------------------
# The validator on real schemas: accepts the examples, rejects what the API server would drop


@pytest.mark.parametrize("key", sorted(_crds.CRDS), ids=lambda k: f"{k[0]}-{k[2]}")
def test_the_example_passes_its_crd_schema(key: tuple[str, str, str]) -> None:
    example, _ = EXAMPLES[key]
    assert _crds.gvk(example) == key
    assert _crds.problems(example) == []


@pytest.mark.parametrize("key", sorted(_crds.CRDS), ids=lambda k: f"{k[0]}-{k[2]}")
def test_an_unknown_field_is_rejected_at_every_depth(key: tuple[str, str, str]) -> None:
    example, nested = EXAMPLES[key]
    kind, name = (
        key[2],
        "/".join(filter(None, (example["metadata"].get("namespace"), example["metadata"]["name"]))),
    )
    for path in ((), ("metadata",), ("spec",), nested):
        broken = copy.deepcopy(example)
        _at(broken, path)["unknownField"] = "x"
        where = _where(path) or "(the object)"
        problems = _crds.problems(broken)
        assert len(problems) == 1, problems
        assert problems[0].startswith(f"{kind} {name}: {where}: "), problems
        assert "'unknownField'" in problems[0], problems


def test_the_unknown_field_message_lists_the_allowed_ones() -> None:
    example, _ = EXAMPLES[("monitoring.coreos.com", "v1", "ServiceMonitor")]
    broken = copy.deepcopy(example)
    broken["spec"]["endpoints"][0]["intervall"] = "30s"
    (problem,) = _crds.problems(broken)
    assert problem.startswith(
        "ServiceMonitor apps/api: spec.endpoints[0]: unknown field 'intervall' (allowed: "
    )
    assert ", interval, " in problem


@pytest.mark.parametrize(
    ("key", "path", "value", "expected"),
    [
        (
            ("monitoring.coreos.com", "v1", "ServiceMonitor"),
            ("spec", "endpoints", 0, "port"),
            8080,
            "not of type",
        ),
        (
            ("monitoring.coreos.com", "v1", "ServiceMonitor"),
            ("spec", "endpoints", 0, "interval"),
            "30 s",
            "match",
        ),
        (
            ("monitoring.coreos.com", "v1", "ServiceMonitor"),
            ("spec", "endpoints", 0, "targetPort"),
            True,
            "is not",
        ),
        (
            ("monitoring.coreos.com", "v1", "PrometheusRule"),
            ("spec", "groups", 0, "rules", 0, "for"),
            5,
            "not of type",
        ),
        (("karpenter.sh", "v1", "NodePool"), ("spec", "limits", "cpu"), "lots", "match"),
        (
            ("karpenter.sh", "v1", "NodePool"),
            ("spec", "disruption", "consolidationPolicy"),
            "Never",
            "is not one of",
        ),
        (
            ("karpenter.k8s.aws", "v1", "EC2NodeClass"),
            ("spec", "metadataOptions", "httpTokens"),
            "optional!",
            "one of",
        ),
        (
            ("karpenter.k8s.aws", "v1", "EC2NodeClass"),
            ("spec", "metadataOptions", "httpPutResponseHopLimit"),
            65,
            "maximum",
        ),
        (
            ("external-secrets.io", "v1", "ExternalSecret"),
            ("spec", "data"),
            {"secretKey": "x"},
            "not of type",
        ),
        (("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"), ("spec", "targetType"), "pod", "is not one of"),
        (("kyverno.io", "v1", "ClusterPolicy"), ("spec", "rules"), "none", "not of type"),
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else None,
)
def test_a_wrong_value_is_rejected(
    key: tuple[str, str, str], path: tuple[str | int, ...], value: Any, expected: str
) -> None:
    broken = copy.deepcopy(EXAMPLES[key][0])
    _at(broken, path[:-1])[path[-1]] = value
    problems = _crds.problems(broken)
    assert problems, f"{_where(path)} = {value!r} was accepted"
    assert all(f": {_where(path)}: " in p for p in problems), problems
    assert any(expected in p for p in problems), problems


def test_a_missing_required_field_is_rejected() -> None:
    broken = copy.deepcopy(EXAMPLES[("karpenter.k8s.aws", "v1", "EC2NodeClass")][0])
    del broken["spec"]["subnetSelectorTerms"]
    assert _crds.problems(broken) == [
        "EC2NodeClass default: spec: 'subnetSelectorTerms' is a required property"
    ]


def test_the_metadata_is_checked_as_object_meta() -> None:
    broken = copy.deepcopy(EXAMPLES[("karpenter.sh", "v1", "NodePool")][0])
    broken["metadata"]["labels"] = {"team": 7}
    (problem,) = _crds.problems(broken)
    assert problem.startswith("NodePool general: metadata.labels.team: 7 is not of type"), problem


def test_a_repeated_map_key_in_a_keyed_list_is_rejected() -> None:
    # PrometheusRule groups are x-kubernetes-list-type: map, keyed by name, at operator v0.93.
    broken = copy.deepcopy(EXAMPLES[("monitoring.coreos.com", "v1", "PrometheusRule")][0])
    broken["spec"]["groups"].append(copy.deepcopy(broken["spec"]["groups"][0]))
    assert _crds.problems(broken) == [
        "PrometheusRule apps/api: spec.groups[1]: "
        'duplicate map key (name) ["api"] (x-kubernetes-list-type: map)'
    ]


def test_a_free_form_field_keeps_whatever_it_holds() -> None:
    example = copy.deepcopy(EXAMPLES[("kyverno.io", "v1", "ClusterPolicy")][0])
    example["spec"]["rules"][0]["validate"]["pattern"]["spec"] = {"anything": [{"goes": True}]}
    assert _crds.problems(example) == []


# ---------------------------------------------------------------------------------------------
# The conversion of each Kubernetes extension, on small schemas


def _check(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = _crds._Validator(_crds.strict(schema))
    return [e.message for e in validator.iter_errors(instance)]


def test_an_object_with_properties_refuses_others_unless_it_preserves_unknown_fields() -> None:
    listed = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert _check(listed, {"a": "x"}) == []
    assert _check(listed, {"a": "x", "b": 1}) != []
    assert _check({**listed, "x-kubernetes-preserve-unknown-fields": True}, {"a": "x", "b": 1}) == []
    # No properties and no preserve: the API server prunes every field, so any field is a mistake.
    assert _check({"type": "object"}, {"b": 1}) != []
    assert _check({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, {"b": 1}) == []


def test_a_map_schema_validates_its_values_and_allows_any_key() -> None:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    assert _check(labels, {"any-key": "v"}) == []
    assert _check(labels, {"any-key": 1}) != []


def test_int_or_string_takes_either_and_nothing_else() -> None:
    # controller-gen adds the anyOf; the extension alone means the same to the API server.
    for schema in (
        {"x-kubernetes-int-or-string": True},
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
    ):
        assert _check(schema, 8080) == []
        assert _check(schema, "http") == []
        assert _check(schema, True) != []
        assert _check(schema, [1]) != []


def test_nullable_takes_null_also_in_an_enum() -> None:
    schema = {"type": "string", "enum": ["a"], "nullable": True}
    assert _check(schema, None) == []
    assert _check(schema, "a") == []
    assert _check(schema, "b") != []
    assert _check({"type": "string"}, None) != []


def test_a_required_field_with_a_default_may_be_left_out() -> None:
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "string"}},
    }
    assert _check(schema, {}) == ["'b' is a required property"]


def test_an_embedded_resource_keeps_its_type_fields_and_checks_its_metadata() -> None:
    schema = {
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        },
    }
    good = {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}}
    assert _check(schema, good) == []
    bad = copy.deepcopy(good)
    bad["template"]["metadata"]["nmae"] = "p"
    assert any("'nmae'" in m for m in _check(schema, bad))
    bad["template"]["other"] = 1
    assert any("'other'" in m for m in _check(schema, bad))


def test_set_lists_refuse_a_repeated_item() -> None:
    schema = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    assert _check(schema, ["a", "b"]) == []
    assert _check(schema, ["a", "a"]) == ['duplicate item "a" (x-kubernetes-list-type: set)']


def test_a_go_pattern_with_flags_after_the_anchor_works_as_in_go() -> None:
    assert _crds.python_pattern("^(?i)(abort|warn)?$") == "(?i)^(abort|warn)?$"
    assert _check({"type": "string", "pattern": "^(?i)(abort|warn)?$"}, "WARN") == []
    assert _check({"type": "string", "pattern": "^(?i)(abort|warn)?$"}, "fail") != []
    with pytest.raises(ValueError, match="is not a Python regular expression"):
        _crds.python_pattern("(unclosed")


# ---------------------------------------------------------------------------------------------
# The pinned data


def test_every_crd_in_the_table_has_its_schema_file_an_example_and_nothing_else_is_there() -> None:
    files = {p.name for p in _crds.DATA.glob("*.json")}
    assert files == {_crds.schema_file(*key).name for key in _crds.CRDS}
    assert set(EXAMPLES) == set(_crds.CRDS)


@pytest.mark.parametrize("key", sorted(_crds.CRDS), ids=lambda k: f"{k[0]}-{k[2]}")
def test_each_schema_file_comes_from_the_version_pinned_in_versions_py(key: tuple[str, str, str]) -> None:
    stored = json.loads(_crds.schema_file(*key).read_text())
    source = _crds.CRDS[key]
    assert (stored["group"], stored["version"], stored["kind"]) == key
    assert stored["source"] == {
        "pin": list(source.pin),
        "repository": source.repository,
        "ref": source.ref,
        "path": source.path,
    }, f"the pin moved: regenerate with `python -m tests._crds update` ({_crds.__name__} docstring)"
    pinned = {
        (c[0], c[1])
        for c in (
            versions.KUBE_PROMETHEUS_STACK,
            versions.KARPENTER_CRD,
            versions.EXTERNAL_SECRETS,
            versions.AWS_LOAD_BALANCER_CONTROLLER,
            versions.KYVERNO,
        )
    }
    assert tuple(stored["source"]["pin"]) in pinned
    assert stored["openAPIV3Schema"]["type"] == "object"


def test_extraction_drops_helm_lines_and_descriptions_and_picks_the_served_version() -> None:
    crd = """\
{{- if .Values.crds.enabled }}
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    {{- with .Values.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1alpha1
      served: false
      schema: {openAPIV3Schema: {type: object}}
    - name: v1
      served: true
      schema:
        openAPIV3Schema:
          description: A widget.
          type: object
          properties:
            description: {type: string, description: a field named description}
            spec:
              type: object
              anyOf: [{required: [a]}]
              properties:
                a: {type: integer, description: The a.}
{{- end }}
"""
    assert _crds.extract(crd, "example.com", "v1", "Widget", "w.yaml") == {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "spec": {
                "type": "object",
                "anyOf": [{"required": ["a"]}],
                "properties": {"a": {"type": "integer"}},
            },
        },
    }
    with pytest.raises(SystemExit, match="does not serve v1alpha1"):
        _crds.extract(crd, "example.com", "v1alpha1", "Widget", "w.yaml")
    with pytest.raises(SystemExit, match=r"0 CRDs of example\.com Gadget"):
        _crds.extract(crd, "example.com", "v1", "Gadget", "w.yaml")
    with pytest.raises(SystemExit, match="inside a line"):
        _crds.extract(
            crd.replace("name: widgets", "name: {{ .Values.name }}"), "example.com", "v1", "Widget", "x"
        )
