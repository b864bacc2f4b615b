"""The canonical schema: metadata on every field, generated files in sync, older minor versions read."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.conftest import ROOT
from traceana import schema
from traceana.errors import SchemaError


@pytest.mark.parametrize("table", ["requests", "engine_samples", "engine_histograms", "quarantine"])
def test_every_field_has_description_unit_and_checklist(table):
    for f in schema.arrow_schema(table):
        meta = {k.decode(): v.decode() for k, v in f.metadata.items()}
        assert set(meta) == {"description", "unit", "checklist"}, f.name
        assert meta["description"], f.name
        assert meta["checklist"] in {"1", "2", "3", "4", "5", "6", "provenance"}, f.name


def test_design_fields_present_with_canonical_types():
    req = schema.REQUESTS
    for name in ("arrival_time", "scheduled_time"):
        assert req.field(name).type == pa.timestamp("us", tz="UTC")
    for name in ("queue_time_s", "ttft_s", "tpot_s", "prefill_time_s", "decode_time_s", "e2e_latency_s"):
        assert req.field(name).type == pa.float64()
    assert not req.field("request_id").nullable and not req.field("arrival_time").nullable
    eng = schema.ENGINE_SAMPLES.names
    for name in (
        "time",
        "instance",
        "num_running",
        "num_waiting",
        "kv_cache_usage",
        "kv_cache_capacity_tokens",
        "gpu_type",
    ):
        assert name in eng


def test_every_checklist_item_served_by_some_field():
    items = {
        f.metadata[b"checklist"].decode()
        for t in ("requests", "engine_samples")
        for f in schema.arrow_schema(t)
    }
    assert {"1", "2", "3", "4", "5", "6"} <= items


def test_schema_files_match_the_code():
    from traceana.compare import schema as compare_schema

    for path, text in {**schema.schema_files(ROOT), **compare_schema.schema_files(ROOT)}.items():
        assert path.exists(), f"{path} missing: run `traceana schema --write`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} drifted from traceana/schema.py: run `traceana schema --write`"
        )


def test_drift_is_detected(tmp_path):
    schema.write_schema_files(tmp_path)
    p = tmp_path / "schemas" / "requests.v1.json"
    p.write_text(p.read_text().replace("ttft_s", "ttft"))
    stale = [q for q, text in schema.schema_files(tmp_path).items() if q.read_text() != text]
    assert stale == [p]


def test_conform_fills_fields_added_in_a_later_minor_version():
    # A 1.0 table: no itl_s, no derived_fields.
    old = pa.table(
        {
            "request_id": ["a"],
            "arrival_time": pa.array([0], pa.timestamp("us", tz="UTC")),
            "ttft_s": [0.1],
        }
    )
    assert set(schema.ADDED_IN["requests"]) == {"itl_s", "derived_fields", "time_basis", "tags"}
    t = schema.conform(old, "requests")
    assert t.schema.names == schema.REQUESTS.names
    assert t.column("itl_s").null_count == 1 and t.column("derived_fields").null_count == 1
    assert t.column("time_basis").null_count == 1  # read as measured (traceana.metrics.timebasis)


def test_conform_refuses_missing_required_and_lossy_casts():
    with pytest.raises(SchemaError, match="request_id"):
        schema.conform(pa.table({"arrival_time": pa.array([0], pa.timestamp("us", tz="UTC"))}), "requests")
    with pytest.raises(SchemaError, match="ttft_s"):
        schema.conform(
            pa.table(
                {
                    "request_id": ["a"],
                    "arrival_time": pa.array([0], pa.timestamp("us", tz="UTC")),
                    "ttft_s": ["x"],
                }
            ),
            "requests",
        )
