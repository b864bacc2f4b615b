"""Every adapter, fed arbitrary or mutated content, returns an AdapterResult or raises TraceanaError.

Nothing else may escape an adapter (the pipeline would refuse the file as an
adapter bug). The results must also keep the books: records read = rows out +
rows quarantined, checked through the whole pipeline.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.conftest import count, examples
from traceana.errors import TraceanaError
from traceana.ingest import registry
from traceana.ingest.base import AdapterResult, Limits, Source
from traceana.ingest.pipeline import AdapterBugError, process

SEEDS = Path(__file__).parent / "seeds"
WORK = Path(tempfile.mkdtemp(prefix="traceana-fuzz-"))
ADAPTERS = {a.name: a for a in registry.adapters()}
#: adapter -> seed files (name before '__' or '.' is the adapter)
SEED_FILES = {
    name: sorted(
        p for p in SEEDS.iterdir() if p.name.split("__")[0].split(".")[0] == name and p.suffix != ".toml"
    )
    for name in ADAPTERS
}
#: (property, adapter) -> the bug, for bugs found and not fixed by their owners yet (strict xfail).
#: The ci profile is derandomized, so each of these fails the same way on every run.
KNOWN_BUGS: dict[tuple[str, str], str] = {}

HOSTILE_TOKENS = [
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"-1",
    b"0",
    b"null",
    b"true",
    b'""',
    b"[]",
    b"{}",
    b'"\\ud800"',
    b"[" * 200,
    b"}" * 5,
    b"99999999999999999999999999",
    b'"2100-01-01T00:00:00Z"',
    b'"1970-01-01"',
    b"\xff\xfe",
    b"\x00",
    b"\r\n",
    b"\n\n",
    b",",
    b'"',
    b"'; DROP TABLE x; --",
    b"<script>",
]


def _source(name: str, data: bytes, suffix: str = ".dat") -> Source:
    path = WORK / f"{name}{suffix}"
    path.write_bytes(data)
    return Source(
        path=path,
        data=data,
        limits=Limits(max_decompressed_bytes=1 << 26, max_line_bytes=1 << 20, max_json_depth=64),
    )


def check_adapter(name: str, data: bytes, suffix: str) -> None:
    """The property: read returns an AdapterResult or raises TraceanaError; the pipeline keeps the books."""
    adapter = ADAPTERS[name]
    src = _source(name, data, suffix)
    try:
        result = adapter.read(src)
    except TraceanaError:
        return
    assert isinstance(result, AdapterResult)
    try:
        tables, quarantine, rep = process(src, adapter)
    except AdapterBugError:
        raise
    except TraceanaError:
        return
    stored = sum(t.num_rows for t in tables.values())
    assert rep.records_read == stored + quarantine.num_rows, (rep.records_read, stored, quarantine.num_rows)


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, arg in ops:
        if not out:
            out += HOSTILE_TOKENS[arg % len(HOSTILE_TOKENS)]
            continue
        i = pos % len(out)
        if kind == 0:  # truncate
            del out[i:]
        elif kind == 1:  # flip a byte
            out[i] = arg % 256
        elif kind == 2:  # delete a slice
            del out[i : i + 1 + arg % 64]
        elif kind == 3:  # duplicate a slice
            out[i:i] = out[i : i + 1 + arg % 256]
        else:  # insert a hostile token
            out[i:i] = HOSTILE_TOKENS[arg % len(HOSTILE_TOKENS)]
    return bytes(out)


def _json_paths(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _json_paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _json_paths(v, (*path, i))


def _replace(obj, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {**obj, head: _replace(obj[head], rest, value)}
    out = list(obj)
    out[head] = _replace(obj[head], rest, value)
    return out


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        ["", "NaN", "-1", "1e400", "2100-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "abc", "12.5", "0x10"]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _adapter_params(prop: str):
    out = []
    for name in sorted(ADAPTERS):
        bug = KNOWN_BUGS.get((prop, name))
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _adapter_params("bytes"))
@settings(max_examples=examples(15))
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(name, data):
    count("adapters.arbitrary_bytes")
    check_adapter(name, data, ".dat")


@pytest.mark.parametrize("name", _adapter_params("mutated"))
@settings(max_examples=examples(25))
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 1 << 16)), min_size=1, max_size=4
    ),
    which=st.integers(0, 9),
)
def test_mutated_seed_bytes(name, ops, which):
    seeds = SEED_FILES[name]
    if not seeds:
        pytest.skip(f"no seed file for {name}")
    seed = seeds[which % len(seeds)]
    count("adapters.mutated_bytes")
    check_adapter(name, _mutate(seed.read_bytes(), ops), seed.suffix)


def _json_docs(seed: Path) -> tuple[list, bool] | None:
    """The seed parsed as JSON Lines (list of objects, True) or one JSON document ([doc], False)."""
    text = seed.read_bytes()
    try:
        return [json.loads(text)], False
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()], True
    except ValueError:
        return None


@pytest.mark.parametrize("name", _adapter_params("json"))
@settings(max_examples=examples(30))
@given(st.data())
def test_json_values_swapped(name, data):
    """Type confusion: any node of a real JSON record replaced by an arbitrary JSON value."""
    parsed = [(s, _json_docs(s)) for s in SEED_FILES[name]]
    parsed = [(s, d) for s, d in parsed if d is not None]
    if not parsed:
        pytest.skip(f"{name} has no JSON seed")
    seed, (docs, lines) = data.draw(st.sampled_from(parsed))
    i = data.draw(st.integers(0, len(docs) - 1))
    paths = list(_json_paths(docs[i]))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            docs[i] = _replace(docs[i], path, data.draw(json_values))
        except (KeyError, IndexError, TypeError):
            pass
        paths = list(_json_paths(docs[i]))
    count("adapters.json_swapped")
    if lines:
        blob = b"".join(json.dumps(d, allow_nan=True).encode() + b"\n" for d in docs)
    else:
        blob = json.dumps(docs[0], allow_nan=True, indent=1).encode()
    check_adapter(name, blob, seed.suffix)


# ------------------------------------------------------------------ minimal repros of what fuzzing found
def _seed_json(name: str, line: int | None = None):
    data = (SEEDS / name).read_bytes()
    return json.loads(data.splitlines()[line] if line is not None else data)


def _set(doc, path, value):
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _lines_with(seed: str, path: list, value) -> bytes:
    """A JSON Lines seed with ``value`` put at ``path`` in its first record."""
    lines = (SEEDS / seed).read_bytes().splitlines()
    first = _set(json.loads(lines[0]), path, value)
    return json.dumps(first).encode() + b"\n" + b"\n".join(lines[1:]) + b"\n"


def _otel_array_attr() -> bytes:
    doc = _seed_json("otel_genai__spans.jsonl", 0)
    for span in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["attributes"] = [
            {"key": "gen_ai.operation.name", "value": {"arrayValue": {"values": [{"stringValue": "chat"}]}}}
        ]
    return json.dumps(doc).encode() + b"\n"


def _vllm_far_queue() -> bytes:
    doc = _seed_json("vllm_otlp.json")
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for span in spans:
        span["attributes"] = [
            *span.get("attributes", []),
            {"key": "gen_ai.latency.time_in_queue", "value": {"doubleValue": -9.2e12}},
        ]
    return json.dumps(doc).encode()


def _genai_deep_payload() -> bytes:
    """JSON text nested 100k deep inside a string (the depth limit only sees the outer document)."""
    doc = _seed_json("genai_perf.json")
    req = doc["experiments"][0]["requests"][0]
    req["request_inputs"] = {"payload": "[" * 100_000}
    req["response_outputs"] = [{"response": "data: {" + "[" * 100_000}]
    return json.dumps(doc).encode()


REPROS = {
    "burstgpt_huge_timestamp": (
        "burstgpt",
        ".csv",
        lambda: (
            b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n1e34,ChatGPT,472,18,490,Conversation log\n"
        ),
    ),
    "genai_perf_null_response_timestamp": (
        "genai_perf",
        ".json",
        lambda: json.dumps(
            _set(
                _seed_json("genai_perf.json"),
                ["experiments", 0, "requests", 0, "response_timestamps", 0],
                None,
            )
        ).encode(),
    ),
    "genai_perf_int_response_timestamps": (
        "genai_perf",
        ".json",
        lambda: json.dumps(
            _set(_seed_json("genai_perf.json"), ["experiments", 0, "requests", 0, "response_timestamps"], 5)
        ).encode(),
    ),
    "otel_genai_array_attribute": ("otel_genai", ".jsonl", _otel_array_attr),
    "prometheus_range_values_bool": (
        "prometheus_range",
        ".jsonl",
        lambda: (
            json.dumps(
                _set(_seed_json("prometheus_range.jsonl", 0), ["data", "result", 0, "values"], True)
            ).encode()
            + b"\n"
        ),
    ),
    "prometheus_range_lone_surrogate_label": (
        "prometheus_range",
        ".jsonl",
        lambda: (
            json.dumps(
                _set(
                    _seed_json("prometheus_range.jsonl", 0),
                    ["data", "result", 0, "metric", "model_name"],
                    "\ud800",
                )
            ).encode()
            + b"\n"
        ),
    ),
    "vllm_otlp_int_span_id": (
        "vllm_otlp",
        ".json",
        lambda: json.dumps(
            _set(_seed_json("vllm_otlp.json"), ["resourceSpans", 0, "scopeSpans", 0, "spans", 1, "spanId"], 1)
        ).encode(),
    ),
    "azure_zstd_magic_after_decompression": (
        "azure",
        ".csv",
        lambda: b"\x28\xb5\x2f\xfd" + b"TIMESTAMP,ContextTokens,GeneratedTokens\n",
    ),
    "vllm_otlp_lone_surrogate": (
        "vllm_otlp",
        ".json",
        lambda: json.dumps(
            _set(
                _seed_json("vllm_otlp.json"),
                ["resourceSpans", 0, "resource", "attributes", 1, "value", "stringValue"],
                "\ud800x",
            )
        ).encode(),
    ),
    "aiperf_lone_surrogate": (
        "aiperf",
        ".jsonl",
        lambda: _lines_with("aiperf.jsonl", ["metadata", "x_request_id"], "\ud800x"),
    ),
    "litellm_lone_surrogate": ("litellm", ".jsonl", lambda: _lines_with("litellm.jsonl", ["id"], "\ud800x")),
    "genai_perf_requests_not_a_list": (
        "genai_perf",
        ".json",
        lambda: json.dumps(
            _set(_seed_json("genai_perf.json"), ["experiments", 0, "requests"], True)
        ).encode(),
    ),
    "vllm_otlp_scheduled_time_beyond_polars": ("vllm_otlp", ".json", _vllm_far_queue),
    "mooncake_huge_timestamp": (
        "mooncake",
        ".jsonl",
        lambda: b'{"timestamp": 1e34, "input_length": 3, "output_length": 4}\n',
    ),
    "mooncake_timestamp_beyond_polars": (
        "mooncake",
        ".jsonl",
        lambda: b'{"timestamp": 9e15, "input_length": 3, "output_length": 4}\n',
    ),
    "genai_perf_deeply_nested_payload_string": ("genai_perf", ".json", _genai_deep_payload),
    "otel_genai_lone_surrogate": (
        "otel_genai",
        ".jsonl",
        lambda: _lines_with(
            "otel_genai__spans.jsonl",
            ["resourceSpans", 0, "scopeSpans", 0, "spans", 0, "startTimeUnixNano"],
            "\ud800x",
        ),
    ),
}
#: repro -> the bug, while its owner has not fixed it (strict: a fix makes the xfail fail, so this list shrinks)
OPEN_BUGS: dict[str, str] = {}


@pytest.mark.parametrize(
    "repro",
    [
        pytest.param(k, marks=[pytest.mark.xfail(strict=True, reason=OPEN_BUGS[k])] if k in OPEN_BUGS else [])
        for k in REPROS
    ],
)
def test_fuzz_findings_stay_fixed(repro):
    name, suffix, make = REPROS[repro]
    check_adapter(name, make(), suffix)


@settings(max_examples=examples(30))
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 1 << 16)), min_size=1, max_size=4
    )
)
def test_mapped_with_its_column_map(ops):
    """The mapped adapter needs a column map: mutate the CSV, keep the map."""
    from traceana.ingest.adapters._column_map import load_column_map

    count("adapters.mapped")
    data = _mutate((SEEDS / "mapped.csv").read_bytes(), ops)
    src = _source("mapped", data, ".csv")
    try:
        tables, quarantine, rep = process(
            src, ADAPTERS["mapped"], column_map=load_column_map(SEEDS / "mapped.toml")
        )
    except AdapterBugError:
        raise
    except TraceanaError:
        return
    assert rep.records_read == sum(t.num_rows for t in tables.values()) + quarantine.num_rows
