"""Shared OTLP/JSON trace parsing for the span adapters (vllm_otlp, otel_genai).

Layout (opentelemetry-proto ``examples/trace.json``, the proto3 JSON mapping):
``resourceSpans[].resource.attributes[]`` -> ``scopeSpans[]`` (older SDKs:
``instrumentationLibrarySpans[]``) -> ``spans[]{traceId, spanId, name, kind,
startTimeUnixNano, endTimeUnixNano, attributes[], events[], status{code, message}}``.
Attributes are ``{"key": k, "value": {"stringValue" | "intValue" | "doubleValue" |
"boolValue" | "arrayValue": {"values": [...]}}}``. int64 fields (``intValue``,
``*UnixNano``) are usually decimal *strings* (protojson); both are accepted.

The OpenTelemetry Collector's ``file`` exporter writes one ``ExportTraceServiceRequest``
per line (JSON Lines); a single pretty-printed document is accepted too. ``record`` is
the line number of the document in JSON Lines, or the 1-based span ordinal in a single
multi-line document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from traceana.errors import TraceParseError
from traceana.ingest.base import QuarantineRow, Source, iter_lines, load_json_line, raw_json
from traceana.schema import TIMESTAMP

#: OTLP span status codes (``status.code``): 0 unset, 1 ok, 2 error; enum names accepted too
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
STATUS_ERROR = 2
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class FieldError(ValueError):
    """A span field or attribute that has the wrong type."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass
class Span:
    record: int
    name: str | None
    trace_id: str | None
    span_id: str | None
    start_ns: int | None
    end_ns: int | None
    attrs: dict
    resource: dict
    status_code: int
    status_message: str | None
    raw: dict


def typed_columns(rows: dict[str, list], floats=(), ints=(), strings=()) -> dict[str, pa.Array]:
    """Arrow columns of the row lists, float64 / int64 / string by the names given."""
    cols = {k: pa.array(rows[k], type=pa.float64()) for k in floats}
    cols.update({k: pa.array(rows[k], type=pa.int64()) for k in ints})
    cols.update({k: pa.array(rows[k], type=pa.string()) for k in strings})
    return cols


def sniff_otlp(head: bytes) -> bool:
    """OTLP/JSON trace export: a JSON object with ``resourceSpans``."""
    text = head.lstrip()
    return text[:1] in (b"{", b"[") and b'"resourceSpans"' in head


def any_value(value: dict, key: str):
    """An OTLP ``AnyValue`` as a Python value (int64 strings become int)."""
    if not isinstance(value, dict):
        raise FieldError(key, f"attribute value is not an object: {value!r:.80}")
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        v = value["intValue"]
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise FieldError(key, f"intValue is not an integer: {v!r:.80}")
        try:
            return int(v)
        except ValueError:
            raise FieldError(key, f"intValue is not an integer: {v!r:.80}") from None
    if "doubleValue" in value:
        v = value["doubleValue"]
        # protojson writes NaN/Infinity as strings
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise FieldError(key, f"doubleValue is not a number: {v!r:.80}")
        try:
            return float(v)
        except ValueError:
            raise FieldError(key, f"doubleValue is not a number: {v!r:.80}") from None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(x, key) for x in _values(value["arrayValue"], key, "arrayValue")]
    if "kvlistValue" in value:
        return attributes(_values(value["kvlistValue"], key, "kvlistValue"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _values(container, key: str, kind: str) -> list:
    """The ``values`` list of an ``arrayValue`` / ``kvlistValue`` (absent or null = empty)."""
    if container is None:
        return []
    items = container.get("values") if isinstance(container, dict) else container
    if items is None:
        return []
    if not isinstance(items, list):
        raise FieldError(key, f"{kind} is not an object with a values list: {container!r:.80}")
    return items


def attributes(items) -> dict:
    """An OTLP ``KeyValue`` list as a dict (a later duplicate key wins)."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise FieldError("attributes", "attributes is not a list")
    out = {}
    for kv in items:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise FieldError("attributes", f"attribute without a string key: {kv!r:.80}")
        out[kv["key"]] = any_value(kv.get("value") or {}, kv["key"])
    return out


def _nanos(span: dict, key: str) -> int | None:
    v = span.get(key)
    if v is None or v == "" or v == 0 or v == "0":
        return None  # proto3 default (0) means "not set"
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise FieldError(key, f"{key} is not an integer: {v!r:.80}")
    try:
        out = int(v)
    except ValueError:
        raise FieldError(key, f"{key} is not an integer: {v!r:.80}") from None
    if not 0 < out <= INT64_MAX:
        raise FieldError(key, f"{key} is out of range (1 .. 2^63-1 ns): {v!r:.80}")
    return out


def _id(span: dict, key: str) -> str | None:
    """A trace or span id as a string (hex in OTLP/JSON; a number is kept as its decimal text)."""
    v = span.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise FieldError(key, f"{key} is not a string: {v!r:.80}")


def _status(span: dict) -> tuple[int, str | None]:
    st = span.get("status") or {}
    if not isinstance(st, dict):
        raise FieldError("status", "status is not an object")
    code = st.get("code") or 0
    if isinstance(code, str):
        code = STATUS_CODES.get(code, code)
        try:
            code = int(code)
        except ValueError:
            raise FieldError("status.code", f"unknown status code {code!r:.80}") from None
    if not isinstance(code, int) or isinstance(code, bool):
        raise FieldError("status.code", f"status code is not an integer: {code!r:.80}")
    msg = st.get("message")
    return code, (msg if isinstance(msg, str) and msg else None)


def _documents(src: Source) -> Iterator[tuple[int, object | None, QuarantineRow | None]]:
    """(line, document) for JSON Lines, or (0, document) for one multi-line document."""
    depth = src.limits.max_json_depth
    lines = iter_lines(src)
    first = next(lines, None)
    if first is None:
        return
    doc = None
    first_error = None
    if first[1] is None:
        first_error = f"line longer than {src.limits.max_line_bytes} bytes"
    else:
        try:
            doc = load_json_line(first[1], depth)
        except ValueError as exc:
            first_error = str(exc)
    if first_error is not None:
        if first[1] is not None and first[1].strip() in (b"{", b"["):
            # one pretty-printed document
            try:
                yield 0, load_json_line(src.data, depth), None
            except ValueError as exc:
                raise TraceParseError(src.name, f"not an OTLP JSON document: {exc}") from None
            return
        # JSON Lines with a broken first line
        raw = None if first[1] is None else first[1][:4096].decode("utf-8", "replace")
        yield first[0], None, QuarantineRow(first[0], None, first_error, raw)
    else:
        yield first[0], doc, None
    for lineno, line in lines:
        if line is None:
            yield (
                lineno,
                None,
                QuarantineRow(lineno, None, f"line longer than {src.limits.max_line_bytes} bytes"),
            )
            continue
        try:
            yield lineno, load_json_line(line, depth), None
        except ValueError as exc:
            yield lineno, None, QuarantineRow(lineno, None, str(exc), line[:4096].decode("utf-8", "replace"))


def iter_spans(src: Source) -> Iterator[Span | QuarantineRow]:
    """Every span of every document, or a QuarantineRow for what cannot be read."""
    ordinal = 0
    for lineno, doc, bad in _documents(src):
        if bad is not None:
            yield bad
            continue
        docs = doc if isinstance(doc, list) else [doc]
        for d in docs:
            if not isinstance(d, dict) or not isinstance(d.get("resourceSpans", []), list):
                yield QuarantineRow(
                    lineno or None, "resourceSpans", "not an OTLP ExportTraceServiceRequest", raw_json(d)
                )
                continue
            for rs in d.get("resourceSpans") or []:
                yield from _resource_spans(rs, lineno, ordinal)
                ordinal += _count_spans(rs)


def _lst(obj, key: str) -> list:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, list) else []


def _count_spans(rs) -> int:
    scopes = _lst(rs, "scopeSpans") + _lst(rs, "instrumentationLibrarySpans")
    return sum(len(_lst(ss, "spans")) for ss in scopes)


def _resource_spans(rs, lineno: int, ordinal: int) -> Iterator[Span | QuarantineRow]:
    """The spans of one ``resourceSpans`` entry (``ordinal`` = spans seen before it)."""
    if not isinstance(rs, dict):
        yield QuarantineRow(
            lineno or None, "resourceSpans", "resourceSpans entry is not an object", raw_json(rs)
        )
        return
    res = rs.get("resource")
    try:
        resource = attributes(res.get("attributes") if isinstance(res, dict) else None)
    except FieldError as exc:
        yield QuarantineRow(lineno or None, f"resource.{exc.field}", exc.reason, raw_json(rs))
        return
    for ss in _lst(rs, "scopeSpans") + _lst(rs, "instrumentationLibrarySpans"):
        for sp in _lst(ss, "spans"):
            ordinal += 1
            yield _span(sp, lineno or ordinal, resource)


def _span(sp, record: int, resource: dict) -> Span | QuarantineRow:
    if not isinstance(sp, dict):
        return QuarantineRow(record, None, "span is not an object", raw_json(sp))
    try:
        attrs = attributes(sp.get("attributes"))
        code, message = _status(sp)
        return Span(
            record=record,
            name=sp.get("name") if isinstance(sp.get("name"), str) else None,
            trace_id=_id(sp, "traceId"),
            span_id=_id(sp, "spanId"),
            start_ns=_nanos(sp, "startTimeUnixNano"),
            end_ns=_nanos(sp, "endTimeUnixNano"),
            attrs=attrs,
            resource=resource,
            status_code=code,
            status_message=message,
            raw=sp,
        )
    except FieldError as exc:
        return QuarantineRow(record, exc.field, exc.reason, raw_json(sp))


# --- typed attribute access ---------------------------------------------------------------


def get_str(attrs: dict, key: str) -> str | None:
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    raise FieldError(key, f"expected a string, got {json.dumps(v, default=str)[:80]}")


def get_float(attrs: dict, key: str) -> float | None:
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise FieldError(key, f"expected a number, got {json.dumps(v, default=str)[:80]}")
    try:
        out = float(v)
    except OverflowError:  # an int too large for a float
        out = math.inf
    if not math.isfinite(out):
        raise FieldError(key, f"expected a finite number, got {json.dumps(v, default=str)[:80]}")
    return out


def get_int(attrs: dict, key: str) -> int | None:
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise FieldError(key, f"expected an integer, got {json.dumps(v, default=str)[:80]}")
    if not INT64_MIN <= v <= INT64_MAX:
        raise FieldError(key, f"integer out of the int64 range: {v}")
    return v


def get_first(attrs: dict, *keys: str, getter=get_int):
    """The first of ``keys`` present (newer semconv name first)."""
    for k in keys:
        v = getter(attrs, k)
        if v is not None:
            return v
    return None


def finish_reasons(attrs: dict, key: str) -> str | None:
    """``gen_ai.response.finish_reasons`` (a string array; one per choice) as one string."""
    v = attrs.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ",".join(v) or None
    raise FieldError(key, f"expected a string array, got {json.dumps(v, default=str)[:80]}")


def resource_name(resource: dict, keys: tuple[str, ...]) -> str | None:
    """The first usable resource attribute; the SDK default ``unknown_service*`` is no name."""
    for k in keys:
        v = resource.get(k)
        if isinstance(v, str) and v and not v.startswith("unknown_service"):
            return v
    return None


def ns_to_timestamp(values: list[int | None]) -> pa.Array:
    """Epoch nanoseconds as timestamp[us, UTC] (integer division: exact to the microsecond)."""
    return pa.array([None if v is None else v // 1000 for v in values], type=pa.int64()).cast(TIMESTAMP)
