"""AIPerf ``gpu_telemetry_export.jsonl``: DCGM (or pynvml) GPU samples taken during the run.

Layout (ai-dynamo/aiperf ``aiperf/common/models/telemetry_models.py``, ``TelemetryRecord``):
one JSON object per GPU per scrape, ``{timestamp_ns (epoch ns), dcgm_url, gpu_index,
gpu_uuid, gpu_model_name, hostname?, pci_bus_id?, telemetry_data: {gpu_utilization,
gpu_memory_used, gpu_power_usage, ...}}``. Older AIPerf releases wrote the metrics flat
on the record (no ``telemetry_data``) and also ``total_gpu_memory``; both are read.

Units, as AIPerf writes them (``aiperf/gpu_telemetry/constants.py`` scales DCGM's):

- ``gpu_utilization``: percent 0..100 (DCGM_FI_DEV_GPU_UTIL) -> ``gpu_utilization`` / 100
- ``gpu_memory_used``, ``total_gpu_memory``: GB = DCGM MiB x 1.048576e-3, i.e. 10^9 bytes
  -> ``gpu_memory_used_bytes`` / ``gpu_memory_total_bytes`` = GB x 1e9
- ``gpu_power_usage``: W (DCGM_FI_DEV_POWER_USAGE) -> ``gpu_power_w``
- time = ``timestamp_ns``; instance = ``<hostname or DCGM host:port>/gpu<gpu_index>``, one
  row per GPU per scrape (``gpu_count`` 1, ``gpu_type`` = ``gpu_model_name``)

Other metrics (energy, temperature, clocks, XID errors, custom) have no canonical column.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa

from traceana.ingest.adapters._rows import as_float, as_int, first_line, q_record
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, iter_lines, load_json_line
from traceana.schema import TIMESTAMP

NAME = "aiperf_gpu_telemetry"

#: AIPerf metric -> (canonical column, factor to the canonical unit)
METRICS = {
    "gpu_utilization": ("gpu_utilization", 0.01),
    "gpu_memory_used": ("gpu_memory_used_bytes", 1e9),
    "total_gpu_memory": ("gpu_memory_total_bytes", 1e9),
    "gpu_power_usage": ("gpu_power_w", 1.0),
}


def sniff(head: bytes, path: Path) -> bool:
    line = first_line(head)
    return (
        line.startswith(b"{")
        and b'"dcgm_url"' in line
        and b'"timestamp_ns"' in line
        and (b'"gpu_uuid"' in line or b'"gpu_index"' in line)
    )


def _host(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"http://{url}")
    return parts.netloc or url


def _row(rec: object) -> dict:
    if not isinstance(rec, dict):
        raise ValueError("record: expected one JSON object per GPU sample")
    t = as_int(rec.get("timestamp_ns"), "timestamp_ns")
    if t is None:
        raise ValueError("timestamp_ns: missing")
    index = as_int(rec.get("gpu_index"), "gpu_index")
    if index is None:
        raise ValueError("gpu_index: missing")
    data = rec.get("telemetry_data", rec)
    if not isinstance(data, dict):
        raise ValueError("telemetry_data: expected an object")
    host = rec.get("hostname") or _host(str(rec.get("dcgm_url") or "unknown"))
    row = {
        "time": t // 1000,
        "instance": f"{host}/gpu{index}",
        "gpu_count": 1,
        "gpu_type": rec.get("gpu_model_name") if isinstance(rec.get("gpu_model_name"), str) else None,
    }
    for name, (col, factor) in METRICS.items():
        v = as_float(data.get(name), name)
        if v is not None and v < 0:
            raise ValueError(f"{name}: negative: {v!r}")
        if name == "gpu_utilization" and v is not None and v > 100:
            raise ValueError(f"{name}: over 100 percent: {v!r}")
        row[col] = None if v is None else v * factor
    if all(row[col] is None for col, _ in METRICS.values()):
        raise ValueError("telemetry_data: none of gpu_utilization, gpu_memory_used, gpu_power_usage")
    return row


def read(src: Source) -> AdapterResult:
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    for line, text in iter_lines(src):
        if text is None:
            bad.append(QuarantineRow(line, None, "line too long", None, "engine_samples"))
            continue
        try:
            row = _row(load_json_line(text, src.limits.max_json_depth))
        except ValueError as exc:
            msg = str(exc)
            q = q_record(line, msg.split(":", 1)[0], msg, text[:2000].decode("utf-8", "replace"))
            q.table = "engine_samples"
            bad.append(q)
            continue
        rows.append(row)
    rows.sort(key=lambda r: (r["instance"], r["time"]))
    cols = {
        "time": pa.array([r["time"] for r in rows], type=pa.int64()).cast(TIMESTAMP),
        "instance": pa.array([r["instance"] for r in rows], type=pa.string()),
        "gpu_count": pa.array([r["gpu_count"] for r in rows], type=pa.int64()),
        "gpu_type": pa.array([r["gpu_type"] for r in rows], type=pa.string()),
    }
    for col, _ in METRICS.values():
        cols[col] = pa.array([r[col] for r in rows], type=pa.float64())
    cols["source_format"] = pa.array([NAME] * len(rows), type=pa.string())
    notes = [
        "AIPerf GPU telemetry: one row per GPU per scrape (instance host/gpuN); utilization percent / 100, "
        "memory GB (MiB x 1.048576e-3) x 1e9 = bytes, power W; energy, temperature and clocks not read"
    ]
    return AdapterResult(
        engine_samples=pa.table(cols), quarantine=bad, notes=notes, records_read=len(rows) + len(bad)
    )


ADAPTER = Adapter(
    name=NAME,
    description="AIPerf gpu_telemetry_export.jsonl (DCGM GPU utilization, memory, power per GPU during a run)",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("engine_samples",),
    checklist="4 GPU utilization, memory used/total and power over time, per GPU",
)
