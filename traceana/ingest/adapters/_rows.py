"""Shared helpers of the benchmark, gateway, arrival-trace and mapped adapters.

Private (the registry skips modules starting with "_"). Two kinds of helper:

* row-wise: adapters that parse records in Python collect one dict per row and
  call :func:`rows_to_table`, which builds the canonical Arrow types;
* columnar: the large CSV / JSONL traces go through :mod:`_columnar`.

Relative clocks: a source whose times only have meaning as differences (a
Mooncake or BurstGPT offset, a perf_analyzer clock) is placed at
:data:`RELATIVE_ANCHOR`, 2000-01-01T00:00:00Z, a visibly artificial date; every
adapter that does so says it in ``AdapterResult.notes``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceana.ingest.base import QuarantineRow, Source, load_json_line, raw_json
from traceana.schema import REQUESTS
from traceana.units import derive_tpot

#: where relative clocks are anchored (stated in the notes of every adapter that uses it)
RELATIVE_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
RELATIVE_ANCHOR_US = int(RELATIVE_ANCHOR.timestamp()) * 1_000_000
#: epoch ns of 2000-01-01: below it an "epoch-ish" ns clock is taken as relative
PLAUSIBLE_EPOCH_NS = RELATIVE_ANCHOR_US * 1000

_COMPRESSED = (".gz", ".zst", ".zstd", ".bz2", ".xz")


def anchor_note(what: str) -> str:
    return (
        f"{what} has no absolute clock: arrival_time = {RELATIVE_ANCHOR.isoformat()} + the source's offset; "
        "only differences between rows are meaningful (rates, concurrency), not the calendar date"
    )


def stem(src: Source) -> str:
    """The prefix of synthesized request ids: the file's origin without compression suffix and extension.

    The origin is the path relative to the directory that was ingested
    (``run03/llama_individual_responses``), so runs whose files share a name
    and whose ids restart at 1 never collide; a file named directly has its
    file name as origin.
    """
    name = src.origin or Path(src.path).name
    for suf in _COMPRESSED:
        if name.endswith(suf):
            name = name[: -len(suf)]
    return name.rsplit(".", 1)[0] if "." in name else name


def first_line(head: bytes) -> bytes:
    """The first non-blank line of ``head`` (BOM stripped)."""
    for line in head.lstrip(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            return line.strip()
    return b""


_REQ_TYPES = {f.name: f.type for f in REQUESTS}


def rows_to_table(rows: list[dict], source_format: str) -> pa.Table:
    """Row dicts (canonical column names) as an Arrow table with canonical types.

    ``arrival_time``/``scheduled_time`` are integer epoch microseconds; every
    column present in any row becomes a column (nulls elsewhere).
    """
    names: list[str] = ["request_id", "arrival_time", "source_line"]  # present even with no rows
    seen: set[str] = set(names)
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                names.append(k)
    cols = {}
    for name in names:
        typ = _REQ_TYPES[name]
        values = [r.get(name) for r in rows]
        if pa.types.is_timestamp(typ):
            cols[name] = pa.array(values, type=pa.int64()).cast(typ)
        else:
            cols[name] = pa.array(values, type=typ)
    cols["source_format"] = pa.array([source_format] * len(rows), type=pa.string())
    return pa.table(cols)


def add_derived(row: dict, name: str) -> None:
    prev = row.get("derived_fields")
    row["derived_fields"] = f"{prev},{name}" if prev else name


def derive_tpot_row(row: dict) -> None:
    """Fill ``tpot_s`` = (e2e - ttft) / (output_tokens - 1) when the source lacks it (output_tokens > 1)."""
    if row.get("tpot_s") is not None:
        return
    e2e, ttft, out = row.get("e2e_latency_s"), row.get("ttft_s"), row.get("output_tokens")
    if e2e is None or ttft is None or out is None or out <= 1:
        return
    row["tpot_s"] = float(derive_tpot(np.array([e2e]), np.array([ttft]), np.array([out]))[0])
    add_derived(row, "tpot_s")


def json_documents(src: Source) -> tuple[list[tuple[int, object]], list[QuarantineRow]]:
    """The records of a JSON array, a single JSON object or JSON Lines, with their numbers.

    A top-level array or object is numbered by record (1-based); JSON Lines by
    physical line. Unparseable lines are quarantined.
    """
    text = src.data.lstrip(b"\xef\xbb\xbf")
    stripped = text.lstrip()
    depth = src.limits.max_json_depth
    if stripped[:1] == b"[" or (stripped[:1] == b"{" and _single_document(stripped)):
        try:
            doc = load_json_line(stripped, depth + 1)
        except ValueError as exc:
            return [], [
                QuarantineRow(None, None, f"whole file: {exc}", raw=text[:4096].decode("utf-8", "replace"))
            ]
        items = doc if isinstance(doc, list) else [doc]
        return list(enumerate(items, start=1)), []
    out: list[tuple[int, object]] = []
    bad: list[QuarantineRow] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > src.limits.max_line_bytes:
            bad.append(
                QuarantineRow(i, None, f"line longer than {src.limits.max_line_bytes} bytes", raw=None)
            )
            continue
        try:
            out.append((i, load_json_line(line, depth)))
        except ValueError as exc:
            bad.append(QuarantineRow(i, None, str(exc), raw=line[:4096].decode("utf-8", "replace")))
    return out, bad


def _single_document(text: bytes) -> bool:
    """True when ``text`` (starting with '{') is one JSON document, not JSON Lines."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) <= 1:
        return True
    # JSON Lines: every line is a complete object; a pretty-printed document's first line is just "{"
    return lines[0].strip() == b"{" or not lines[0].rstrip().endswith(b"}")


def q_record(line: int | None, field: str | None, reason: str, obj) -> QuarantineRow:
    return QuarantineRow(line, field, reason, raw=raw_json(obj))


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def as_int(value, field: str) -> int | None:
    """An integer count (ints, integral floats, numeric strings); None stays None; else ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field}: not a count: {value!r}")
    if isinstance(value, int):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,30}\s*", value):
        out = int(value)
    else:
        raise ValueError(f"{field}: not an integer: {value!r:.80}")
    if not _INT64_MIN <= out <= _INT64_MAX:
        raise ValueError(f"{field}: out of the int64 range: {value!r:.80}")
    return out


def as_float(value, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field}: not a number: {value!r}")
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            raise ValueError(f"{field}: not a number: {value!r}") from None
    else:
        raise ValueError(f"{field}: not a number: {value!r}")
    if not np.isfinite(f):
        raise ValueError(f"{field}: not a finite number: {value!r}")
    return f


def nonempty(value) -> str | None:
    """A string field where the source writes "" for unknown."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def dumps_compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)
