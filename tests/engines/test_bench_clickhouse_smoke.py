"""CI smoke of benchmarks/bench_clickhouse.py: at 20k generated rows the report through chDB
(loaded with `export --clickhouse`, reported with `report --engine`) equals the embedded one.
Agreement only; no timing is asserted."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("chdb")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_bench_clickhouse_smoke_agrees(tmp_path, monkeypatch):
    sys.path.insert(0, str(BENCH))
    try:
        bench = importlib.import_module("bench_clickhouse")
        for name in ("run", "gen"):  # generated data under tmp_path, not benchmarks/data/
            monkeypatch.setattr(importlib.import_module(name), "DATA", tmp_path)
        res = bench.run(20_000, 1, log=lambda _: None)
    finally:
        sys.path.remove(str(BENCH))
    assert res["rows"] == 20_000 and res["runs"][0]["mismatches"] == []
    assert res["agree"]
    assert bench.mismatches({"p99": 1.0, "n": 3}, {"p99": 1.0 + 1e-6, "n": 3}) == [".p99: 1.0 vs 1.000001"]
