"""The hostile-input corpus: each case builds its input files and states the expected outcome.

Kinds: ``store`` (every row stored), ``quarantine`` (good rows stored, each bad
row quarantined with file, line, field and reason) and ``refuse`` (the whole
file refused with one message, exit 2, store unchanged for it). Big inputs
(a 10 MB line, 100,001 rows, compression bombs) are generated at test time.
Every case is run through the real CLI by ``test_corpus.py``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

T0 = "2025-03-01T12:00:00Z"
HOSTILE_MODELS = [
    "<script>alert('x')</script><b>&amp;",
    "m'; DROP TABLE requests; --",
    'quote " and \\ backslash | pipe',
    "line\nbreak\r\nand\ttab",
    "x" * 10_000,
    "\u202eRTL override \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji \U0001f680\U0001f469\u200d\U0001f4bb zero\u200bwidth",
    "nul \u0000 byte",
    "",
]


def row(rid: str, **over) -> dict:
    """A valid canonical request row; ``over`` replaces or adds fields."""
    base = {
        "request_id": rid,
        "arrival_time": T0,
        "ttft_s": 0.1,
        "e2e_latency_s": 0.5,
        "status": "ok",
        "model": "m",
        "prompt_tokens": 10,
        "output_tokens": 20,
    }
    base.update(over)
    return base


def jsonl(*rows: dict) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, allow_nan=True).encode() + b"\n" for r in rows)


def good(prefix: str, n: int = 2) -> list[dict]:
    return [row(f"{prefix}{i}") for i in range(n)]


Builder = Callable[[Path], list[Path]]


def write(name: str, data: bytes | Callable[[], bytes]) -> Builder:
    def build(d: Path) -> list[Path]:
        p = d / name
        p.write_bytes(data() if callable(data) else data)
        return [p]

    return build


@dataclass
class Case:
    name: str
    kind: str  # store | quarantine | refuse
    build: Builder
    stored: int | None = None  # rows added (all tables) by the case
    quarantined: int = 0
    fields: set | None = None  # the set of quarantine 'field' values (None in the set = whole line)
    reasons: tuple[str, ...] = ()  # each fragment appears in some quarantine reason
    lines: list[int] | None = None  # sorted source_line of the quarantined rows
    message: str | None = None  # fragment of the refusal message
    exit: int | None = None  # default: 2 for refuse, else 0
    args: tuple[str, ...] = ()
    runs: int = 1
    check: Callable | None = None  # extra check(store, tmp_dir)
    notes: str = ""
    note: str | None = None  # fragment of a note the ingest must print
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------ builders for special inputs
def _fifo(d: Path) -> list[Path]:
    p = d / "pipe.jsonl"
    os.mkfifo(p)
    return [p]


def _symlink_loop(d: Path) -> list[Path]:
    a, b = d / "loop_a.jsonl", d / "loop_b.jsonl"
    os.symlink(b, a)
    os.symlink(a, b)
    return [a]


def _dangling(d: Path) -> list[Path]:
    p = d / "dangling.jsonl"
    os.symlink(d / "nowhere.jsonl", p)
    return [p]


def _symlink_dir(d: Path) -> list[Path]:
    (d / "real").mkdir()
    (d / "real" / "a.jsonl").write_bytes(jsonl(*good("sd")))
    os.symlink(d / "real", d / "linkdir")
    return [d / "linkdir"]


def _directory(d: Path) -> list[Path]:
    (d / "in" / "sub").mkdir(parents=True)
    (d / "in" / "a.jsonl").write_bytes(jsonl(*good("da")))
    (d / "in" / "sub" / "b.jsonl").write_bytes(jsonl(*good("db", 3)))
    (d / "in" / ".hidden.jsonl").write_bytes(b"not ingested")
    (d / "in" / "README.md").write_bytes(b"# not ingested")
    return [d / "in"]


def _dir_with_fifo(d: Path) -> list[Path]:
    (d / "mix").mkdir()
    (d / "mix" / "a.jsonl").write_bytes(jsonl(*good("mf")))
    os.mkfifo(d / "mix" / "zz.jsonl")
    return [d / "mix"]


def _empty_dir(d: Path) -> list[Path]:
    (d / "empty").mkdir()
    return [d / "empty"]


def _gzip_bomb() -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g:
        chunk = b"\0" * (1 << 20)
        for _ in range(64):  # 64 MiB of zeros -> ~64 KiB
            g.write(chunk)
    return buf.getvalue()


def _zstd_bomb() -> bytes:
    return zstandard.ZstdCompressor(level=19).compress(b"\0" * (64 << 20))


def _concat_gzip() -> bytes:
    return gzip.compress(jsonl(*good("gz", 2))) + gzip.compress(jsonl(*good("gy", 2)))


def _big_line() -> bytes:
    return jsonl(row("big", model="M" * (10 << 20)), row("small"))


def _type_change_100001() -> bytes:
    # 100,000 numeric ttft_s values, then a string, then an object: only those two rows are bad.
    head = b"".join(
        b'{"request_id":"t%d","arrival_time":1740830400,"ttft_s":0.1,"e2e_latency_s":0.5}\n' % i
        for i in range(100_000)
    )
    return (
        head
        + b'{"request_id":"t100000","arrival_time":1740830400,"ttft_s":"fast","e2e_latency_s":0.5}\n'
        + b'{"request_id":"t100001","arrival_time":1740830400,"ttft_s":{"v":1},"e2e_latency_s":0.5}\n'
        + b'{"request_id":"t100002","arrival_time":1740830400,"ttft_s":0.2,"e2e_latency_s":0.5}\n'
    )


def _deep() -> bytes:
    deep = "[" * 100_000 + "]" * 100_000
    return jsonl(row("ok0")) + f'{{"request_id": "deep", "arrival_time": {deep}}}\n'.encode()


def _hostile_file_names(d: Path) -> list[Path]:
    (d / "names").mkdir()
    for raw in (b"a\nb;rm -rf $HOME `id` | x.jsonl", b"bad\xff\xfename.jsonl"):
        (d / "names").joinpath(os.fsdecode(raw)).write_bytes(jsonl(row(raw[:3].hex())))
    return [d / "names"]


def _source_files_shown(store, d: Path) -> None:
    df = store.requests().collect()
    got = {r: f.rsplit("/", 1)[-1] for r, f in zip(df["request_id"], df["source_file"], strict=True)}
    assert got["610a62"] == "a\nb;rm -rf $HOME `id` | x.jsonl"
    assert got["626164"] == "bad\\xff\\xfename.jsonl"  # undecodable bytes shown, not mangled


def _parquet(table: pa.Table) -> Callable[[], bytes]:
    def make() -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    return make


def _csv(text: str, bom: bool = False, crlf: bool = False) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


CSV_HEAD = "request_id,arrival_time,ttft_s,e2e_latency_s,model\n"


def _otlp_missing_attrs() -> bytes:
    span_ok = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "a000000000000001",
        "name": "llm_request",
        "kind": 2,
        "startTimeUnixNano": "1760000000000000000",
        "endTimeUnixNano": "1760000001000000000",
        "attributes": [],
    }
    span_none = {k: v for k, v in span_ok.items() if k != "attributes"} | {"spanId": "a000000000000002"}
    doc = {
        "resourceSpans": [
            {
                "resource": {},
                "scopeSpans": [{"scope": {"name": "vllm.llm_engine"}, "spans": [span_ok, span_none]}],
            }
        ]
    }
    return json.dumps(doc).encode() + b"\n"


def _prom_reset() -> bytes:
    lines = []
    for t, total in ((1740830400, 100), (1740830415, 160), (1740830430, 5), (1740830445, 40)):
        lines += [
            f"# scrape {t}",
            "# TYPE vllm:num_requests_running gauge",
            'vllm:num_requests_running{model_name="m"} 3',
            "# TYPE vllm:prompt_tokens_total counter",
            f'vllm:prompt_tokens_total{{model_name="m"}} {total}',
            "# TYPE vllm:generation_tokens_total counter",
            f'vllm:generation_tokens_total{{model_name="m"}} {total * 2}',
        ]
    return ("\n".join(lines) + "\n").encode()


# ------------------------------------------------------------------ extra checks
def _same_instant(store, d: Path) -> None:
    df = store.requests().collect()
    got = {
        r["request_id"]: r["arrival_time"]
        for r in df.iter_rows(named=True)
        if r["request_id"].startswith("tz")
    }
    assert len(got) == 5 and len(set(got.values())) == 1, got
    assert next(iter(got.values())).isoformat() == "2025-03-01T06:30:00+00:00"


def _lines_are(expected: dict[str, int]) -> Callable:
    def check(store, d: Path) -> None:
        df = store.requests().collect()
        got = {r: ln for r, ln in zip(df["request_id"], df["source_line"], strict=True) if r in expected}
        assert got == expected

    return check


def _models_roundtrip(store, d: Path) -> None:
    """Stored exactly, and exported exactly through `traceana export` (JSONL and Parquet)."""
    import polars as pl
    from click.testing import CliRunner

    from traceana.cli import main

    df = store.requests().filter(pl.col("request_id").str.starts_with("h")).collect().sort("source_line")
    want = {f"h{i}": m for i, m in enumerate(HOSTILE_MODELS)}
    assert dict(zip(df["request_id"], df["model"], strict=True)) == want
    for ext in ("jsonl", "parquet", "csv"):
        out = d / f"export.{ext}"
        res = CliRunner().invoke(main, ["export", "--store", str(store.root), "--out", str(out)])
        assert res.exit_code == 0, res.output
        back = {"jsonl": pl.read_ndjson, "parquet": pl.read_parquet}.get(
            ext, lambda p: pl.read_csv(p, infer_schema=False)
        )(out)
        got = dict(zip(back["request_id"], back["model"], strict=True))
        for k, m in want.items():
            # CSV cannot tell an empty string from null: the only allowed difference.
            assert got[k] == m or (ext == "csv" and m == "" and got[k] is None), (ext, k)


def _rates_nonnegative(store, d: Path) -> None:
    df = store.engine_samples().collect()
    assert df.height == 4
    for c in ("prompt_tokens_per_s", "generation_tokens_per_s"):
        vals = df[c].drop_nulls().to_list()
        assert vals and min(vals) >= 0, (c, vals)


def df_rid_prefix(prefix: str):
    import polars as pl

    return pl.col("request_id").str.starts_with(prefix)


def _parquet_ok(store, d: Path) -> None:
    df = store.requests().collect().filter(df_rid_prefix("p"))
    assert sorted(df["ttft_s"].to_list()) == [0.1, 0.25]


# ------------------------------------------------------------------ the corpus
CASES: list[Case] = [
    # --- whole-file refusals: one message, exit 2, store unchanged
    Case("empty_file", "refuse", write("empty.jsonl", b""), message="empty file"),
    Case("whitespace_only", "refuse", write("blank.jsonl", b" \n\r\n\t\n"), message="empty file"),
    Case("bom_only", "refuse", write("bom.csv", b"\xef\xbb\xbf"), message="empty file"),
    Case(
        "gzip_cut_mid_stream",
        "refuse",
        write("cut.jsonl.gz", gzip.compress(jsonl(*good("c", 50)))[:-40]),
        message="truncated gzip",
    ),
    Case(
        "gzip_corrupt",
        "refuse",
        write("bad.jsonl.gz", b"\x1f\x8b\x08\x00" + b"garbage" * 20),
        message="corrupt gzip",
    ),
    Case("gzip_empty_stream_cut", "refuse", write("tiny.gz", b"\x1f\x8b"), message="gzip"),
    Case(
        "gzip_bomb",
        "refuse",
        write("bomb.jsonl.gz", _gzip_bomb),
        args=("--max-decompressed-bytes", "10000000"),
        message="decompresses past the limit of 10,000,000 bytes",
    ),
    Case(
        "zstd_bomb",
        "refuse",
        write("bomb.jsonl.zst", _zstd_bomb),
        args=("--max-decompressed-bytes", "10000000"),
        message="decompresses past the limit",
    ),
    Case(
        "zstd_cut",
        "refuse",
        write("cut.jsonl.zst", lambda: zstandard.ZstdCompressor().compress(jsonl(*good("z", 50)))[:-9]),
        message="truncated zstd",
    ),
    Case(
        "bzip2_cut",
        "refuse",
        write("cut.jsonl.bz2", lambda: bz2.compress(jsonl(*good("bz", 50)))[:-30]),
        message="truncated bzip2",
    ),
    Case(
        "xz_bomb",
        "refuse",
        write("bomb.jsonl.xz", lambda: lzma.compress(b"\0" * (64 << 20))),
        args=("--max-decompressed-bytes", "10000000"),
        message="decompresses past the limit",
    ),
    Case("fifo", "refuse", _fifo, message="not a regular file"),
    Case("symlink_loop", "refuse", _symlink_loop, message="cannot open"),
    Case("dangling_symlink", "refuse", _dangling, message="cannot open"),
    Case("symlinked_directory", "refuse", _symlink_dir, message="is a directory"),
    Case("empty_directory", "refuse", _empty_dir, message="no input files"),
    Case("missing_path", "refuse", lambda d: [d / "does-not-exist.jsonl"], message="no such file"),
    Case(
        "binary_garbage",
        "refuse",
        write("garbage.bin", bytes(range(256)) * 64),
        message="format not recognized",
    ),
    Case(
        "unknown_text",
        "refuse",
        write("notes.txt", b"hello world\nthis is not a trace\n"),
        message="format not recognized",
    ),
    Case(
        "parquet_corrupt",
        "refuse",
        write("bad.parquet", b"PAR1" + b"\0garbage" * 100),
        message="unreadable Parquet",
    ),
    Case(
        "parquet_foreign_columns",
        "refuse",
        write("other.parquet", _parquet(pa.table({"a": [1], "b": ["x"]}))),
        message="without canonical columns",
    ),
    Case(
        "unknown_format_flag",
        "refuse",
        write("a.jsonl", jsonl(*good("uf"))),
        args=("--format", "nope"),
        message="unknown format 'nope'",
    ),
    # --- clean stores
    Case(
        "numbers_as_strings",
        "store",
        write(
            "s.jsonl",
            jsonl(
                row("s0", ttft_s="0.1", e2e_latency_s="0.5", prompt_tokens="10", output_tokens="20.0"),
                row("s1", arrival_time="1740830400"),
            ),
        ),
        stored=2,
    ),
    Case(
        "bom_crlf_csv",
        "store",
        write(
            "b.csv",
            _csv(
                CSV_HEAD + "b0,2025-03-01T12:00:00Z,0.1,0.5,m\nb1,2025-03-01T12:00:01Z,0.2,0.6,m\n",
                bom=True,
                crlf=True,
            ),
        ),
        stored=2,
        check=_lines_are({"b0": 2, "b1": 3}),
    ),
    Case(
        "bom_crlf_jsonl",
        "store",
        write("b.jsonl", b"\xef\xbb\xbf" + jsonl(*good("bj", 3)).replace(b"\n", b"\r\n")),
        stored=3,
    ),
    Case("header_only_csv", "refuse", write("h.csv", _csv(CSV_HEAD)), message="a CSV header and no rows"),
    Case(
        "csv_quoted_newlines_blank_lines",
        "store",
        write(
            "q.csv",
            _csv(
                CSV_HEAD
                + '\nq0,2025-03-01T12:00:00Z,0.1,0.5,"multi\nline"\n\nq1,2025-03-01T12:00:01Z,0.1,0.5,"a,b"\n'
            ),
        ),
        stored=2,
        check=_lines_are({"q0": 3, "q1": 6}),
    ),
    Case(
        "mixed_time_zones",
        "store",
        write(
            "tz.jsonl",
            jsonl(
                row("tz0", arrival_time="2025-03-01T12:00:00+05:30"),
                row("tz1", arrival_time="2025-03-01T06:30:00Z"),
                row("tz2", arrival_time="2025-03-01 06:30:00"),
                row("tz3", arrival_time="2025-03-01T01:30:00-05:00"),
                row("tz4", arrival_time=1740810600),
            ),
        ),
        stored=5,
        check=_same_instant,
    ),
    Case("gzip_concatenated_members", "store", write("c.jsonl.gz", _concat_gzip), stored=4),
    Case(
        "zstd_plain",
        "store",
        write("z.jsonl.zst", lambda: zstandard.ZstdCompressor().compress(jsonl(*good("zz", 3)))),
        stored=3,
    ),
    Case(
        "bzip2_and_xz",
        "store",
        lambda d: [
            *write("a.jsonl.bz2", lambda: bz2.compress(jsonl(*good("b2", 2))))(d),
            *write("b.jsonl.xz", lambda: lzma.compress(jsonl(*good("xz", 3))))(d),
        ],
        stored=5,
    ),
    Case("hostile_file_names", "store", _hostile_file_names, stored=2, check=_source_files_shown),
    Case("directory_walk", "store", _directory, stored=5, notes="hidden files and .md are skipped"),
    Case("ten_mb_single_line", "store", write("big.jsonl", _big_line), stored=2),
    Case(
        "hostile_model_names_roundtrip",
        "store",
        write("names.jsonl", jsonl(*[row(f"h{i}", model=m) for i, m in enumerate(HOSTILE_MODELS)])),
        stored=len(HOSTILE_MODELS),
        check=_models_roundtrip,
    ),
    Case(
        "parquet_typed_and_string",
        "store",
        write(
            "p.parquet",
            _parquet(
                pa.table(
                    {
                        "request_id": ["p0", "p1"],
                        "arrival_time": pa.array(
                            [1740830400_000_000_000, 1740830401_000_000_000], pa.timestamp("ns")
                        ),
                        "ttft_s": ["0.1", "0.25"],
                    }
                )
            ),
        ),
        stored=2,
        check=_parquet_ok,
    ),
    Case(
        "same_file_twice",
        "store",
        write("twice.jsonl", jsonl(*good("tw", 3))),
        stored=3,
        runs=2,
        notes="the second run is skipped: same bytes",
    ),
    Case(
        "same_bytes_other_name",
        "store",
        lambda d: [
            *write("x1.jsonl", jsonl(*good("sb", 2)))(d),
            *write("x2.jsonl", jsonl(*good("sb", 2)))(d),
        ],
        stored=2,
    ),
    Case(
        "prometheus_counter_reset",
        "store",
        write("scrape.prom", _prom_reset),
        stored=4,
        check=_rates_nonnegative,
        notes="a counter reset is a restart, never a negative rate",
    ),
    # --- row-level quarantines: good rows stored, bad rows with file, line, field, reason
    Case(
        "truncated_json_at_eof",
        "quarantine",
        write("t.jsonl", jsonl(*good("te", 2)) + b'{"request_id": "te2", "arri'),
        stored=2,
        quarantined=1,
        fields={None},
        reasons=("invalid JSON",),
        lines=[3],
    ),
    Case(
        "invalid_utf8_jsonl",
        "quarantine",
        write(
            "u.jsonl",
            jsonl(*good("ue", 2)) + b'{"request_id": "u\xff\xfe", "arrival_time": "2025-03-01T12:00:00Z"}\n',
        ),
        stored=2,
        quarantined=1,
        reasons=("invalid UTF-8",),
        lines=[3],
    ),
    Case(
        "invalid_utf8_csv",
        "quarantine",
        write(
            "u.csv",
            _csv(CSV_HEAD + "uc0,2025-03-01T12:00:00Z,0.1,0.5,m\n")
            + b"uc1,2025-03-01T12:00:00Z,0.1,0.5,\xff\xfe\nuc2,2025-03-01T12:00:00Z,0.1,0.5,m\n",
        ),
        stored=2,
        quarantined=1,
        reasons=("invalid UTF-8",),
        lines=[3],
    ),
    Case(
        "epoch_ms_for_seconds",
        "quarantine",
        write(
            "ms.jsonl", jsonl(row("ms0", arrival_time=1740830400123), row("ms1", arrival_time=1740830400.123))
        ),
        stored=1,
        quarantined=1,
        fields={"arrival_time"},
        reasons=("not guessed",),
        lines=[1],
    ),
    Case(
        "durations_all_in_ms",
        "store",
        write(
            "allms.jsonl",
            jsonl(*[row(f"am{i}", ttft_s=150.0 + i, e2e_latency_s=2300.0 + i) for i in range(5)]),
        ),
        stored=5,
        note="ttft_s: median 152 s is implausible for seconds",
        notes="each row is under a day: stored, and the file gets a note",
    ),
    Case(
        "duration_ms_for_seconds",
        "quarantine",
        write("d.jsonl", jsonl(row("dm0", ttft_s=250.0, e2e_latency_s=125000.0), row("dm1"))),
        stored=1,
        quarantined=1,
        fields={"e2e_latency_s"},
        reasons=("implausible_duration", "milliseconds"),
        lines=[1],
    ),
    Case(
        "negative_duration",
        "quarantine",
        write("n.jsonl", jsonl(row("ng0", ttft_s=-0.2), row("ng1"))),
        stored=1,
        quarantined=1,
        fields={"ttft_s"},
        reasons=("negative",),
        lines=[1],
    ),
    Case(
        "nan_token",
        "quarantine",
        write("nan.jsonl", jsonl(row("nn0", e2e_latency_s=float("nan")), row("nn1"))),
        stored=1,
        quarantined=1,
        fields={"e2e_latency_s"},
        reasons=("not_finite",),
        lines=[1],
    ),
    Case(
        "infinity_token",
        "quarantine",
        write(
            "inf.jsonl",
            jsonl(row("if0", ttft_s=float("inf")), row("if1", e2e_latency_s=float("-inf")), row("if2")),
        ),
        stored=1,
        quarantined=2,
        fields={"ttft_s", "e2e_latency_s"},
        reasons=("not_finite",),
        lines=[1, 2],
    ),
    Case(
        "nan_string",
        "quarantine",
        write("nans.jsonl", jsonl(row("ns0", tpot_s="NaN"), row("ns1", tpot_s="Infinity"), row("ns2"))),
        stored=1,
        quarantined=2,
        fields={"tpot_s"},
        reasons=("not_finite",),
        lines=[1, 2],
    ),
    Case(
        "ttft_gt_e2e",
        "quarantine",
        write(
            "tt.jsonl",
            jsonl(row("tg0", ttft_s=2.0, e2e_latency_s=1.0), row("tg1", ttft_s=1.0005, e2e_latency_s=1.0)),
        ),
        stored=1,
        quarantined=1,
        fields={"ttft_s"},
        reasons=("ttft_gt_e2e",),
        lines=[1],
    ),
    Case(
        "completion_before_arrival",
        "quarantine",
        write("cb.jsonl", jsonl(row("cb0", ttft_s=None, e2e_latency_s=-3.0), row("cb1"))),
        stored=1,
        quarantined=1,
        fields={"e2e_latency_s"},
        reasons=("negative",),
        lines=[1],
    ),
    Case(
        "scheduled_before_arrival",
        "quarantine",
        write(
            "sb.jsonl",
            jsonl(
                row("sc0", scheduled_time="2025-03-01T11:59:00Z"),
                row("sc1", scheduled_time="2025-03-01T12:00:01Z"),
            ),
        ),
        stored=1,
        quarantined=1,
        fields={"scheduled_time"},
        reasons=("scheduled_before_arrival",),
        lines=[1],
    ),
    Case(
        "timestamp_1970",
        "quarantine",
        write(
            "old.jsonl",
            jsonl(row("o0", arrival_time="1970-01-01T00:00:05Z"), row("o1", arrival_time=5), row("o2")),
        ),
        stored=1,
        quarantined=2,
        fields={"arrival_time"},
        reasons=("before 2000",),
        lines=[1, 2],
    ),
    Case(
        "timestamp_2100",
        "quarantine",
        write("fut.jsonl", jsonl(row("f0", arrival_time="2100-01-01T00:00:00Z"), row("f1"))),
        stored=1,
        quarantined=1,
        fields={"arrival_time"},
        reasons=("in the future",),
        lines=[1],
    ),
    Case(
        "duplicate_ids_within_file",
        "quarantine",
        write("dup.jsonl", jsonl(row("dp0"), row("dp1"), row("dp0", ttft_s=0.3))),
        stored=2,
        quarantined=1,
        fields={"request_id"},
        reasons=("duplicate: request_id seen earlier in the file",),
        lines=[3],
    ),
    Case(
        "duplicate_ids_across_files",
        "quarantine",
        lambda d: [*write("a.jsonl", jsonl(*good("x", 3)))(d), *write("b.jsonl", jsonl(*good("x", 4)))(d)],
        stored=4,
        quarantined=3,
        fields={"request_id"},
        reasons=("another source",),
        lines=[1, 2, 3],
    ),
    Case(
        "duplicate_of_stored_row",
        "quarantine",
        write("again.jsonl", jsonl(row("base-0"), row("new-0"))),
        stored=1,
        quarantined=1,
        fields={"request_id"},
        reasons=("already stored",),
        lines=[1],
    ),
    Case(
        "missing_ids_and_arrival",
        "quarantine",
        write(
            "mi.jsonl",
            jsonl(
                row("mi0", request_id=None),
                row("", arrival_time=None),
                row("  "),
                {"arrival_time": T0},
                row("mi4"),
            ),
        ),
        stored=1,
        quarantined=4,
        fields={"request_id"},
        reasons=("missing: request_id", "missing: arrival_time"),
        lines=[1, 2, 3, 4],
    ),
    Case(
        "bad_status",
        "quarantine",
        write("st.jsonl", jsonl(row("bs0", status="weird"), row("bs1", status="error"))),
        stored=1,
        quarantined=1,
        fields={"status"},
        reasons=("is not one of",),
        lines=[1],
    ),
    Case(
        "bad_tokens",
        "quarantine",
        write(
            "tok.jsonl",
            jsonl(
                row("bt0", prompt_tokens=-1),
                row("bt1", cached_prompt_tokens=11),
                row("bt2", output_tokens=12.5),
                row("bt3", prompt_tokens=10**30),
                row("bt4", cached_prompt_tokens=10),
            ),
        ),
        stored=1,
        quarantined=4,
        fields={"prompt_tokens", "cached_prompt_tokens", "output_tokens"},
        reasons=("negative", "cached_gt_prompt", "an integer"),
        lines=[1, 2, 3, 4],
    ),
    Case(
        "queue_prefill_gt_ttft",
        "quarantine",
        write(
            "qp.jsonl",
            jsonl(
                row("qp0", queue_time_s=0.08, prefill_time_s=0.05),
                row("qp1", queue_time_s=0.05, prefill_time_s=0.05),
            ),
        ),
        stored=1,
        quarantined=1,
        fields={"queue_time_s+prefill_time_s"},
        reasons=("queue_prefill_gt_ttft",),
        lines=[1],
    ),
    Case(
        "wrong_json_types",
        "quarantine",
        write(
            "wt.jsonl",
            jsonl(
                row("wt0", ttft_s=True),
                row("wt1", e2e_latency_s=[1]),
                row("wt2", arrival_time={"t": 1}),
                row("wt3", itl_s="[0.1, oops"),
                row("wt4", itl_s=[0.01, 0.02]),
            ),
        ),
        stored=1,
        quarantined=4,
        fields={"ttft_s", "e2e_latency_s", "arrival_time", "itl_s"},
        reasons=("does not parse",),
        lines=[1, 2, 3, 4],
    ),
    Case(
        "not_json_objects",
        "quarantine",
        write("no.jsonl", jsonl(row("nj0")) + b'[1, 2]\n"text"\n42\nnull\n'),
        stored=1,
        quarantined=4,
        fields={None},
        reasons=("not a JSON object",),
        lines=[2, 3, 4, 5],
    ),
    Case(
        "deeply_nested_json",
        "quarantine",
        write("deep.jsonl", _deep),
        stored=1,
        quarantined=1,
        fields={None},
        reasons=("nested deeper than 64",),
        lines=[2],
    ),
    Case(
        "ten_mb_line_over_limit",
        "quarantine",
        write("big.jsonl", _big_line),
        args=("--max-line-bytes", "1000000"),
        stored=1,
        quarantined=1,
        fields={None},
        reasons=("line longer than 1,000,000 bytes",),
        lines=[1],
    ),
    Case(
        "csv_unclosed_quote",
        "quarantine",
        write(
            "uq.csv",
            b'request_id,arrival_time\nu0,2025-03-01T12:00:00Z\n"u1,2025-03-01T12:00:00Z\nu2,2025-03-01T12:00:00Z\n',
        ),
        stored=1,
        quarantined=1,
        fields={None},
        reasons=("expected 2 fields",),
        lines=[3],
    ),
    Case(
        "csv_ragged_rows",
        "quarantine",
        write(
            "r.csv",
            _csv(
                CSV_HEAD
                + "rr0,2025-03-01T12:00:00Z,0.1,0.5,m\nrr1,2025-03-01T12:00:00Z\nrr2,2025-03-01T12:00:00Z,0.1,0.5,m,extra\nrr3,2025-03-01T12:00:00Z,0.1,0.5,m\n"
            ),
        ),
        stored=2,
        quarantined=2,
        fields={None},
        reasons=("expected 5 fields",),
        lines=[3, 4],
    ),
    Case(
        "column_type_change_row_100001",
        "quarantine",
        write("tc.jsonl", _type_change_100001),
        stored=100_001,
        quarantined=2,
        fields={"ttft_s"},
        reasons=("does not parse as a number",),
        lines=[100_001, 100_002],
    ),
    Case(
        "lone_surrogate_escape",
        "quarantine",
        write(
            "sur.jsonl",
            jsonl(row("ls0"))
            + b'{"request_id": "ls1", "arrival_time": "2025-03-01T12:00:00Z", "model": "\\ud800"}\n',
        ),
        stored=1,
        quarantined=1,
        lines=[2],
        reasons=("",),
    ),
    Case(
        "parquet_bad_values",
        "quarantine",
        write(
            "pb.parquet",
            _parquet(
                pa.table(
                    {
                        "request_id": ["pb0", "pb1"],
                        "arrival_time": ["2025-03-01T12:00:00Z", "yesterday"],
                        "ttft_s": ["0.1", "abc"],
                    }
                )
            ),
        ),
        stored=1,
        quarantined=1,
        fields={"arrival_time"},
        reasons=("does not parse as a timestamp",),
        lines=[2],
    ),
    Case(
        "directory_with_fifo",
        "refuse",
        _dir_with_fifo,
        stored=2,
        message="not a regular file",
        notes="the good file is stored, the FIFO refused",
    ),
    Case(
        "otlp_spans_missing_attributes",
        "store",
        write("spans.jsonl", _otlp_missing_attrs),
        stored=2,
        notes="spans with no attributes keep their span timing",
    ),
]
