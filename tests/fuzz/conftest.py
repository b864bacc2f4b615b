"""Hypothesis profiles for the fuzz suite.

``ci`` (default): derandomized, a moderate number of examples, so the suite runs
in well under a minute and never flakes. ``thorough``: random, 20x the examples.
Pick with TRACEANA_FUZZ_PROFILE=thorough; scale further with TRACEANA_FUZZ_SCALE=N.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "thorough",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("TRACEANA_FUZZ_PROFILE", "ci")
settings.load_profile(PROFILE)
SCALE = int(os.environ.get("TRACEANA_FUZZ_SCALE", "20" if PROFILE == "thorough" else "1"))

#: examples actually run, per property (filled by the tests, printed at the end)
EXAMPLES: dict[str, int] = {}


def examples(n: int) -> int:
    return n * SCALE


def count(name: str) -> None:
    EXAMPLES[name] = EXAMPLES.get(name, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if EXAMPLES:
        total = sum(EXAMPLES.values())
        terminalreporter.write_line(
            f"fuzz: {total} examples run over {len(EXAMPLES)} properties (profile {PROFILE}, scale {SCALE})"
        )
