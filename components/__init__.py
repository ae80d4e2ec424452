"""lmagent-infra components: reusable Pulumi ComponentResources for a hardened EKS platform.

Importing this package registers nothing and reads no configuration; provider submodules are
imported by the component modules that need them.
"""

from __future__ import annotations

__all__: list[str] = []
