"""User-visible percentiles: failed requests as +inf, against numpy with failures as a huge finite sentinel."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from tests.report.report_frames import small_requests
from traceana.metrics import user_visible
from traceana.metrics._stats import PERCENTILES, pct_name

BIG = 1e300  # numpy cannot interpolate towards inf; towards 1e300 it gives >= 1e290 exactly where we give inf


def _reference(values: np.ndarray, failed: int) -> list[float]:
    x = np.concatenate((values, np.full(failed, BIG)))
    return [math.inf if v >= 1e290 else float(v) for v in np.quantile(x, PERCENTILES)]


@pytest.mark.parametrize("n,fail", [(20, 0.0), (500, 0.02), (3000, 0.004), (40, 0.5)])
def test_percentiles_equal_numpy_with_failures_as_inf(n, fail):
    rng = np.random.default_rng(n)
    status = np.where(rng.random(n) < fail, "timeout", "ok")
    ttft = rng.lognormal(-1, 0.5, n)
    lf = pl.DataFrame(
        {"status": status, "ttft_s": ttft, "e2e_latency_s": ttft * 3, "model": rng.choice(["a", "b"], n)}
    ).lazy()
    out = user_visible.percentiles(lf, by=["model"])
    for model in ("a", "b"):
        sel = lf.filter(pl.col("model") == model).collect()
        ok = sel.filter(pl.col("status") == "ok")["ttft_s"].to_numpy()
        row = out.filter((pl.col("model") == model) & (pl.col("metric") == "ttft_s")).row(0, named=True)
        assert (
            row["failed"] == sel.height - len(ok) and row["count"] == sel.height and row["served"] == len(ok)
        )
        ref = _reference(ok, sel.height - len(ok))
        assert [row[pct_name(q)] for q in PERCENTILES] == pytest.approx(ref, rel=1e-12)


def test_small_frame_by_hand():
    # all 10 requests: ttft of the 8 ok ones (0.10 .. 2.50) plus 2 failures as +inf
    out = user_visible.percentiles(small_requests())
    row = out.filter(pl.col("metric") == "ttft_s").row(0, named=True)
    ok = np.sort([0.10, 0.20, 0.30, 0.40, 0.50, 2.50, 0.15, 0.25])
    # h = 9 * 0.5 = 4.5 -> between the 5th (0.30) and 6th (0.40) values
    assert (
        row["p50"] == pytest.approx(0.35) == pytest.approx(np.quantile(np.concatenate((ok, [BIG, BIG])), 0.5))
    )
    # h = 9 * 0.9 = 8.1 -> between the 9th value (inf) and the 10th: inf
    assert row["p90"] == math.inf and (row["count"], row["failed"]) == (10, 2)
