"""One module per source format, grouped by family; each defines ADAPTER (see traceana.ingest.base).

- ``bench/``: benchmark exports (AIPerf, GenAI-Perf, LLMPerf, vLLM bench, GuideLLM, SGLang, inference-perf, llm-load-test)
- ``otel/``: OpenTelemetry spans (vLLM, GenAI semantic conventions, OpenInference)
- ``prometheus/``: engine time series (Prometheus scrapes and API results, AIPerf server metrics and GPU telemetry)
- ``gateways/``: gateway and LLM-observability logs (LiteLLM, TGI, Langfuse)
- ``traces/``: production arrival traces (Azure, Mooncake, BurstGPT)
- ``canonical``, ``mapped``: traceana's own columns, and in-house logs through a column map

Shared helpers start with "_" and are named for what they do: ``_rows`` (row-wise
tables), ``_columnar`` (CSV/JSONL parsing with per-line quarantine),
``_column_map``, ``_arrival_tables``, ``_records``, ``_duckjson``.
"""
