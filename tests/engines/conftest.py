"""Shared chDB sessions for the engine tests: sample_traces/ and a 100k-request simulated day,
each loaded once per test session (chDB keeps them in memory)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"


def _loaded(requests: pl.DataFrame, engine: pl.DataFrame, prefix: str):
    pytest.importorskip("chdb")
    from traceana.engines.clickhouse import ClickHouse

    # chDB sessions of one process share one server: each data set gets its own tables
    ch = ClickHouse(
        f"chdb://?table={prefix}_requests&engine_table={prefix}_engine&histogram_table={prefix}_hist"
    )
    for t in ("requests", "engine_samples", "engine_histograms"):
        ch.command(f"DROP TABLE IF EXISTS {ch.table(t)}")
    ch.create_tables()
    ch.insert("requests", requests, batch_rows=40_000)  # several batches: the batching is exercised
    ch.insert("engine_samples", engine)
    return ch


@pytest.fixture(scope="session")
def sample_data():
    req = pl.read_parquet(SAMPLES / "requests.parquet")
    eng = pl.read_parquet(SAMPLES / "engine_samples.parquet")
    ch = _loaded(req, eng, "sample")
    yield req.lazy(), eng.lazy(), ch
    ch.close()


@pytest.fixture(scope="session")
def sim100k():
    """A 100k-request simulated fleet day (traceana.simulate, seeded)."""
    from traceana.simulate import DayPlan, fleet_day

    out = fleet_day(DayPlan(requests=100_000), seed=21)
    req, eng = pl.from_arrow(out.requests), pl.from_arrow(out.engine_samples)
    ch = _loaded(req, eng, "sim")
    yield req.lazy(), eng.lazy(), ch
    ch.close()


@pytest.fixture(params=["sample_traces", "sim100k"])
def data(request):
    return request.getfixturevalue("sample_data" if request.param == "sample_traces" else "sim100k")
