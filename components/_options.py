"""Resource options resolved as Pulumi resolves them: a provider by package, and `protect`.

A component's children get their provider the way any Pulumi resource does: an explicit
`provider`, else the one for their package in `opts.providers` (a list or a dict by package), else
the parent's. The components that declare Kubernetes objects need that resolution before they
register, to refuse to fall back to the machine's ambient kubeconfig: the SDK would otherwise
hand their children the default provider without a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import pulumi

P = TypeVar("P", bound=pulumi.ProviderResource)


def package_providers(opts: pulumi.ResourceOptions | None) -> dict[str, pulumi.ProviderResource]:
    """The providers a component given `opts` passes to its children, by package.

    Same order of precedence as the SDK (`Resource._get_providers`): `opts.provider`, then
    `opts.providers`, then what the parent passes down.
    """
    if opts is None:
        return {}
    inherited = dict(getattr(opts.parent, "_providers", {}) or {}) if opts.parent is not None else {}
    return inherited | _own_providers(opts)


def _own_providers(opts: pulumi.ResourceOptions | None) -> dict[str, pulumi.ProviderResource]:
    """The providers given in `opts` itself (`provider`, `providers`), by package."""
    if opts is None:
        return {}
    found: dict[str, pulumi.ProviderResource] = {}
    given: Any = opts.providers
    if isinstance(given, Mapping):
        found |= dict(given)
    elif isinstance(given, Sequence):
        found |= {p.package: p for p in given}
    if opts.provider is not None:
        found[opts.provider.package] = opts.provider
    return found


def resolve_provider(
    component: str,
    package: str,
    cls: type[P],
    explicit: object | None,
    opts: pulumi.ResourceOptions | None,
) -> P:
    """The `package` provider `component` gives its children; raise if there is none.

    `explicit` is the component's own `provider=` argument (optional, checked to be a `cls`).
    """
    hint = (
        f"pass opts=pulumi.ResourceOptions(providers={{{package!r}: <provider>}}) or "
        f"opts=pulumi.ResourceOptions(provider=<provider>) with a {cls.__module__}.{cls.__name__} "
        "(EksCluster.provider is one)"
    )
    if explicit is not None:
        if not isinstance(explicit, cls):
            raise TypeError(
                f"{component}: provider: must be a {cls.__module__}.{cls.__name__} "
                f"(got {type(explicit).__module__}.{type(explicit).__name__}); {hint}"
            )
        # Only a provider given to this component in `opts` can conflict; the parent's is a default.
        own = _own_providers(opts).get(package)
        if own is not None and own is not explicit:
            raise ValueError(
                f"{component}: provider= and the {package!r} provider in opts are two different "
                "providers; allowed: give it once (in opts, as Pulumi resources do)"
            )
        return explicit
    provider = package_providers(opts).get(package)
    if provider is None:
        given = sorted(package_providers(opts))
        what = f"the options carry providers for {', '.join(given)} only" if given else "none was given"
        raise ValueError(
            f"{component}: no {package!r} provider ({what}); {hint}. The library never falls back to "
            "the ambient configuration (a kubeconfig on the machine running `pulumi up`)"
        )
    if not isinstance(provider, cls):
        raise TypeError(
            f"{component}: the {package!r} provider must be a {cls.__module__}.{cls.__name__} "
            f"(got {type(provider).__module__}.{type(provider).__name__})"
        )
    return provider


def resolve_protect(component: str, protect: bool | None, opts: pulumi.ResourceOptions | None) -> bool:
    """Whether `component` protects what holds data or is expensive to rebuild.

    `protect` (the component's own argument) and `opts.protect` mean the same thing: either may
    be given, and two that disagree are an error. Without either, a parent's explicit `protect`
    is inherited, as Pulumi inherits it; without that, the default is to protect.
    """
    given = opts.protect if opts is not None else None
    if protect is not None and given is not None and protect != given:
        raise ValueError(
            f"{component}: protect={protect} and opts.protect={given} disagree; "
            "allowed: give one of them, or the same value in both"
        )
    if protect is not None:
        return protect
    if given is not None:
        return given
    parent = opts.parent if opts is not None else None
    inherited = getattr(parent, "_protect", None) if parent is not None else None
    return True if inherited is None else bool(inherited)
