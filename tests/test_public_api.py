"""The public API of `components`: every exported name resolves, lazily, and nothing runs at import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import components
from tests._tools import REPO


def test_all_is_sorted_and_matches_the_export_table():
    assert components.__all__ == sorted(components.__all__)
    assert set(components.__all__) == set(components._EXPORTS)


def test_every_exported_name_resolves_to_the_object_its_module_defines():
    for name in components.__all__:
        module = importlib.import_module(components._EXPORTS[name])
        assert getattr(components, name) is getattr(module, name), name


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchComponent"):
        components.NoSuchComponent  # noqa: B018


def test_importing_the_package_loads_no_provider_sdk():
    code = "import sys, components; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
