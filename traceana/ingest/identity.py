"""How each format forms a request's identity (``request_id``), stated once for `check` and the README.

A request id is unique per store: a row whose id is already stored from
another source is quarantined as a duplicate (the OTLP spans, the Prometheus
scrapes and the LiteLLM log of one day are views of the same requests). Where
the source has an id it is used as is; where it has none, traceana synthesizes
``<origin>#<n>`` with ``origin`` the file's path relative to the directory that
was ingested (its file name when the file itself was named) and ``n`` its line,
row or array position. So runs that share a file name and restart their
numbering (LLMPerf writes ``<model>_<in>_<out>_individual_responses.json`` in
every run folder) never collide when their parent folder is ingested, and
re-ingesting a file adds nothing (a file already stored, by its bytes, is
skipped whole).
"""

from __future__ import annotations

ORIGIN = "<origin>"

IDENTITY: dict[str, str] = {
    "vllm_otlp": "gen_ai.request.id (vLLM's request id), else the spanId",
    "otel_genai": "gen_ai.response.id, else the spanId",
    "aiperf": f"metadata.x_request_id, else {ORIGIN}#<line>",
    "litellm": f"id (or request_id), else {ORIGIN}#<record>",
    "tgi_json": f"the span's trace_id, else {ORIGIN}:<line>",
    "tgi_text": f"the line's trace_id, else {ORIGIN}:<line>",
    "llmperf": f"{ORIGIN}#<position in the array> (LLMPerf stores no id)",
    "genai_perf": f"{ORIGIN}#<request number> (no id in the export)",
    "vllm_bench": f"{ORIGIN}#<position in the per-request lists> (no id in the result)",
    "azure": f"{ORIGIN}#<line> (no id in the trace)",
    "mooncake": f"{ORIGIN}#<line> (no id in the trace)",
    "burstgpt": f"{ORIGIN}#<line> (no id in the trace)",
    "llm_load_test": f"{ORIGIN}#<position in results> (no id in output.json)",
    "guidellm": f"request_id (GuideLLM's per-request UUID), else {ORIGIN}#<n> (records in file order)",
    "sglang_bench": f"{ORIGIN}#<line>.<position in the run's lists> (no id in the output)",
    "inference_perf": f"{ORIGIN}#<position in the report> (no id in the record)",
    "langfuse": "the observation's id (rows without one are quarantined)",
    "openinference": "the spanId (OpenInference records no response id)",
    "canonical": "the request_id column",
    "mapped": f"the column mapped to request_id, else {ORIGIN}#<line>",
}

ORIGIN_NOTE = (
    "<origin> = the file's path relative to the directory ingested (its name when named directly), "
    "so distinct runs never collide"
)


def describe(fmt: str) -> str:
    """One line: how ``fmt`` forms request ids ('-' for formats without requests)."""
    return IDENTITY.get(fmt, "-")
