"""The hand-written hybrid reference pass of issue 5 (independent of traceana).

One Arrow read of the 9 needed columns; DuckDB ``quantile_cont`` per model
(percentiles and the order statistics of their confidence intervals); one numpy
``np.sort`` (stable: timsort merges each instance's arrival and departure runs) of a packed int64 key (instance, time in ns, departure/arrival)
plus a cumsum for the in-flight sweep (max, time-weighted p99, busy time); the
time-average in flight as the sum of in-flight durations / span (no sweep);
DuckDB per-minute counts and window sums for the burn rates.

Usage: python benchmarks/impl_reference.py DATA_DIR OUT_JSON
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench_common import (  # noqa: E402
    ALERT_WINDOWS,
    COLUMNS,
    EVERY_S,
    LATENCY_METRICS,
    PCT_NAMES,
    PERCENTILES,
    alert_episodes,
    ci_ranks,
    cost_row,
    load_config,
    store_files,
    worker_main,
)

US = 1_000_000


def read(data_dir: Path) -> pa.Table:
    """One Arrow read; the low-cardinality strings stay dictionary-encoded, one dictionary per column."""
    t = pq.read_table(
        store_files(data_dir), columns=list(COLUMNS), read_dictionary=["model", "instance", "status"]
    )
    return t.unify_dictionaries()


def codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary indices as one int64 array and the dictionary (shared by every chunk after unify)."""
    if not col.num_chunks:
        return np.zeros(0, np.int64), []
    idx = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in col.chunks]).astype(np.int64)
    return idx, col.chunks[0].dictionary.to_pylist()


def latency(con, models: list[str]) -> dict:
    """count, mean, percentiles and their CIs per (model, metric): counts first, then one pass of
    filtered quantile_cont aggregates whose fractions hit the CI order statistics exactly
    (h = (n-1) q = l - 1)."""
    sel = ", ".join(f"count({m}), avg({m})" for m in LATENCY_METRICS)
    rows = con.execute(f"SELECT model, {sel} FROM t WHERE status = 'ok' GROUP BY model").fetchall()
    stats: dict[tuple[str, str], dict] = {}
    for r in rows:
        for i, m in enumerate(LATENCY_METRICS):
            if r[1 + 2 * i]:
                stats[(r[0], m)] = {"count": int(r[1 + 2 * i]), "mean": r[2 + 2 * i]}
    aggs, params, keys = [], {}, []
    for j, (model, m) in enumerate(sorted(stats)):
        n = stats[(model, m)]["count"]
        fracs = list(PERCENTILES)
        ranks = [ci_ranks(n, q) for q in PERCENTILES]
        for rk in ranks:
            if rk is not None:
                fracs += [(rk[0] - 1) / (n - 1) if n > 1 else 0.0, (rk[1] - 1) / (n - 1) if n > 1 else 0.0]
        params[f"m{j}"] = model
        # the fractions are numbers computed here, never user text
        aggs.append(
            f"quantile_cont({m}, [{', '.join(repr(float(f)) for f in fracs)}]) FILTER (WHERE model = $m{j})"
        )
        keys.append((model, m, ranks))
    values = (
        con.execute(f"SELECT {', '.join(aggs)} FROM t WHERE status = 'ok'", params).fetchall()[0]
        if aggs
        else ()
    )
    out = {}
    for (model, m, ranks), vals in zip(keys, values, strict=True):
        row = dict(stats[(model, m)])
        ci = iter(vals[len(PERCENTILES) :])
        for name, v, rk in zip(PCT_NAMES, vals[: len(PERCENTILES)], ranks, strict=True):
            row[name] = v
            row[f"{name}_ci"] = [next(ci), next(ci)] if rk is not None else None
        out[f"{model}|{m}"] = row
    return out


def sweep(gid: np.ndarray, arr_us: np.ndarray, e2e: np.ndarray, n_groups: int) -> dict:
    """Per group: arrivals, e2e sum, in-flight area (s), max and time-weighted p99 in flight, busy s, span T (s)."""
    valid = np.isfinite(e2e) & (e2e >= 0)
    if not valid.all():
        gid, arr_us, e2e = gid[valid], arr_us[valid], e2e[valid]
    start = int(arr_us.min())
    rel = (arr_us - start) / US
    dep = rel + e2e
    span = float(dep.max())
    arrived = rel < span
    arrivals = np.bincount(gid[arrived], minlength=n_groups)
    e2e_sum = np.bincount(gid[arrived], weights=e2e[arrived], minlength=n_groups)
    dep -= rel  # the time each request is in flight; the whole trace clips nothing
    area = np.bincount(gid, weights=dep, minlength=n_groups)
    del rel, dep, arrived

    a_ns = (arr_us - start) * 1000
    d_ns = a_ns + np.rint(e2e * 1e9).astype(np.int64)
    live = d_ns > a_ns
    if not live.all():
        gid, a_ns, d_ns = gid[live], a_ns[live], d_ns[live]
    end_ns = max(int(d_ns.max()), 1)
    tbits = end_ns.bit_length()
    shift = tbits + 1
    # one key per event: instance | time | kind, departures (0) before arrivals (1) at equal
    # times. Laid out instance by instance (rows grouped by a radix pass, arrival order kept),
    # arrivals then departures, so the stable sort (timsort) merges two long runs per instance.
    order = np.argsort(gid.astype(np.uint16), kind="stable")
    g = gid[order]
    counts = np.bincount(g, minlength=n_groups)
    first = np.cumsum(counts) - counts
    pos = np.arange(len(g)) + first[g]
    key = np.empty(2 * len(g), np.int64)
    key[pos] = (g << shift) | (a_ns[order] << 1) | 1
    key[pos + counts[g]] = (g << shift) | (d_ns[order] << 1)
    del order, g, pos, a_ns, d_ns
    key.sort(kind="stable")

    peak = np.zeros(n_groups, np.int64)
    p99 = np.zeros(n_groups, np.int64)
    busy = np.zeros(n_groups)
    for k in range(n_groups):  # the rest per instance: small, cache-friendly temporaries
        a, b = 2 * first[k], 2 * (first[k] + counts[k])
        if a == b:
            continue
        seg = key[a:b]
        level = np.cumsum((seg & 1) * 2 - 1)
        t = (seg >> 1) & ((1 << tbits) - 1)
        peak[k] = level.max()
        hist = np.bincount(level[:-1], weights=np.diff(t), minlength=int(peak[k]) + 1)
        hist = np.rint(hist).astype(np.int64)
        hist[0] += end_ns - int(t[-1] - t[0])  # idle before the first and after the last event
        p99[k] = np.argmax(np.cumsum(hist) * 100 >= 99 * end_ns)
        busy[k] = (end_ns - hist[0]) / 1e9
    return {
        "arrivals": arrivals,
        "e2e_sum": e2e_sum,
        "area": area,
        "max": peak,
        "p99": p99,
        "busy_s": busy,
        "span": span,
    }


def burn(con, slos: list[dict]) -> dict:
    """Per-minute total / bad counts per SLO, the grid filled with zeros, and trailing window sums (DuckDB)."""
    bads, params = [], {}
    for i, s in enumerate(slos):
        if s["metric"]:
            params[f"thr{i}"] = float(s["threshold"])
            cond = f"status = 'ok' AND {s['metric']} <= $thr{i}"  # metric: a column name from our own table
        else:
            cond = "status = 'ok'"
        bads.append(f"count(*) FILTER (WHERE NOT coalesce({cond}, false)) AS bad{i}")
    windows = sorted({k for _, long_s, short_s, _ in ALERT_WINDOWS for k in (long_s, short_s)})
    sums = []
    for w in windows:
        k = w // EVERY_S
        frame = f"OVER (ORDER BY b ROWS BETWEEN {k - 1} PRECEDING AND CURRENT ROW)"
        sums.append(f"sum(total) {frame} AS t_{w}")
        sums += [f"sum(bad{i}) {frame} AS b{i}_{w}" for i in range(len(slos))]
    sql = f"""
        WITH c AS (
            SELECT epoch_us(arrival_time) // {EVERY_S * US} AS b, count(*) AS total, {", ".join(bads)}
            FROM t GROUP BY b),
        g AS (SELECT range AS b FROM range((SELECT min(b) FROM c), (SELECT max(b) FROM c) + 1))
        SELECT g.b, coalesce(total, 0) AS total, {", ".join(f"coalesce(bad{i}, 0) AS bad{i}" for i in range(len(slos)))},
               {", ".join(sums)}
        FROM g LEFT JOIN c USING (b) ORDER BY g.b"""
    cols = con.execute(sql, params).fetchnumpy()
    first = int(cols["b"][0]) * EVERY_S * US
    out = {}
    for i, s in enumerate(slos):
        obj = s["objective"]
        rates = {}
        for w in windows:
            tot, bad = cols[f"t_{w}"].astype(np.float64), cols[f"b{i}_{w}"].astype(np.float64)
            rates[w] = np.where(tot > 0, bad / np.maximum(tot, 1), 0.0) / (1 - obj)
        burns = {(ls, ss): (rates[ls], rates[ss]) for _, ls, ss, _ in ALERT_WINDOWS}
        out[s["name"]] = {
            "first_bucket_us": first,
            "total": cols["total"].astype(np.int64).tolist(),
            "bad": cols[f"bad{i}"].astype(np.int64).tolist(),
            "alerts": alert_episodes(first, burns, obj),
        }
    return out


def run(data_dir: Path, phases) -> dict:
    cfg = load_config(data_dir)
    t = read(data_dir)
    phases.mark("read")
    con = duckdb.connect()
    con.register("t", t)
    models = sorted(set(codes(t.column("model"))[1]))
    result: dict = {"latency": latency(con, models)}
    phases.mark("latency")

    gid, names = codes(t.column("instance"))
    arr_us = t.column("arrival_time").cast(pa.int64()).to_numpy()
    e2e = t.column("e2e_latency_s").to_numpy()
    sw = sweep(gid, arr_us, e2e, len(names))
    conc = {}
    for i, name in enumerate(names):
        if not sw["arrivals"][i] and not sw["area"][i]:
            continue
        lam = sw["arrivals"][i] / sw["span"]
        L = sw["e2e_sum"][i] / sw["span"]
        emp = sw["area"][i] / sw["span"]
        conc[name] = {
            "arrivals": int(sw["arrivals"][i]),
            "arrival_rate_per_s": lam,
            "mean_latency_s": sw["e2e_sum"][i] / sw["arrivals"][i] if sw["arrivals"][i] else None,
            "littles_law_L": L,
            "empirical_mean": emp,
            "empirical_max": int(sw["max"][i]),
            "empirical_p99": int(sw["p99"][i]),
            "ratio": emp / L if L > 0 else None,
        }
    result["concurrency"] = conc
    phases.mark("concurrency")

    result["burn"] = burn(con, cfg["slos"])
    phases.mark("burn")

    prompt = np.nan_to_num(t.column("prompt_tokens").to_numpy().astype(np.float64))
    output = np.nan_to_num(t.column("output_tokens").to_numpy().astype(np.float64))
    n = np.bincount(gid, minlength=len(names))
    p_sum = np.bincount(gid, weights=prompt, minlength=len(names))
    o_sum = np.bincount(gid, weights=output, minlength=len(names))
    deps = {d["instance"]: d for d in cfg["deployments"]}
    result["cost"] = {
        name: cost_row(
            deps[name], cfg["prices"][deps[name]["gpu_type"]], n[i], p_sum[i], o_sum[i], sw["busy_s"][i]
        )
        for i, name in enumerate(names)
        if name in deps
    }
    phases.mark("cost")
    return result


if __name__ == "__main__":
    sys.exit(worker_main(run))
