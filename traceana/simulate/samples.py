"""Write the synthetic fleet day as files: canonical Parquet and, for the samples, real formats.

``write_samples`` is what ``scripts/make_samples.py`` runs to make ``sample_traces/``;
``write_fleet_day`` is the canonical-only variant behind ``traceana simulate --out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traceana.simulate.gateway import write_litellm_log
from traceana.simulate.realformats import write_prometheus_scrapes, write_vllm_otlp
from traceana.simulate.scenario import SAMPLE_SEED, DayPlan, fleet_day
from traceana.simulate.tables import SimOutput
from traceana.simulate.writers import bad_rows_records, write_azure_csv, write_jsonl, write_parquet

REQUESTS_FILE = "requests.parquet"
ENGINE_FILE = "engine_samples.parquet"
OTLP_FILE = "vllm_otlp_spans.jsonl"
PROM_DIR = "prometheus"
LITELLM_FILE = "litellm_spend_log.jsonl"
BAD_FILE = "bad_rows.jsonl"
ARRIVALS_FILE = "arrivals_only_azure.csv"

# windows of the day (s after midnight UTC) that the real-format files cover
OTLP_FROM_S, OTLP_SPANS = 15 * 3600 + 25 * 60, 400
PROM_FROM_S, PROM_TO_S, PROM_EVERY_S = 15 * 3600 + 10 * 60, 16 * 3600 + 10 * 60, 120.0
LITELLM_FROM_S, LITELLM_TO_S = 15 * 3600 + 31 * 60, 15 * 3600 + 31 * 60 + 40
ARRIVALS_FROM_S, ARRIVALS_TO_S = 14 * 3600, 15 * 3600


@dataclass
class SampleSet:
    out: SimOutput
    files: list[Path]
    bad_rows: list[tuple[int, str]]  # (line, what is wrong) in BAD_FILE


def write_fleet_day(
    out_dir: Path, requests: int, seed: int = SAMPLE_SEED, sample_interval_s: float = 10.0
) -> SampleSet:
    """Simulate a fleet day of about ``requests`` requests; write the two canonical Parquet files."""
    out = fleet_day(DayPlan(requests=requests), seed=seed, sample_interval_s=sample_interval_s)
    # source_line is the row number in the file itself: a reader derives it, so the file leaves it out
    req = out.requests.drop_columns(["source_line"])
    files = [
        write_parquet(req, out_dir / REQUESTS_FILE),
        write_parquet(out.engine_samples, out_dir / ENGINE_FILE),
    ]
    return SampleSet(out, files, [])


def _window(table: pa.Table, t0_epoch_s: float, from_s: float, to_s: float) -> pa.Table:
    us = table.column("arrival_time").cast(pa.int64())
    base = round(t0_epoch_s * 1e6)
    keep = pc.and_(pc.greater_equal(us, base + round(from_s * 1e6)), pc.less(us, base + round(to_s * 1e6)))
    return table.filter(keep)


def write_samples(out_dir: Path, seed: int = SAMPLE_SEED) -> SampleSet:
    """Everything in ``sample_traces/`` except ``traceana.toml`` and ``README.md``."""
    plan = DayPlan()
    ss = write_fleet_day(out_dir, plan.requests, seed)
    out, files = ss.out, list(ss.files)
    req, t0 = out.requests, out.t0_epoch_s
    rng = np.random.default_rng([seed, 1])  # a separate stream: file ids never disturb the simulation

    spans = _window(req, t0, OTLP_FROM_S, 86400.0)
    spans = spans.filter(pc.equal(spans.column("status"), "ok")).slice(0, OTLP_SPANS)
    ids = req.column("request_id").to_pylist()
    max_tok = (
        dict(zip(ids, out.arrivals.max_tokens.tolist(), strict=True))
        if out.arrivals.max_tokens is not None
        else {}
    )
    files.append(out_dir / OTLP_FILE)
    write_vllm_otlp(spans, max_tok, out_dir / OTLP_FILE, rng)

    files += write_prometheus_scrapes(
        out_dir / PROM_DIR, req, out.engine.samples, out.fleet, t0, PROM_FROM_S, PROM_TO_S, PROM_EVERY_S
    )

    primary = {m: next(s.name for s in out.fleet.instances if s.model == m) for m in out.fleet.models}
    files.append(out_dir / LITELLM_FILE)
    write_litellm_log(_window(req, t0, LITELLM_FROM_S, LITELLM_TO_S), out_dir / LITELLM_FILE, rng, primary)

    records, bad = bad_rows_records(req, rng)
    files.append(write_jsonl(records, out_dir / BAD_FILE))
    files.append(write_azure_csv(_window(req, t0, ARRIVALS_FROM_S, ARRIVALS_TO_S), out_dir / ARRIVALS_FILE))
    return SampleSet(out, files, bad)
