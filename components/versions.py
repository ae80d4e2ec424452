"""Every pinned version in one place: Kubernetes, EKS add-ons, Helm charts and container images.

Each pin says where it comes from. Changing one is a deliberate upgrade: the golden snapshots in
tests/ show what it changes.
"""

from __future__ import annotations

# --- Kubernetes / EKS (issue: network and cluster) -------------------------------------------

# --- Container images (issue: image) ---------------------------------------------------------

# --- Helm charts (issue: monitoring) ---------------------------------------------------------
