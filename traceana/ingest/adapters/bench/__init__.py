"""Benchmark exports: per-request records of load generators (AIPerf, GenAI-Perf, LLMPerf, vLLM bench, GuideLLM, SGLang bench_serving, inference-perf, llm-load-test)."""
