"""Same seed, same tables; and sample_traces/ is exactly what scripts/make_samples.py writes."""

from __future__ import annotations

import filecmp
import importlib.util

import pyarrow.parquet as pq

from traceana.simulate.scenario import DayPlan, fleet_day

from .conftest import ROOT, SAMPLES


def test_same_seed_same_tables_other_seed_differs():
    plan = DayPlan(requests=3000)
    a, b, c = fleet_day(plan, seed=5), fleet_day(plan, seed=5), fleet_day(plan, seed=6)
    assert a.requests.equals(b.requests) and a.engine_samples.equals(b.engine_samples)
    assert not a.requests.equals(c.requests)


def _make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_regenerated_samples_are_bit_identical(tmp_path):
    files = _make_samples().generate(tmp_path)
    assert len(files) >= 8
    for f in files:
        committed = SAMPLES / f.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is missing: run python scripts/make_samples.py"
        if f.suffix == ".parquet" and not filecmp.cmp(f, committed, shallow=False):
            # another pyarrow writes other bytes ("created_by"); the contents must still be equal
            assert pq.read_table(f).equals(pq.read_table(committed)), f.name
            continue
        assert filecmp.cmp(f, committed, shallow=False), (
            f"{f.name} drifted: run python scripts/make_samples.py"
        )


def test_samples_stay_small():
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 4_000_000
