"""CI smoke of benchmarks/bench_compare.py (issue 19): it runs at a small size and compares what it claims to. No timing."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_bench_compare_smoke(tmp_path, capsys):
    sys.path.insert(0, str(BENCH))
    try:
        bench = importlib.import_module("bench_compare")
        assert bench.main(["--smoke", "--out", str(tmp_path / "data")]) == 0
    finally:
        sys.path.remove(str(BENCH))
    out = capsys.readouterr().out
    result = json.loads(out[: out.rindex("}") + 1])
    run = result["runs"][0]
    # the two halves of the 40k-request trace were compared (every request on one side), per model too
    assert run["rows_base"] + run["rows_candidate"] == 40_000
    assert run["metric_rows"] > 50 and sum(run["summary"].values()) == run["metric_rows"]
    assert result["median_ratio"] > 0
