"""The six-point trace checklist: which fields a trace records, and how completely.

For every checklist item, its *core* fields decide the verdict and its *extra*
fields are reported beside them:

    fill(field) = rows where field is not null / rows it applies to

Latency and token fields (items 2, 3) apply to ok requests only (a failed
request legitimately has no TTFT); ``error_type`` applies to failed requests
only; item 4 reads the engine time series (plus ``requests.instance``, the join
key). Verdict per item: ``complete`` when every core field fills >= 95% of the
rows it applies to, ``missing`` when no core field fills any row, else
``partial``.
"""

from __future__ import annotations

import polars as pl

from traceana.schema import CHECKLIST_ITEMS

COMPLETE_AT = 0.95

#: item -> (table, field, core?, applies_to) ; applies_to: all | ok | failed
ITEMS: dict[int, list[tuple[str, str, bool, str]]] = {
    1: [
        ("requests", "arrival_time", True, "all"),
        ("requests", "queue_time_s", True, "ok"),
        ("requests", "scheduler_decision", True, "all"),
        ("requests", "scheduled_time", False, "ok"),
        ("requests", "num_preemptions", False, "all"),
    ],
    2: [
        ("requests", "prompt_tokens", True, "all"),
        ("requests", "output_tokens", True, "ok"),
        ("requests", "ttft_s", True, "ok"),
        ("requests", "tpot_s", True, "ok"),
        ("requests", "cached_prompt_tokens", False, "all"),
        ("requests", "itl_s", False, "ok"),
    ],
    3: [
        ("requests", "prefill_time_s", True, "ok"),
        ("requests", "decode_time_s", True, "ok"),
    ],
    4: [
        ("engine_samples", "num_running", True, "all"),
        ("engine_samples", "kv_cache_usage", True, "all"),
        ("requests", "instance", True, "all"),
        ("engine_samples", "num_waiting", False, "all"),
        ("engine_samples", "kv_cache_capacity_tokens", False, "all"),
        ("engine_samples", "gpu_utilization", False, "all"),
        ("engine_samples", "gpu_memory_used_bytes", False, "all"),
    ],
    5: [
        ("requests", "model", True, "all"),
        ("requests", "model_version", True, "all"),
        ("requests", "quantization", True, "all"),
        ("requests", "route", True, "all"),
        ("requests", "fallback_from", False, "all"),
    ],
    6: [
        ("requests", "status", True, "all"),
        ("requests", "e2e_latency_s", True, "ok"),
        ("requests", "error_type", True, "failed"),
        ("requests", "finish_reason", False, "ok"),
    ],
}


def _fills(
    lf: pl.LazyFrame | None, table: str, more: pl.LazyFrame | None = None
) -> dict[tuple[str, str], tuple[int, float]]:
    """(field, applies_to) -> (rows it applies to, filled fraction), in one pass.

    ``more``: the same rows with further columns (the store's lazy scan beside an
    in-memory copy of some columns): fields ``lf`` lacks are counted there, in one
    more pass that reads only those columns and status.
    """
    specs = {(f, a) for item in ITEMS.values() for t, f, _, a in item if t == table}
    if lf is None:
        return {k: (0, 0.0) for k in specs}
    cols = set(lf.collect_schema().names())
    if more is not None:
        more_cols = more.collect_schema().names()
        extra = [c for c in more_cols if c not in cols and any(c == f for f, _ in specs)]
        if extra:
            out = _fills(lf, table)
            rest = _fills(more.select([*extra, *(["status"] if "status" in more_cols else [])]), table)
            out.update({k: v for k, v in rest.items() if k[0] in extra})
            return out
    # one scan: the row counts per mask once, each field's filled count under its mask
    if "status" in cols:
        is_ok = (pl.col("status") == "ok").fill_null(True)
        failed = pl.col("status").is_not_null() & ~is_ok
        counts = [pl.len().alias("n|all"), is_ok.sum().alias("n|ok"), failed.sum().alias("n|failed")]
    else:  # without a status every row counts as ok
        is_ok = failed = None
        counts = [pl.len().alias("n|all"), pl.len().alias("n|ok"), pl.lit(0).alias("n|failed")]
    masks = {"all": None, "ok": is_ok, "failed": failed}
    exprs = list(counts)
    for field, applies in sorted(specs):
        if field in cols and not (applies == "failed" and failed is None):
            filled = pl.col(field).is_not_null()
            if masks[applies] is not None:
                filled = filled & masks[applies]
            exprs.append(filled.sum().alias(f"f|{field}|{applies}"))
    row = lf.select(exprs).collect().row(0, named=True)
    out = {}
    for field, applies in specs:
        n = row[f"n|{applies}"] or 0
        f = row.get(f"f|{field}|{applies}") or 0  # absent column: nothing filled
        out[(field, applies)] = (n, f / n if n else 0.0)
    return out


def field_fill(
    requests: pl.LazyFrame | None,
    engine_samples: pl.LazyFrame | None = None,
    requests_more: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """One row per checklist field: item, table, field, core, applies_to, rows, fill_fraction.

    ``requests_more``: the same requests with columns ``requests`` leaves out (read only for those).
    """
    req = _fills(requests, "requests", requests_more)
    eng = _fills(engine_samples, "engine_samples")
    rows = []
    for item, specs in ITEMS.items():
        for table, field, core, applies in specs:
            n, frac = (req if table == "requests" else eng)[(field, applies)]
            rows.append(
                {
                    "item": item,
                    "table": table,
                    "field": field,
                    "core": core,
                    "applies_to": applies,
                    "rows": n,
                    "fill_fraction": frac,
                }
            )
    return pl.DataFrame(rows)


def coverage(
    requests: pl.LazyFrame | None,
    engine_samples: pl.LazyFrame | None = None,
    requests_more: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """One row per checklist item: item, name, fields_present, fields_missing, fill_fraction, verdict.

    ``fill_fraction`` is the smallest fill among the core fields that apply to
    at least one row (an item is only as complete as its least-filled field).
    A core field that applies to no rows at all (``error_type`` in a trace
    without failures) does not count against the item.
    """
    detail = field_fill(requests, engine_samples, requests_more)
    out = []
    for item, name in CHECKLIST_ITEMS.items():
        d = detail.filter(pl.col("item") == item)
        present = d.filter(pl.col("fill_fraction") > 0)["field"].to_list()
        # A core field that applies to no row (error_type without failures) is not missing.
        missing = d.filter((pl.col("fill_fraction") == 0) & pl.col("core") & (pl.col("rows") > 0))[
            "field"
        ].to_list()
        core = d.filter(pl.col("core") & ((pl.col("rows") > 0) | (pl.col("field") != "error_type")))
        fracs = core["fill_fraction"].to_list()
        low = min(fracs) if fracs else 0.0
        if fracs and low >= COMPLETE_AT:
            verdict = "complete"
        elif not fracs or max(fracs) == 0:
            verdict = "missing"
        else:
            verdict = "partial"
        out.append(
            {
                "item": item,
                "name": name,
                "fields_present": present,
                "fields_missing": missing,
                "fill_fraction": low,
                "verdict": verdict,
            }
        )
    return pl.DataFrame(out)


def summary(
    requests: pl.LazyFrame | None,
    engine_samples: pl.LazyFrame | None = None,
    requests_more: pl.LazyFrame | None = None,
) -> list[dict]:
    """The checklist as `traceana check` and the report both show it: :func:`coverage` per item, each with
    its fields' fill (:func:`field_fill`) under ``fields``. One function, so the two never disagree."""
    cov = coverage(requests, engine_samples, requests_more=requests_more)
    detail = field_fill(requests, engine_samples, requests_more=requests_more)
    items = cov.to_dicts()
    for it in items:
        it["fields"] = detail.filter(pl.col("item") == it["item"]).drop("item").to_dicts()
    return items
