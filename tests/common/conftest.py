"""Helpers for tests that start Leadloop in a subprocess with an environment of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Variables a deployment sets; a subprocess test starts from none of them.
_CONFIG_PREFIXES = ("LEADLOOP_", "DJANGO_")
_CONFIG_NAMES = frozenset(
    {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL"}
)

RunLeadloop = Callable[..., subprocess.CompletedProcess[str]]


def clean_environ(data_dir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without Leadloop's variables, plus `overrides`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _CONFIG_NAMES and not name.startswith(_CONFIG_PREFIXES)
    }
    env["LEADLOOP_DATA_DIR"] = str(data_dir)
    env.update(overrides)
    return env


@pytest.fixture
def run_python(tmp_path: Path) -> RunLeadloop:
    """Run `python ARGS...` in `tmp_path` with a clean environment plus the given variables."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path,
            env=clean_environ(tmp_path / "var", **env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
