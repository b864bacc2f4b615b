"""Shared fixtures: the bundled sample day, simulated once per test session (about half a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"


@pytest.fixture(scope="session")
def day():
    from traceana.simulate.scenario import fleet_day

    return fleet_day()
