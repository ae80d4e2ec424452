"""The typed settings of the public entry (`EdgeArgs`) and of one app's exposure (`PublicArgs`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from components._model import Model, at_least_two_in_production, in_production
from components.network import check_retention

__all__ = ["TLS13_POLICY", "EdgeArgs", "PublicArgs", "WafArgs", "ZoneArgs", "host_in_zone"]

#: The ELB security policy AWS recommends for new HTTPS listeners: TLS 1.3 and 1.2 with
#: post-quantum key exchange (ELB user guide, "Security policies for your Application Load
#: Balancer"). The controller's own default (`defaultSSLPolicy` unset) is the 2016 policy.
TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"

#: WAF's floor for a rate-based rule's limit (AWS WAF developer guide, "Rate-based rule
#: statement": the minimum is 10 requests per evaluation window).
WAF_MIN_RATE_LIMIT = 10
WAF_MAX_RATE_LIMIT = 2_000_000_000

_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})+$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


def host_in_zone(host: str, zone: str) -> bool:
    """True when `host` is `zone` itself or one label under it: what the edge's wildcard
    certificate (`zone` and `*.zone`) covers."""
    if host == zone:
        return True
    head, dot, rest = host.partition(".")
    return bool(dot) and rest == zone and re.fullmatch(_DNS_LABEL, head) is not None


class ZoneArgs(Model):
    """The Route 53 public hosted zone the public hosts live in (it must exist: see README)."""

    name: str = Field(
        description=(
            "The zone's domain, e.g. `example.com`. Required. Public hosts must be this domain or "
            "one label under it (`api.example.com`): the certificate is `<name>` plus `*.<name>`."
        ),
    )
    id: str = Field(
        description="The hosted zone's ID, e.g. `Z0123456789ABCDEFGHIJ` (`aws route53 list-hosted-zones`).",
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a lowercase DNS domain such as example.com")
        return value

    @field_validator("id")
    @classmethod
    def _id_is_a_zone_id(cls, value: str) -> str:
        if not _ZONE_ID.match(value):
            raise ValueError(f"{value!r} is not a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ")
        return value


class WafArgs(Model):
    """The regional WAFv2 web ACL in front of the load balancer."""

    rate_limit: int = Field(
        default=1000,
        ge=WAF_MIN_RATE_LIMIT,
        le=WAF_MAX_RATE_LIMIT,
        description=(
            "Requests one client IP may send per `rateWindowSeconds` before WAF blocks it until its "
            "rate drops. Default: 1000 per 5 minutes (~3.3/s sustained). "
            f"WAF's minimum is {WAF_MIN_RATE_LIMIT}."
        ),
    )
    rate_window_seconds: Literal[60, 120, 300, 600] = Field(
        default=300,
        description="The window the rate limit counts over. Default: 300 (WAF's default and its cheapest).",
    )
    log_retention_days: int = Field(
        default=90,
        description="Retention of the `aws-waf-logs-<stack>` log group. Default: 90 days.",
    )
    block_large_bodies: bool = Field(
        default=True,
        description=(
            "Keep the common rule group's `SizeRestrictions_BODY` rule blocking: a request body over "
            "8 KB gets 403. Default: on. Off counts such requests instead of blocking them (the rule "
            "still shows in the WAF metrics and logs), for APIs that take large bodies such as long "
            "prompts; every other rule of the group keeps blocking."
        ),
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_valid(cls, value: int) -> int:
        return check_retention(value)


class EdgeArgs(Model):
    """The `edge` section: the public HTTPS entry shared by every public app of the stack."""

    zone: ZoneArgs = Field(description="The Route 53 hosted zone of the public hosts. Required.")
    tls_policy: str = Field(
        default=TLS13_POLICY,
        pattern=r"^ELBSecurityPolicy-TLS13-",
        description=(
            f"The HTTPS listener's security policy. Default: `{TLS13_POLICY}` (AWS's recommendation); "
            "only TLS 1.3 policies (`ELBSecurityPolicy-TLS13-...`) are allowed."
        ),
    )
    waf: WafArgs = Field(
        default_factory=WafArgs,
        description=(
            "The web ACL: a per-IP rate limit and AWS's common, known-bad-inputs and IP-reputation rule "
            "groups. Default: 1000 requests per 5 minutes per IP, logs kept 90 days."
        ),
    )
    controller_replicas: int = Field(
        default=2,
        ge=1,
        description="AWS Load Balancer Controller replicas. Default: 2 (at least 2 in production).",
    )
    dns_policy: Literal["upsert-only", "sync"] = Field(
        default="upsert-only",
        description=(
            "external-dns' policy. Default: `upsert-only` (creates and updates the public records, "
            "never deletes one); `sync` also deletes records whose Ingress is gone."
        ),
    )

    _replicas = field_validator("controller_replicas")(at_least_two_in_production)


class PublicArgs(Model):
    """An app's `public` section: serve it on the internet through the stack's shared load balancer."""

    host: str = Field(
        description=(
            "The public host name, e.g. `api.example.com`: the edge zone itself or one label under it. "
            "external-dns creates its record."
        ),
    )
    paths: list[str] = Field(
        default=["/"],
        min_length=1,
        description="Path prefixes routed to the app. Default: `/` (everything on the host).",
    )
    tls: bool = Field(
        default=True,
        description=(
            "Serve the app over HTTPS. Default and only value: on. The shared load balancer redirects "
            "every HTTP request to HTTPS (an IngressGroup has one redirect for all its apps), so an "
            "HTTP-only app would be unreachable; in production TLS is also the security baseline."
        ),
    )

    @field_validator("host")
    @classmethod
    def _host_is_a_domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a lowercase host name such as api.example.com")
        return value

    @field_validator("paths")
    @classmethod
    def _paths_are_absolute(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not p.startswith("/") or " " in p]
        if bad:
            raise ValueError(f"every path must start with '/' and contain no spaces (bad: {bad})")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a path")
        return value

    @field_validator("tls")
    @classmethod
    def _tls_is_on(cls, value: bool, info: ValidationInfo) -> bool:
        if not value:
            why = (
                "production serves public apps over HTTPS only"
                if in_production(info)
                else "the shared load balancer redirects all HTTP to HTTPS: an HTTP-only app is unreachable"
            )
            raise ValueError(f"must be true: {why}; remove `tls: false`")
        return value
