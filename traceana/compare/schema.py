"""The JSON Schema of compare.json, as code; ``traceana schema --write`` writes schemas/compare.schema.json.

A test checks the file matches this module and validates a real comparison against it.
"""

from __future__ import annotations

import json
from pathlib import Path

NUM = {"type": ["number", "null"]}
STR = {"type": "string"}
VERDICTS = ["better", "worse", "changed", "no significant change", "not enough data"]

_SIDE = {
    "type": ["object", "null"],
    "required": ["label", "requests", "failed", "seconds"],
    "properties": {
        "label": STR,
        "requests": {"type": "integer", "minimum": 0},
        "failed": {"type": "integer", "minimum": 0},
        "seconds": {"type": "number", "minimum": 0},
    },
}

_ROW = {
    "type": "object",
    "required": [
        "id",
        "metric",
        "stat",
        "view",
        "better",
        "unit",
        "group",
        "base",
        "candidate",
        "diff",
        "rel_diff",
        "ci",
        "p_value",
        "p_adjusted",
        "verdict",
        "n_base",
        "n_candidate",
        "note",
    ],
    "properties": {
        "id": {
            "type": "string",
            "description": "what a --fail-on rule names: p99(ttft_s), p99(ttft_s, user-visible), error_rate, ...",
        },
        "metric": STR,
        "stat": {"type": "string", "description": "p50..p99_9, shift, or empty for a single-valued metric"},
        "view": {
            "enum": ["served", "user-visible", "all"],
            "description": "served: ok requests; user-visible: failed requests count as +inf; all: every request",
        },
        "better": {"enum": ["lower", "higher", None]},
        "unit": STR,
        "group": {"type": "object", "description": "{} = all requests; else the --by columns"},
        "base": NUM,
        "candidate": NUM,
        "base_infinite": {"type": "boolean"},
        "candidate_infinite": {"type": "boolean"},
        "diff": {**NUM, "description": "candidate - base"},
        "rel_diff": {**NUM, "description": "(candidate - base) / base"},
        "ci": {
            "type": ["array", "null"],
            "items": NUM,
            "minItems": 2,
            "maxItems": 2,
            "description": "interval for diff at the document's confidence (unadjusted)",
        },
        "p_value": NUM,
        "p_adjusted": NUM,
        "verdict": {"enum": VERDICTS},
        "n_base": {"type": "integer"},
        "n_candidate": {"type": "integer"},
        "note": STR,
        "mann_whitney_u": NUM,
        "mann_whitney_p": NUM,
        "ks_d": NUM,
        "ks_p": NUM,
        "ks_method": STR,
    },
}

_RULE = {
    "type": "object",
    "required": ["rule", "metric", "op", "threshold", "unit", "fired", "status", "groups"],
    "properties": {
        "rule": STR,
        "metric": STR,
        "op": {"enum": [">", "<"]},
        "threshold": {"type": "number"},
        "unit": {"enum": ["relative", "absolute"]},
        "fired": {"type": "boolean"},
        "status": STR,
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["group", "value", "verdict", "significant", "beyond_threshold", "fired"],
            },
        },
    },
}

_POINT = {
    "type": "object",
    "required": [
        "label",
        "requests",
        "ok",
        "offered_rate_per_s",
        "achieved_rate_per_s",
        "output_tokens_per_s",
        "p99_latency_s",
        "median_queue_s",
        "pareto",
        "oversaturated",
    ],
    "properties": {
        "label": STR,
        "requests": {"type": "integer"},
        "ok": {"type": "integer"},
        "offered_rate_per_s": NUM,
        "achieved_rate_per_s": NUM,
        "output_tokens_per_s": NUM,
        "p99_latency_s": NUM,
        "median_queue_s": NUM,
        "pareto": {"type": "boolean"},
        "oversaturated": {"type": "boolean"},
    },
}


def compare_schema() -> dict:
    """The Draft 2020-12 schema of compare.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://traceana.invalid/schemas/compare.schema.json",
        "title": "traceana compare.json",
        "description": "Base against candidate per metric, with intervals for the difference and corrected verdicts; "
        "or, with --sweep, one point per run. Generated from traceana/compare/schema.py.",
        "type": "object",
        "required": [
            "schema_version",
            "title",
            "generated_at",
            "traceana_version",
            "base",
            "candidate",
            "by",
            "metrics",
            "rules",
            "summary",
            "series",
            "warnings",
            "sweep",
            "verdict",
        ],
        "properties": {
            "schema_version": {"const": "1"},
            "title": STR,
            "generated_at": {"type": "string", "format": "date-time"},
            "traceana_version": STR,
            "base": _SIDE,
            "candidate": _SIDE,
            "by": {"type": "array", "items": STR},
            "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "adjustment": {
                "type": "object",
                "required": ["method", "name", "alpha", "family_size"],
                "properties": {
                    "method": {"enum": ["holm", "bh"]},
                    "name": STR,
                    "alpha": {"type": "number"},
                    "family_size": {"type": "integer"},
                },
            },
            "bootstrap": {
                "type": "object",
                "properties": {"resamples": {"type": "integer"}, "seed": {"type": "integer"}, "method": STR},
            },
            "metrics": {"type": "array", "items": _ROW},
            "rules": {"type": "array", "items": _RULE},
            "summary": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "rows per verdict",
            },
            "series": {
                "type": "object",
                "properties": {
                    "ecdf": {
                        "type": "array",
                        "items": {"type": "object", "required": ["side", "metric", "value", "fraction"]},
                    }
                },
            },
            "warnings": {"type": "array", "items": STR},
            "sweep": {
                "type": ["object", "null"],
                "properties": {
                    "points": {"type": "array", "items": _POINT},
                    "latency_metric": STR,
                    "queue_metric": STR,
                    "throughput_metric": STR,
                    "note": STR,
                },
            },
            "verdict": {
                "type": "object",
                "required": ["fired", "exit_code"],
                "properties": {"fired": {"type": "array", "items": STR}, "exit_code": {"enum": [0, 1]}},
            },
        },
    }


def schema_files(root: Path) -> dict[Path, str]:
    """``schemas/compare.schema.json`` under ``root`` and its text (written by ``traceana schema --write``)."""
    return {root / "schemas" / "compare.schema.json": json.dumps(compare_schema(), indent=2) + "\n"}
