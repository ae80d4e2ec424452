"""lmagent-infra components: reusable Pulumi ComponentResources for a hardened EKS platform.

Importing this package registers nothing, reads no configuration and imports no provider SDK: each
public name is imported from its module on first use (PEP 562), so `import components` stays fast
and a program pays only for the components it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from components.admission import AdmissionArgs, AdmissionController
    from components.alerts import AlertThresholds, app_alert_groups
    from components.app import AppService, AppServiceArgs
    from components.cluster import EksCluster, EksClusterArgs, NodeGroupArgs, default_cluster_name
    from components.dashboards import red_dashboard, slo_dashboard
    from components.image import ContainerImage, ContainerImageArgs
    from components.karpenter import Budget, Karpenter, KarpenterArgs, NodePoolArgs
    from components.monitoring import MonitoringArgs, MonitoringStack
    from components.network import Network, NetworkArgs
    from components.slo import Slo, default_slos, slo_rule_groups
    from components.testing import synth

#: Public name -> the module that defines it. Add a line here to export a name.
_EXPORTS: dict[str, str] = {
    "AdmissionArgs": "components.admission",
    "AdmissionController": "components.admission",
    "AlertThresholds": "components.alerts",
    "AppService": "components.app",
    "AppServiceArgs": "components.app",
    "Budget": "components.karpenter",
    "ContainerImage": "components.image",
    "ContainerImageArgs": "components.image",
    "EksCluster": "components.cluster",
    "EksClusterArgs": "components.cluster",
    "Karpenter": "components.karpenter",
    "KarpenterArgs": "components.karpenter",
    "MonitoringArgs": "components.monitoring",
    "MonitoringStack": "components.monitoring",
    "Network": "components.network",
    "NetworkArgs": "components.network",
    "NodeGroupArgs": "components.cluster",
    "NodePoolArgs": "components.karpenter",
    "Slo": "components.slo",
    "app_alert_groups": "components.alerts",
    "default_cluster_name": "components.cluster",
    "default_slos": "components.slo",
    "red_dashboard": "components.dashboards",
    "slo_dashboard": "components.dashboards",
    "slo_rule_groups": "components.slo",
    "synth": "components.testing",
}

__all__ = [
    "AdmissionArgs",
    "AdmissionController",
    "AlertThresholds",
    "AppService",
    "AppServiceArgs",
    "Budget",
    "ContainerImage",
    "ContainerImageArgs",
    "EksCluster",
    "EksClusterArgs",
    "Karpenter",
    "KarpenterArgs",
    "MonitoringArgs",
    "MonitoringStack",
    "Network",
    "NetworkArgs",
    "NodeGroupArgs",
    "NodePoolArgs",
    "Slo",
    "app_alert_groups",
    "default_cluster_name",
    "default_slos",
    "red_dashboard",
    "slo_dashboard",
    "slo_rule_groups",
    "synth",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
