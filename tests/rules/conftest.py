"""promtool for the rules tests: found on PATH; in CI (CI=true) its absence is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package 'prometheus'; make test installs it)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def run_promtool(promtool: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
