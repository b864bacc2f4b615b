"""Shared Prometheus parsing and the engine-metric mapping (vLLM V0/V1, SGLang, TGI).

Metric names are the engines' own (vLLM ``vllm/v1/metrics/loggers.py`` and V0
``vllm/engine/metrics.py``; SGLang ``python/sglang/srt/metrics/collector.py``; TGI
``router/src``'s metrics). Samples (time, name, labels, value) from either a text
exposition or a range-query JSON are turned into:

- ``engine_samples``: one row per (time, instance). Gauges are copied
  (running, waiting, KV-cache usage fraction, capacity); counters become per-interval
  values between consecutive samples of the same instance:
  ``rate = increase / (t - t_prev)`` with ``increase = v - v_prev``, or ``v`` when the
  counter dropped (a reset: the process restarted from 0). The first sample of an
  instance has no rate (null).
- ``engine_histograms``: one row per (time, instance, metric, bucket) of the latency
  histograms (cumulative counts, with the histogram's _sum and _count).

Instance = the ``instance`` label (else the file stem), plus ``:<engine>`` when an
``engine`` (vLLM data-parallel index) or ``dp_rank`` (SGLang) label is not "0" or an
instance has several engines. Model = the ``model_name`` label.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from traceana.ingest.base import QuarantineRow
from traceana.schema import TIMESTAMP

# gauge name -> (canonical field, preference: lower wins when several names give one field)
#: the bucket bounds of vLLM's vllm:time_to_first_token_seconds histogram (seconds)
VLLM_TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)

GAUGES = {
    "vllm:num_requests_running": ("num_running", 0),
    "sglang:num_running_reqs": ("num_running", 0),
    "tgi_batch_current_size": ("num_running", 0),
    "vllm:num_requests_waiting": ("num_waiting", 0),
    "sglang:num_queue_reqs": ("num_waiting", 0),
    "tgi_queue_size": ("num_waiting", 0),
    "vllm:kv_cache_usage_perc": ("kv_cache_usage", 0),  # a 0..1 fraction despite "perc"
    "vllm:gpu_cache_usage_perc": ("kv_cache_usage", 1),  # V0 and the deprecated V1 alias
    "sglang:token_usage": ("kv_cache_usage", 0),
    "sglang:max_total_num_tokens": ("kv_cache_capacity_tokens", 0),
    "tgi_batch_max_total_tokens": ("kv_cache_capacity_tokens", 1),
    "sglang:gen_throughput": ("gen_throughput", 0),
    "sglang:num_used_tokens": ("num_used_tokens", 0),
}
# counter name -> per-interval field
COUNTERS = {
    "vllm:prompt_tokens_total": "prompt_tokens_per_s",
    "sglang:prompt_tokens_total": "prompt_tokens_per_s",
    "vllm:generation_tokens_total": "generation_tokens_per_s",
    "sglang:generation_tokens_total": "generation_tokens_per_s",
    "vllm:num_preemptions_total": "num_preempted",
}
CACHE_INFO = "vllm:cache_config_info"
# histogram base name -> (canonical metric, preference among names giving one metric)
HISTOGRAMS = {
    "vllm:time_to_first_token_seconds": ("ttft_s", 0),
    "sglang:time_to_first_token_seconds": ("ttft_s", 0),
    "vllm:e2e_request_latency_seconds": ("e2e_latency_s", 0),
    "sglang:e2e_request_latency_seconds": ("e2e_latency_s", 0),
    "tgi_request_duration": ("e2e_latency_s", 0),
    "vllm:request_queue_time_seconds": ("queue_time_s", 0),
    "sglang:queue_time_seconds": ("queue_time_s", 0),
    "tgi_request_queue_duration": ("queue_time_s", 0),
    "vllm:request_prefill_time_seconds": ("prefill_time_s", 0),
    "vllm:request_decode_time_seconds": ("decode_time_s", 0),
    "vllm:inter_token_latency_seconds": ("itl_s", 0),
    "sglang:inter_token_latency_seconds": ("itl_s", 0),
    # the older name of the same per-token gap histogram (deprecated in vLLM 0.10.2/0.11)
    "vllm:time_per_output_token_seconds": ("itl_s", 1),
    "sglang:time_per_output_token_seconds": ("itl_s", 1),
    "vllm:request_time_per_output_token_seconds": ("tpot_s", 0),
    "sglang:request_time_per_output_token_seconds": ("tpot_s", 0),
}
SAMPLE_FIELDS_F = (
    "num_running",
    "num_waiting",
    "num_preempted",
    "kv_cache_usage",
    "prompt_tokens_per_s",
    "generation_tokens_per_s",
)
ENGINE_LABELS = ("engine", "dp_rank")
#: largest |sample time| accepted, epoch s (~ year 33658): keeps times inside int64 microseconds
MAX_EPOCH_S = 1e12


def metric_of_interest(name: str) -> bool:
    if name in GAUGES or name in COUNTERS or name == CACHE_INFO:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return True
    return False


# --- text exposition ------------------------------------------------------------------------

_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?[ \t]+(\S+)(?:[ \t]+(-?[0-9]+))?[ \t]*$'
)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_SCRAPE = re.compile(r"^#\s*scrape\s+(\S+)\s*$")
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_labels(text: str) -> dict[str, str]:
    """``{a="x",b="y"}`` as a dict; raises ValueError for anything else."""
    inner = text[1:-1]
    out: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        if not inner[pos:].strip():
            break
        m = _LABEL.match(inner, pos)
        if not m:
            raise ValueError(f"bad label set {text[:120]!r}")
        out[m.group(1)] = re.sub(r'\\[\\"n]', lambda x: _UNESCAPE[x.group(0)], m.group(2))
        pos = m.end()
    return out


def parse_scrape_time(text: str) -> float:
    """A ``# scrape`` separator's time: Unix seconds, or RFC 3339 (naive = UTC)."""
    from traceana.units import parse_datetime

    try:
        return float(text)
    except ValueError:
        return parse_datetime(text).timestamp()


@dataclass
class Samples:
    """Parsed samples, column-wise: time (epoch s), metric name, labels, value, source line."""

    time: list[float] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)

    def add(self, t: float, name: str, labels: dict, value: float, line: int) -> None:
        self.time.append(t)
        self.name.append(name)
        self.labels.append(labels)
        self.value.append(value)
        self.line.append(line)


def parse_text(
    data: bytes, default_time: float | None, max_line: int
) -> tuple[Samples, list[QuarantineRow], int, bool]:
    """Parse a text exposition with optional ``# scrape <time>`` separators.

    Returns (samples of interest, quarantine, number of scrape separators, whether any
    sample had no time other than ``default_time``).
    """
    out = Samples()
    bad: list[QuarantineRow] = []
    current = None
    separators = 0
    used_default = False
    for lineno, raw in enumerate(data.splitlines(), start=1):
        if len(raw) > max_line:
            bad.append(
                QuarantineRow(lineno, None, f"line longer than {max_line} bytes", None, "engine_samples")
            )
            continue
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _SCRAPE.match(line)
            if m:
                try:
                    current = parse_scrape_time(m.group(1))
                    separators += 1
                except ValueError:
                    bad.append(
                        QuarantineRow(
                            lineno, "scrape", f"bad scrape time {m.group(1)!r}", line, "engine_samples"
                        )
                    )
            continue
        m = _SAMPLE.match(line)
        if not m:
            bad.append(
                QuarantineRow(lineno, None, "not a Prometheus sample line", line[:4096], "engine_samples")
            )
            continue
        name = m.group(1)
        if not metric_of_interest(name):
            continue
        try:
            labels = parse_labels(m.group(2)) if m.group(2) else {}
            value = float(m.group(3))
        except ValueError as exc:
            bad.append(QuarantineRow(lineno, name, f"bad sample: {exc}", line[:4096], "engine_samples"))
            continue
        if m.group(4) is not None:
            t = int(m.group(4)) / 1000.0  # exposition timestamps are ms since the epoch
        elif current is not None:
            t = current
        else:
            t = default_time
            used_default = True
        if t is None:
            bad.append(
                QuarantineRow(
                    lineno,
                    "time",
                    "sample has no time (no '# scrape' line, no timestamp)",
                    line[:4096],
                    "engine_samples",
                )
            )
            continue
        out.add(t, name, labels, value, lineno)
    return out, bad, separators, used_default


# --- mapping onto engine_samples / engine_histograms ---------------------------------------


def _le(text: str | None) -> float:
    if text is None:
        raise ValueError("bucket without an 'le' label")
    return math.inf if text in ("+Inf", "Inf", "+inf", "inf") else float(text)


def _capacity(labels: dict) -> int | None:
    """vLLM cache_config_info: kv_cache_size_tokens (newer), else num_gpu_blocks * block_size.

    None when absent, not an integer, or outside 0 .. 2^63-1 (not a token count).
    """
    try:
        cap = int(labels["kv_cache_size_tokens"])
    except (KeyError, ValueError):
        try:
            cap = int(labels["num_gpu_blocks"]) * int(labels["block_size"])
        except (KeyError, ValueError):
            return None
    return cap if 0 <= cap < 1 << 63 else None


def _instance_names(keys: set[tuple[str, str | None]]) -> dict[tuple[str, str | None], str]:
    engines: dict[str, set[str]] = defaultdict(set)
    for base, eng in keys:
        if eng is not None:
            engines[base].add(eng)
    return {
        (base, eng): base if eng is None or (eng == "0" and len(engines[base]) == 1) else f"{base}:{eng}"
        for base, eng in keys
    }


def _ts(values: list[float]) -> pa.Array:
    return pa.array([round(v * 1e6) for v in values], type=pa.int64()).cast(TIMESTAMP)


def to_tables(
    s: Samples, default_instance: str, source_format: str
) -> tuple[pa.Table, pa.Table, list[str], list[QuarantineRow]]:
    """Map parsed samples onto (engine_samples, engine_histograms, notes, quarantine)."""
    keys = [
        (lab.get("instance") or default_instance, next((lab[k] for k in ENGINE_LABELS if k in lab), None))
        for lab in s.labels
    ]
    names = _instance_names(set(keys))
    rows: dict[tuple[float, str], dict] = {}
    counters: dict[tuple[float, str, str], float] = defaultdict(float)
    hists: dict[tuple[float, str, str], dict] = {}
    bad: list[QuarantineRow] = []
    nan = 0
    for t, name, lab, v, line, key in zip(s.time, s.name, s.labels, s.value, s.line, keys, strict=True):
        if not (math.isfinite(t) and abs(t) <= MAX_EPOCH_S):
            bad.append(
                QuarantineRow(
                    line,
                    "time",
                    f"sample time is not an epoch time in seconds: {t!r}",
                    f"{name}{lab} {v}",
                    "engine_samples",
                )
            )
            continue
        if math.isnan(v):
            nan += 1  # Prometheus' "no value" (e.g. a ratio over an idle interval): not a measurement
            continue
        inst = names[key]
        row = rows.setdefault((t, inst), {"model": None, "_pref": {}})
        if row["model"] is None and lab.get("model_name"):
            row["model"] = lab["model_name"]
        if name in GAUGES:
            fld, pref = GAUGES[name]
            if fld == "kv_cache_capacity_tokens" and not 0 <= v < 2.0**63:
                bad.append(
                    QuarantineRow(
                        line, fld, f"{name} is not a token count: {v!r}", f"{name}{lab} {v}", "engine_samples"
                    )
                )
                continue
            if pref < row["_pref"].get(fld, 99):
                row[fld], row["_pref"][fld] = v, pref
        elif name in COUNTERS:
            counters[(t, inst, COUNTERS[name])] += v
        elif name == CACHE_INFO:
            cap = _capacity(lab)
            if cap is not None and row["_pref"].get("kv_cache_capacity_tokens", 99) > -1:
                row["kv_cache_capacity_tokens"], row["_pref"]["kv_cache_capacity_tokens"] = cap, -1
        else:
            base, suffix = name.rsplit("_", 1)
            metric, pref = HISTOGRAMS[base]
            h = hists.setdefault(
                (t, inst, base),
                {
                    "metric": metric,
                    "pref": pref,
                    "model": None,
                    "buckets": defaultdict(float),
                    "sum": None,
                    "count": None,
                },
            )
            h["model"] = h["model"] or lab.get("model_name")
            if suffix == "bucket":
                try:
                    h["buckets"][_le(lab.get("le"))] += v
                except ValueError as exc:
                    bad.append(QuarantineRow(line, "le", str(exc), f"{name}{lab} {v}", "engine_histograms"))
            else:
                h[suffix] = (h[suffix] or 0.0) + v
    notes = _counter_rates(rows, counters)
    if nan:
        notes.append(f"{nan} NaN samples (no value) were left out")
    samples = _samples_table(rows, source_format, notes)
    return samples, _hist_table(hists, rows, source_format, notes), notes, bad


def _counter_rates(rows: dict, counters: dict) -> list[str]:
    """Per-interval increases of the counters, with reset handling, into ``rows``."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for (t, inst, fld), v in counters.items():
        series[(inst, fld)].append((t, v))
    resets = 0
    for (inst, fld), points in series.items():
        points.sort()
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
            increase = v1 - v0 if v1 >= v0 else v1  # a drop is a restart from zero
            resets += v1 < v0
            dt = t1 - t0
            if fld == "num_preempted":
                rows[(t1, inst)][fld] = increase
            elif dt > 0:
                rows[(t1, inst)][fld] = increase / dt
    return (
        [f"{resets} counter resets (a value lower than the previous one) were treated as restarts"]
        if resets
        else []
    )


def _samples_table(rows: dict, source_format: str, notes: list[str]) -> pa.Table:
    filled = ("kv_cache_capacity_tokens", "gen_throughput", "num_used_tokens", *SAMPLE_FIELDS_F)
    # (time, instance) pairs seen only through histograms have no engine sample
    ordered = sorted(
        ((k, r) for k, r in rows.items() if any(r.get(f) is not None for f in filled)),
        key=lambda kv: (kv[0][1], kv[0][0]),
    )
    derived_capacity = 0
    for _, r in ordered:
        # SGLang: tokens/s gauge when no counter rate; capacity = used / usage when not exposed
        if r.get("generation_tokens_per_s") is None and r.get("gen_throughput") is not None:
            r["generation_tokens_per_s"] = r["gen_throughput"]
        if r.get("kv_cache_capacity_tokens") is None and r.get("num_used_tokens") and r.get("kv_cache_usage"):
            cap = r["num_used_tokens"] / r["kv_cache_usage"]
            if math.isfinite(cap) and 0 <= cap < 2.0**63:  # else not a capacity: left unknown
                r["kv_cache_capacity_tokens"] = round(cap)
                derived_capacity += 1
    if derived_capacity:
        notes.append(
            f"kv_cache_capacity_tokens derived as sglang:num_used_tokens / sglang:token_usage "
            f"in {derived_capacity} samples (no max_total_num_tokens exposed)"
        )
    cols = {
        "time": _ts([k[0] for k, _ in ordered]),
        "instance": pa.array([k[1] for k, _ in ordered], type=pa.string()),
        "model": pa.array([r["model"] for _, r in ordered], type=pa.string()),
    }
    for f in SAMPLE_FIELDS_F:
        cols[f] = pa.array([r.get(f) for _, r in ordered], type=pa.float64())
    cap = [r.get("kv_cache_capacity_tokens") for _, r in ordered]
    cols["kv_cache_capacity_tokens"] = pa.array([None if c is None else int(c) for c in cap], type=pa.int64())
    cols["source_format"] = pa.array([source_format] * len(ordered), type=pa.string())
    return pa.table(cols)


def _hist_table(hists: dict, rows: dict, source_format: str, notes: list[str]) -> pa.Table:
    best: dict[tuple[float, str, str], int] = {}
    for (t, inst, _), h in hists.items():
        k = (t, inst, h["metric"])
        best[k] = min(best.get(k, 99), h["pref"])
    cols: dict[str, list] = defaultdict(list)
    no_buckets = 0
    for (t, inst, base), h in sorted(hists.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        if h["pref"] != best[(t, inst, h["metric"])]:
            continue  # the deprecated name of a histogram also exposed under its new name
        if not h["buckets"]:
            no_buckets += 1
            continue
        model = h["model"] or rows.get((t, inst), {}).get("model")
        for le in sorted(h["buckets"]):
            cols["time"].append(t)
            cols["instance"].append(inst)
            cols["model"].append(model)
            cols["metric"].append(h["metric"])
            cols["source_metric"].append(base)
            cols["le"].append(le)
            cols["cumulative_count"].append(h["buckets"][le])
            cols["sum"].append(h["sum"])
            cols["count"].append(h["count"])
    if no_buckets:
        notes.append(f"{no_buckets} histogram snapshots had _sum/_count but no buckets and were skipped")
    return pa.table(
        {
            "time": _ts(cols["time"]),
            "instance": pa.array(cols["instance"], type=pa.string()),
            "model": pa.array(cols["model"], type=pa.string()),
            "metric": pa.array(cols["metric"], type=pa.string()),
            "source_metric": pa.array(cols["source_metric"], type=pa.string()),
            "le": pa.array(cols["le"], type=pa.float64()),
            "cumulative_count": pa.array(cols["cumulative_count"], type=pa.float64()),
            "sum": pa.array(cols["sum"], type=pa.float64()),
            "count": pa.array(cols["count"], type=pa.float64()),
            "source_format": pa.array([source_format] * len(cols["time"]), type=pa.string()),
        }
    )


def adapter_result(engine: pa.Table, hists: pa.Table, notes: list[str], quarantine: list[QuarantineRow]):
    """The AdapterResult of a Prometheus source: each sample row and each bad sample is a record."""
    from traceana.ingest.base import AdapterResult

    return AdapterResult(
        engine_samples=engine,
        engine_histograms=hists,
        quarantine=quarantine,
        notes=notes,
        records_read=engine.num_rows + hists.num_rows + len(quarantine),
    )
