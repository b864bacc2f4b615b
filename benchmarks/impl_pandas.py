"""The core report as a straightforward pandas script (what one would write without traceana).

Usage: python benchmarks/impl_pandas.py DATA_DIR OUT_JSON
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
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


def latency(df: pd.DataFrame) -> dict:
    ok = df[df["status"] == "ok"]
    out = {}
    for m in LATENCY_METRICS:
        for model, s in ok.groupby("model")[m]:
            v = np.sort(s.dropna().to_numpy())
            if not len(v):
                continue
            row = {"count": len(v), "mean": float(v.mean())}
            qs = np.quantile(v, PERCENTILES)
            for name, q, val in zip(PCT_NAMES, PERCENTILES, qs, strict=True):
                row[name] = float(val)
                rk = ci_ranks(len(v), q)
                row[f"{name}_ci"] = [float(v[rk[0] - 1]), float(v[rk[1] - 1])] if rk else None
            out[f"{model}|{m}"] = row
    return out


def concurrency(df: pd.DataFrame) -> tuple[dict, pd.Series]:
    """Little's law and the in-flight sweep per instance; also busy seconds per instance."""
    c = df[np.isfinite(df["e2e_latency_s"]) & (df["e2e_latency_s"] >= 0)]
    start = c["arrival_time"].min()
    a_us = (c["arrival_time"] - start) // pd.Timedelta(microseconds=1)
    rel = a_us / 1e6
    dep = rel + c["e2e_latency_s"]
    span = dep.max()
    per = pd.DataFrame({"instance": c["instance"], "e2e": c["e2e_latency_s"], "area": dep - rel})
    per = (
        per[rel < span]
        .groupby("instance")
        .agg(arrivals=("e2e", "size"), e2e_sum=("e2e", "sum"), area=("area", "sum"))
    )

    a_ns = a_us * 1000
    d_ns = a_ns + np.rint(c["e2e_latency_s"] * 1e9).astype(np.int64)
    live = d_ns > a_ns
    ev = pd.concat(
        [
            pd.DataFrame({"instance": c["instance"][live], "t": d_ns[live], "delta": -1}),
            pd.DataFrame({"instance": c["instance"][live], "t": a_ns[live], "delta": 1}),
        ],
        ignore_index=True,
    )
    ev = ev.sort_values(["instance", "t", "delta"], kind="stable", ignore_index=True)
    ev["level"] = ev.groupby("instance")["delta"].cumsum()
    ev["dt"] = ev.groupby("instance")["t"].shift(-1) - ev["t"]
    end_ns = max(int(d_ns.max()), 1)
    at_level = ev.dropna(subset=["dt"]).groupby(["instance", "level"])["dt"].sum()
    first_last = ev.groupby("instance")["t"].agg(["min", "max"])
    peak = ev.groupby("instance")["level"].max()
    out, busy = {}, {}
    for inst, row in per.iterrows():
        levels = (
            at_level.loc[inst].astype(np.int64)
            if inst in at_level.index.get_level_values(0)
            else pd.Series(dtype=np.int64)
        )
        idle = end_ns - int(first_last.loc[inst, "max"] - first_last.loc[inst, "min"])
        levels = levels.add(pd.Series({0: idle}), fill_value=0).sort_index()
        cum = levels.cumsum()
        p99 = int(cum.index[np.argmax(cum.to_numpy() * 100 >= 99 * end_ns)])
        L = row["e2e_sum"] / span
        emp = row["area"] / span
        out[inst] = {
            "arrivals": int(row["arrivals"]),
            "arrival_rate_per_s": row["arrivals"] / span,
            "mean_latency_s": row["e2e_sum"] / row["arrivals"],
            "littles_law_L": L,
            "empirical_mean": emp,
            "empirical_max": int(peak.loc[inst]),
            "empirical_p99": p99,
            "ratio": emp / L if L > 0 else None,
        }
        busy[inst] = (end_ns - int(levels.loc[0])) / 1e9
    return out, pd.Series(busy)


def burn(df: pd.DataFrame, slos: list[dict]) -> dict:
    bucket = df["arrival_time"].dt.floor(f"{EVERY_S}s")
    out = {}
    for s in slos:
        good = df["status"] == "ok"
        if s["metric"]:
            good &= df[s["metric"]] <= s["threshold"]  # NaN compares False: bad
        counts = pd.DataFrame({"b": bucket, "bad": ~good}).groupby("b")["bad"].agg(total="size", bad="sum")
        grid = pd.date_range(counts.index.min(), counts.index.max(), freq=f"{EVERY_S}s")
        counts = counts.reindex(grid, fill_value=0)
        rates = {}
        for _, long_s, short_s, _ in ALERT_WINDOWS:
            for w in (long_s, short_s):
                roll = counts.rolling(w // EVERY_S, min_periods=1).sum()
                rates[w] = (roll["bad"] / roll["total"]).where(roll["total"] > 0, 0.0).to_numpy() / (
                    1 - s["objective"]
                )
        burns = {(ls, ss): (rates[ls], rates[ss]) for _, ls, ss, _ in ALERT_WINDOWS}
        first = int(grid[0].value // 1000)
        out[s["name"]] = {
            "first_bucket_us": first,
            "total": counts["total"].astype(int).tolist(),
            "bad": counts["bad"].astype(int).tolist(),
            "alerts": alert_episodes(first, burns, s["objective"]),
        }
    return out


def run(data_dir: Path, phases) -> dict:
    cfg = load_config(data_dir)
    df = pd.concat(
        [pd.read_parquet(f, columns=list(COLUMNS)) for f in store_files(data_dir)], ignore_index=True
    )
    phases.mark("read")
    result: dict = {"latency": latency(df)}
    phases.mark("latency")
    result["concurrency"], busy = concurrency(df)
    phases.mark("concurrency")
    result["burn"] = burn(df, cfg["slos"])
    phases.mark("burn")
    served = df.groupby("instance").agg(
        n=("status", "size"), prompt=("prompt_tokens", "sum"), output=("output_tokens", "sum")
    )
    deps = {d["instance"]: d for d in cfg["deployments"]}
    result["cost"] = {
        inst: cost_row(
            deps[inst],
            cfg["prices"][deps[inst]["gpu_type"]],
            r["n"],
            r["prompt"],
            r["output"],
            busy.get(inst, 0.0),
        )
        for inst, r in served.iterrows()
        if inst in deps
    }
    phases.mark("cost")
    return result


if __name__ == "__main__":
    sys.exit(worker_main(run))
