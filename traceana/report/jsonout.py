"""report.json: the report dict as strict JSON (no NaN / Infinity), shaped by schemas/report.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

from traceana.report.series import clean

SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "schemas" / "report.schema.json"


def render_json(report: dict) -> str:
    """Pretty JSON; non-finite floats become null (strict JSON parsers reject NaN)."""
    return json.dumps(clean(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def validate(report: dict, schema_path: Path | None = None) -> None:
    """Validate against the JSON Schema (Draft 2020-12). Raises jsonschema.ValidationError."""
    import jsonschema

    schema = json.loads((schema_path or SCHEMA_PATH).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(render_json(report)))
