"""The public HTTPS entry: the load balancer controller, certificate, DNS and WAF (`Edge`), and the
settings of the entry (`EdgeArgs`) and of one app's exposure (`PublicArgs`)."""

from components.edge._args import TLS13_POLICY, EdgeArgs, PublicArgs, WafArgs, ZoneArgs, host_in_zone
from components.edge._edge import INGRESS_CLASS, MANAGED_RULE_GROUPS, Edge, public_subnet_sources

__all__ = [
    "INGRESS_CLASS",
    "MANAGED_RULE_GROUPS",
    "TLS13_POLICY",
    "Edge",
    "EdgeArgs",
    "PublicArgs",
    "WafArgs",
    "ZoneArgs",
    "host_in_zone",
    "public_subnet_sources",
]
