"""A record path for column maps over nested JSON: ``records = "$.results[*]"`` in the map.

A column map reads one record per line (JSON Lines). A JSON document whose
records sit under a key (``{"results": [{...}, ...]}``) needs the path to
them; without one the file is refused, naming the keys it holds, instead of
being read as one record that maps to nothing.

Path grammar (a small subset of JSONPath): ``$`` then ``.key`` segments and a
final ``[*]``: ``$[*]``, ``$.results[*]``, ``$.data.requests[*]``.
"""

from __future__ import annotations

import json
import re

from traceana.errors import ConfigError, TraceParseError
from traceana.ingest.base import Source, load_json_line

_PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_\-]*)*)\[\*\]$")


def parse_path(path: str, where: str | None = None) -> list[str]:
    """The keys of a record path (``$.a.b[*]`` -> ['a', 'b']); ConfigError for anything else."""
    m = _PATH.match(path.strip()) if isinstance(path, str) else None
    if not m:
        raise ConfigError(
            f'not a record path: {path!r}. Hint: e.g. "$.results[*]" or "$[*]"', key="records", path=where
        )
    return [k for k in m.group(1).split(".") if k]


def is_json_document(src: Source, needed: list[str]) -> bool:
    """True when the file is one JSON array, or one JSON object holding none of the mapped columns.

    (JSON Lines with a single record is one object too, but it holds the columns.)
    """
    head = src.head(1 << 16).lstrip()
    if head[:1] not in (b"[", b"{"):
        return False
    try:
        doc = load_json_line(src.data, src.limits.max_json_depth)
    except ValueError:
        return False  # several lines of records: JSON Lines
    return isinstance(doc, list) or (isinstance(doc, dict) and not any(c in doc for c in needed))


def records_as_jsonl(src: Source, keys: list[str] | None) -> bytes:
    """The records the path names, one JSON object per line; refuses a nested document without a path."""
    try:
        doc = load_json_line(src.data, src.limits.max_json_depth)
    except ValueError as exc:
        raise TraceParseError(src.name, f"not a JSON document: {exc}") from None
    if keys is None:
        if isinstance(doc, list):
            keys = []
        else:
            found = (
                ", ".join(sorted(k for k, v in doc.items() if isinstance(v, list))[:5])
                if isinstance(doc, dict)
                else ""
            )
            hint = f'records = "$.{found.split(", ")[0]}[*]"' if found else 'records = "$.<key>[*]"'
            raise TraceParseError(
                src.name,
                "a nested JSON document, not one record per line: the column map needs a record path. "
                f"Hint: add {hint} to the map" + (f" (lists here: {found})" if found else ""),
            )
    node = doc
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            at = "$" + "".join(f".{k}" for k in keys[:i])
            raise TraceParseError(src.name, f"record path: no key '{key}' under {at}", field="records")
        node = node[key]
    if not isinstance(node, list):
        raise TraceParseError(src.name, "record path does not end at a list", field="records")
    return b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in node) + b"\n"
