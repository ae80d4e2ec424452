"""Locates the external validators the tests run; a missing tool fails the test, never skips it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Where `make test` installs the tools that are not on the system PATH.
_EXTRA_DIRS = (REPO / ".venv" / "bin", REPO / ".tools" / "checkov" / "bin")


def tool(name: str) -> str:
    """Absolute path of the executable `name`, or an assertion error saying how to install it."""
    found = shutil.which(name) or next((str(d / name) for d in _EXTRA_DIRS if (d / name).exists()), None)
    assert found, f"{name} is not installed: run `make test`, which installs every validator"
    return found


def run(
    name: str, *args: str | os.PathLike[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a validator and return its result (the caller asserts on returncode and output)."""
    return subprocess.run(
        [tool(name), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=600,
        check=False,
    )
