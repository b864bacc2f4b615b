"""Gateway and LLM-observability logs: LiteLLM, Hugging Face TGI's router, Langfuse exports."""
