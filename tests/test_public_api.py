"""The public API of `components`: every exported name resolves, lazily, and nothing runs at import."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import textwrap
import typing
from collections.abc import Iterator
from typing import Any

import pulumi
import pydantic
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


# --- the API reference: every public name documented ------------------------------------------


def _models_in(annotation: Any) -> Iterator[type[pydantic.BaseModel]]:
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        yield annotation


def _undocumented_attributes(cls: type) -> Iterator[str]:
    """Annotated class attributes with no docstring under them (what the API reference shows)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    for node, following in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            documented = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
            if not documented:
                yield node.target.id


def undocumented() -> list[str]:
    """Every public name of `components` and `components.testing` without a docstring (or, for
    an args field, without a description), with its public methods, attributes and fields."""
    import components.testing

    missing: list[str] = []
    seen: set[int] = set()

    def check(name: str, obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if not inspect.isclass(obj):
            return
        for key, value in vars(obj).items():
            function = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
            if (
                not key.startswith("_")
                and inspect.isfunction(function)
                and not (function.__doc__ or "").strip()
            ):
                missing.append(f"{name}.{key}")
        if issubclass(obj, pulumi.ComponentResource):
            missing.extend(f"{name}.{attr}" for attr in _undocumented_attributes(obj))
        if issubclass(obj, pydantic.BaseModel):
            for field_name, field in obj.model_fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{field_name} (no description)")
                for model in _models_in(field.annotation):
                    check(model.__name__, model)

    for name in components.__all__:
        check(name, getattr(components, name))
    for name in components.testing.__all__:
        check(f"testing.{name}", getattr(components.testing, name))
    return missing


def test_every_public_name_field_and_output_has_a_docstring():
    assert undocumented() == []


def test_the_docstring_check_finds_a_missing_one(monkeypatch: pytest.MonkeyPatch):
    from components.app import AppServiceArgs

    monkeypatch.setattr(AppServiceArgs.model_fields["port"], "description", None)
    monkeypatch.setattr(AppServiceArgs, "__doc__", "")
    assert undocumented() == ["AppServiceArgs", "AppServiceArgs.port (no description)"]


def test_every_args_field_documents_its_default():
    from components import AppServiceArgs

    vague = [
        name
        for name, field in AppServiceArgs.model_fields.items()
        if "default" not in (field.description or "").lower()
    ]
    assert vague == []


def test_the_api_reference_builds_from_the_docstrings(tmp_path):
    # What `make docs` runs: pdoc renders every public module, each exported name on its page.
    out = tmp_path / "docs"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pdoc",
            "components",
            "components.testing",
            "--docformat",
            "markdown",
            "-o",
            out,
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    page = (out / "components.html").read_text()
    assert [name for name in components.__all__ if f'id="{name}"' not in page] == []
    assert (out / "components" / "testing.html").is_file()


def _packages_on_disk() -> set[str]:
    found = set()
    for top in ("components", "stacks"):
        for init in (REPO / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(REPO).parts))
    return found


def test_the_wheel_holds_every_package_and_its_data():
    # What `pip install` of this repository installs: setuptools' own discovery, with the
    # pyproject.toml settings. A package left out breaks `import components` for consumers.
    import tomllib

    import setuptools

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = config["packages"]["find"]["include"]
    packaged = set(setuptools.find_packages(where=str(REPO), include=include))
    assert packaged == _packages_on_disk()
    data = config["package-data"]
    for package, patterns in data.items():
        for pattern in patterns:
            assert list((REPO / package.replace(".", "/")).glob(pattern)), f"{package}: {pattern}"
    non_python = {
        p.relative_to(REPO).as_posix()
        for top in ("components", "stacks")
        for p in (REPO / top).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    declared = {
        p.relative_to(REPO).as_posix()
        for package, patterns in data.items()
        for pattern in patterns
        for p in (REPO / package.replace(".", "/")).glob(pattern)
    }
    assert non_python - declared == set()
