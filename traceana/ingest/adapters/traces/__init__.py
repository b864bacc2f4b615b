"""Production arrival traces: Azure LLM inference, Mooncake, BurstGPT."""
