"""The mapped adapter: a column-map TOML turns an in-house CSV / JSONL / Parquet log into canonical rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from traceana.errors import ConfigError, TraceParseError
from traceana.ingest import registry
from traceana.ingest.adapters import mapped
from traceana.ingest.adapters.mapped import load_column_map, read_mapped
from traceana.ingest.base import Source
from traceana.schema import conform

DATA = Path(__file__).resolve().parents[1] / "data"
CSV = DATA / "mapped_inhouse.csv"
MAP = DATA / "mapped_inhouse.toml"
UTC = UTC


def rows(res) -> list[dict]:
    return conform(res.requests, "requests").to_pylist()


def test_csv_with_ms_durations_and_iso_times_maps_exactly():
    res = read_mapped(Source(CSV, CSV.read_bytes()), load_column_map(MAP))
    a, b, c = rows(res)
    # r-001,2025-03-01T12:00:00.250Z,180.5,2180.5,900,101,200,node-a
    assert a["request_id"] == "r-001" and a["source_line"] == 2
    assert a["arrival_time"] == datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert a["ttft_s"] == pytest.approx(0.1805, rel=1e-12) and a["e2e_latency_s"] == pytest.approx(
        2.1805, rel=1e-12
    )
    assert (a["prompt_tokens"], a["output_tokens"], a["status"]) == (900, 101, "ok")
    assert (a["instance"], a["model"]) == ("node-a", "llama-3.1-8b-instruct")
    assert a["tpot_s"] == pytest.approx(2.0 / 100, rel=1e-12) and a["derived_fields"] == "tpot_s"
    # one output token: no TPOT
    assert (
        b["arrival_time"] == datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)
        and b["tpot_s"] is None
        and b["derived_fields"] is None
    )
    # naive ISO time (taken as UTC, noted), empty ttft stays null, 504 -> timeout via [status_map]
    assert c["arrival_time"] == datetime(2025, 3, 1, 12, 0, 2, 500000, tzinfo=UTC)
    assert c["ttft_s"] is None and c["e2e_latency_s"] == 30.0 and c["status"] == "timeout"
    assert res.quarantine == [] and any("without a zone" in n for n in res.notes)


def test_never_auto_detected_and_needs_a_map():
    assert mapped.ADAPTER.sniff(CSV.read_bytes(), CSV) is False
    with pytest.raises(TraceParseError):
        registry.detect(CSV.read_bytes(), CSV)
    with pytest.raises(TraceParseError, match="--map"):
        mapped.ADAPTER.read(Source(CSV, CSV.read_bytes()))


def test_bad_values_quarantined_with_line_numbers():
    data = b"id,t,lat\na,1740830400123,250\nb,not-a-time,250\nc,1740830400500,slow\nd,1740830400600,300\n,1740830400700,300\n"
    cmap = {
        "columns": {
            "request_id": "id",
            "arrival_time": {"column": "t", "unit": "epoch_ms"},
            "e2e_latency_s": {"column": "lat", "unit": "ms"},
        }
    }
    res = read_mapped(Source(Path("gw.csv"), data), cmap)
    got = rows(res)
    assert [r["request_id"] for r in got] == ["a", "d"]
    assert (
        got[0]["arrival_time"] == datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
        and got[0]["e2e_latency_s"] == 0.25
    )
    assert sorted((q.line, q.field) for q in res.quarantine) == [
        (3, "arrival_time"),
        (4, "e2e_latency_s"),
        (6, "request_id"),
    ]


def test_jsonl_and_parquet_sources():
    cmap = {
        "columns": {
            "request_id": "rid",
            "arrival_time": {"column": "ts", "unit": "epoch_ns"},
            "queue_time_s": {"column": "q_us", "unit": "us"},
            "status": "st",
        }
    }
    jl = b'{"rid": "x", "ts": 1740830400000001999, "q_us": 1500, "st": "ok"}\n{"rid": "y", "ts": 1740830401000000000, "q_us": 2, "st": "weird"}\n'
    res = read_mapped(Source(Path("a.jsonl"), jl), cmap)
    (r,) = rows(res)
    # epoch ns 1740830400000001999 -> 1740830400000001 us (floor, exact integer arithmetic)
    assert r["arrival_time"] == datetime(2025, 3, 1, 12, 0, 0, 1, tzinfo=UTC) and r[
        "queue_time_s"
    ] == pytest.approx(0.0015)
    assert [(q.line, q.field) for q in res.quarantine] == [(2, "status")]
    buf = io.BytesIO()
    pl.DataFrame({"rid": ["p"], "ts": [1740830400000000000], "q_us": [250.0], "st": ["error"]}).write_parquet(
        buf
    )
    (p,) = rows(read_mapped(Source(Path("a.parquet"), buf.getvalue()), cmap))
    assert (
        p["arrival_time"] == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
        and p["queue_time_s"] == 0.00025
        and p["source_line"] == 1
    )


@pytest.mark.parametrize(
    ("toml", "key", "hint"),
    [
        (
            '[columns]\narrival_time = { column = "t", unit = "iso" }\nttft = "x"\n',
            "columns.ttft",
            "allowed fields are",
        ),
        (
            '[columns]\narrival_time = { column = "t", unit = "iso" }\nttft_s = { column = "x", unit = "msec" }\n',
            "columns.ttft_s",
            "'s', 'ms', 'us', 'ns'",
        ),
        ('[columns]\narrival_time = { column = "t", unit = "ms" }\n', "columns.arrival_time", "epoch_ms"),
        ('[columns]\nttft_s = { column = "x", unit = "ms" }\n', "columns.arrival_time", "required"),
        (
            '[columns]\narrival_time = { column = "t", unit = "iso" }\ne2e_latency_s = "lat"\n',
            "columns.e2e_latency_s",
            "duration unit",
        ),
        (
            '[columns]\narrival_time = { column = "t", unit = "iso" }\n[constants]\nstatus = "fine"\n',
            "constants.status",
            "one of",
        ),
        (
            '[columns]\narrival_time = { column = "t", unit = "iso" }\n[status_map]\n"500" = "boom"\n',
            "status_map.500",
            "one of",
        ),
    ],
)
def test_column_map_errors_name_the_key(tmp_path, toml, key, hint):
    p = tmp_path / "map.toml"
    p.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_column_map(p)
    assert err.value.key == key and hint in str(err.value) and str(p) in str(err.value)
