"""Small readers that turn a real arrival trace into :class:`Arrivals` for replay.

These read only what the simulator needs (arrival time and token counts); the
full ingest adapters live in ``traceana.ingest`` and are not used here.

Formats:
  azure     Azure LLM inference CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens``
            (wall-clock datetimes, 7 fractional digits)
  mooncake  Mooncake JSONL: ``timestamp`` (ms, relative), ``input_length``, ``output_length``
  burstgpt  BurstGPT CSV: ``Timestamp`` (s, relative), ``Model``, ``Request tokens``,
            ``Response tokens``, ``Total tokens``, ``Log Type``
  canonical traceana requests (Parquet, CSV or JSONL): ``arrival_time``,
            ``prompt_tokens``, ``output_tokens`` (and ``model`` if present)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traceana.errors import TraceParseError
from traceana.simulate.arrivals import Arrivals

FORMATS = ("azure", "mooncake", "burstgpt", "canonical")
#: where relative-time traces (Mooncake, BurstGPT) are anchored: 2024-01-01T00:00:00Z
DEFAULT_ANCHOR_EPOCH_S = 1704067200.0


def detect_format(path: Path) -> str:
    """Guess the replay format from the file's first line (and its suffix for Parquet)."""
    p = Path(path)
    if p.suffix == ".parquet":
        return "canonical"
    with p.open("rb") as fh:
        head = fh.readline(65536).decode("utf-8", "replace").strip()
    if head.startswith("TIMESTAMP") and "ContextTokens" in head:
        return "azure"
    if head.startswith("Timestamp") and "Request tokens" in head:
        return "burstgpt"
    if head.startswith("{") and '"input_length"' in head:
        return "mooncake"
    if "arrival_time" in head:
        return "canonical"
    raise TraceParseError(
        str(p), f"cannot tell the arrival-trace format. Hint: pass one of {list(FORMATS)}", line=1
    )


def read_arrivals(path: str | Path, fmt: str | None = None, anchor_epoch_s: float | None = None) -> Arrivals:
    """Read an arrival trace for replay. ``fmt`` is one of FORMATS (None: detect)."""
    p = Path(path)
    if not p.is_file():
        raise TraceParseError(str(p), "no such file")
    fmt = fmt or detect_format(p)
    readers = {"azure": _azure, "mooncake": _mooncake, "burstgpt": _burstgpt, "canonical": _canonical}
    if fmt not in readers:
        raise TraceParseError(str(p), f"unknown replay format '{fmt}'. Hint: one of {list(FORMATS)}")
    try:
        return readers[fmt](p, DEFAULT_ANCHOR_EPOCH_S if anchor_epoch_s is None else anchor_epoch_s)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, TraceParseError):
            raise
        raise TraceParseError(str(p), f"not a valid {fmt} arrival trace: {exc}") from None


def _finish(t_abs_s: np.ndarray, prompt, output, path: Path, fmt: str, model=None, models=()) -> Arrivals:
    if len(t_abs_s) == 0:
        raise TraceParseError(str(path), f"no requests in this {fmt} trace")
    prompt = np.maximum(np.asarray(prompt, dtype=np.int64), 1)
    output = np.maximum(np.asarray(output, dtype=np.int64), 1)  # a replayed request generates >= 1 token
    t0 = float(np.floor(np.min(t_abs_s) * 1e6) / 1e6)
    return Arrivals.sorted(
        np.asarray(t_abs_s, dtype=np.float64) - t0,
        prompt,
        output,
        t0_epoch_s=t0,
        model=model,
        models=tuple(models),
        source=f"{fmt}:{path.name}",
    )


def _read_csv_columns(path: Path, columns: list[str]) -> dict[str, object]:
    import pyarrow.csv as pacsv

    opts = pacsv.ConvertOptions(include_columns=columns, column_types={c: "string" for c in columns})
    table = pacsv.read_csv(path, convert_options=opts)
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in columns}


def _azure(path: Path, anchor: float) -> Arrivals:
    cols = _read_csv_columns(path, ["TIMESTAMP", "ContextTokens", "GeneratedTokens"])
    ts = np.array(cols["TIMESTAMP"], dtype="datetime64[ns]").astype(np.int64) / 1e9
    return _finish(
        ts, cols["ContextTokens"].astype(np.int64), cols["GeneratedTokens"].astype(np.int64), path, "azure"
    )


def _burstgpt(path: Path, anchor: float) -> Arrivals:
    names = ["Timestamp", "Model", "Request tokens", "Response tokens"]
    cols = _read_csv_columns(path, names)
    models, idx = np.unique(cols["Model"].astype(str), return_inverse=True)
    t = cols["Timestamp"].astype(np.float64) + anchor
    return _finish(
        t,
        cols["Request tokens"].astype(np.int64),
        cols["Response tokens"].astype(np.int64),
        path,
        "burstgpt",
        model=idx,
        models=[str(m) for m in models],
    )


def _mooncake(path: Path, anchor: float) -> Arrivals:
    import polars as pl

    df = pl.read_ndjson(
        path, schema={"timestamp": pl.Float64, "input_length": pl.Int64, "output_length": pl.Int64}
    )
    t = df["timestamp"].to_numpy() / 1000.0 + anchor
    return _finish(t, df["input_length"].to_numpy(), df["output_length"].to_numpy(), path, "mooncake")


def _canonical(path: Path, anchor: float) -> Arrivals:
    import polars as pl

    if path.suffix == ".parquet":
        lf = pl.scan_parquet(path)
    elif path.suffix in (".jsonl", ".ndjson"):
        lf = pl.scan_ndjson(path, infer_schema_length=None)
    else:
        lf = pl.scan_csv(path, try_parse_dates=True)
    names = lf.collect_schema().names()
    want = ["arrival_time", "prompt_tokens", "output_tokens"] + (["model"] if "model" in names else [])
    df = lf.select(want).drop_nulls(["arrival_time", "prompt_tokens", "output_tokens"]).collect()
    at = df["arrival_time"]
    if at.dtype == pl.String:
        at = at.str.to_datetime(time_zone="UTC")
    t = at.dt.epoch("us").to_numpy() / 1e6
    model, models = None, ()
    if "model" in df.columns:
        uniq, model = np.unique(df["model"].fill_null("").to_numpy().astype(str), return_inverse=True)
        models = [str(m) for m in uniq]
    return _finish(
        t,
        df["prompt_tokens"].to_numpy(),
        df["output_tokens"].to_numpy(),
        path,
        "canonical",
        model=model,
        models=models,
    )
