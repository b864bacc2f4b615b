"""OpenTelemetry spans in OTLP JSON: vLLM's llm_request spans, GenAI semantic conventions, OpenInference."""
