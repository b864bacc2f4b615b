"""The gateway's view of simulated requests: LiteLLM ``StandardLoggingPayload`` JSON Lines.

One record per call as LiteLLM's logging callbacks receive it
(``litellm/types/utils.py::StandardLoggingPayload``; times are epoch seconds as
floats). A request that fell back is two calls sharing a ``trace_id``: the
primary deployment's 429 (status "failure", RateLimitError), then the fallback
deployment's answer, whose ``metadata.original_model_group`` names the group
the client asked for. The deployment id (``model_id``) is the vLLM instance
name, as set with ``model_info.id`` in the proxy config.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

#: $ per token (input, output) the proxy's model map prices each group at
PRICES = {"llama-3.1-8b": (1.0e-7, 1.0e-7), "llama-3.1-70b": (6.0e-7, 8.0e-7)}
_ERRORS = {  # error_type -> (HTTP code, exception text)
    "RateLimitError": ("429", "Hosted_vllmException - server overloaded: waiting queue is full"),
    "Timeout": ("408", "Hosted_vllmException - Request timed out"),
    "InternalServerError": ("500", "Hosted_vllmException - Internal Server Error"),
    "APIConnectionError": ("500", "Hosted_vllmException - Server disconnected without sending a response."),
    "BadRequestError": ("400", "Hosted_vllmException - This model's maximum context length is 32768 tokens."),
}


def _uuid(rng: np.random.Generator) -> str:
    h = rng.bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _record(
    rid,
    trace,
    start,
    first,
    end,
    model,
    group,
    original,
    inst,
    prompt,
    completion,
    finish,
    err,
    stream,
    retries,
):
    ok = err is None
    pin, pout = PRICES.get(model, (0.0, 0.0))
    cost = prompt * pin + completion * pout if ok else 0.0
    api_base = f"http://{inst}:8000/v1"
    code, message = _ERRORS.get(err, ("500", err or "")) if not ok else ("", "")
    response = None
    if ok:
        response = {
            "id": rid,
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"finish_reason": finish, "index": 0, "message": {"role": "assistant", "content": None}}
            ],
            "usage": {
                "completion_tokens": completion,
                "prompt_tokens": prompt,
                "total_tokens": prompt + completion,
            },
        }
    return {
        "id": rid,
        "trace_id": trace,
        "call_type": "acompletion",
        "cache_hit": None,
        "stream": stream,
        "status": "success" if ok else "failure",
        "custom_llm_provider": "hosted_vllm",
        "saved_cache_cost": 0.0,
        "startTime": start,
        "endTime": end,
        "completionStartTime": first,
        "response_time": round((first if stream else end) - start, 6),
        "model": model,
        "metadata": {
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "chat-frontend",
            "user_api_key_team_id": "team-chat",
            "user_api_key_org_id": None,
            "user_api_key_user_id": None,
            "spend_logs_metadata": None,
            "requester_ip_address": None,
            "applied_guardrails": [],
            "attempted_retries": 0,
            "attempted_fallbacks": retries,
            "original_model_group": original,
        },
        "cache_key": None,
        "response_cost": cost,
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "request_tags": [],
        "end_user": "",
        "api_base": api_base,
        "model_group": group,
        "model_id": inst,
        "requester_ip_address": None,
        "messages": None,
        "response": response,
        "model_parameters": {"stream": stream, "max_tokens": 1024, "temperature": 0.7},
        "hidden_params": {
            "model_id": inst,
            "api_base": api_base,
            "litellm_overhead_time_ms": 2.1,
            "litellm_model_name": f"hosted_vllm/{model}",
        },
        "error_str": None if ok else f"litellm.{err}: {err}: {message}",
        "error_information": {
            "error_code": code,
            "error_class": err or "",
            "llm_provider": "" if ok else "hosted_vllm",
            "traceback": "",
            "error_message": message,
        },
    }


def write_litellm_log(
    table: pa.Table, path: Path, rng: np.random.Generator, fallback_from_instance: dict[str, str]
) -> int:
    """Write the gateway records of ``table``'s rows (sorted by endTime, as callbacks fire). Returns the count.

    ``fallback_from_instance``: model -> the deployment whose 429 a fallback records.
    """
    names = [
        "request_id",
        "arrival_time",
        "ttft_s",
        "e2e_latency_s",
        "model",
        "fallback_from",
        "instance",
        "prompt_tokens",
        "output_tokens",
        "finish_reason",
        "status",
        "error_type",
    ]
    c = {n: table.column(n).to_pylist() for n in names}
    arr_us = table.column("arrival_time").cast(pa.int64()).to_pylist()
    recs: list[tuple[float, int, dict]] = []
    for i in range(table.num_rows):
        overhead = 0.002 + 0.004 * float(rng.random())
        start = round(arr_us[i] / 1e6 - overhead, 6)
        end = round(arr_us[i] / 1e6 + c["e2e_latency_s"][i], 6)
        ttft = c["ttft_s"][i]
        first = round(arr_us[i] / 1e6 + ttft, 6) if ttft is not None else end
        trace = _uuid(rng)
        asked = c["fallback_from"][i] or c["model"][i]
        err = None if c["status"][i] == "ok" else c["error_type"][i]
        if c["fallback_from"][i]:
            fb_end = round(start + 0.003 + 0.002 * float(rng.random()), 6)
            primary = fallback_from_instance[asked]
            rec = _record(
                _uuid(rng),
                trace,
                start,
                fb_end,
                fb_end,
                asked,
                asked,
                asked,
                primary,
                c["prompt_tokens"][i],
                0,
                None,
                "RateLimitError",
                True,
                0,
            )
            recs.append((fb_end, len(recs), rec))
        rec = _record(
            c["request_id"][i] if err is None else _uuid(rng),
            trace,
            start,
            first,
            end,
            c["model"][i],
            c["model"][i],
            asked,
            c["instance"][i],
            c["prompt_tokens"][i],
            c["output_tokens"][i] if err is None else 0,
            c["finish_reason"][i],
            err,
            True,
            1 if c["fallback_from"][i] else 0,
        )
        recs.append((end, len(recs), rec))
    recs.sort(key=lambda r: (r[0], r[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, separators=(",", ":")) + "\n" for _, _, r in recs), encoding="utf-8"
    )
    return len(recs)
