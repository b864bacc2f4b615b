"""Fleet description: instances, their service model, routing and admission policy.

Units: times in seconds, KV capacity in tokens. The numbers of the built-in
profiles are rough H100 figures for Llama 3.1 (KV bytes per token =
2 * layers * kv_heads * head_dim * bytes: 8B 128 KiB, 70B 320 KiB in bf16,
160 KiB with an fp8 KV cache), good enough to make plausible traces, not a
performance model of any real build.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from traceana.errors import ConfigError


@dataclass(frozen=True)
class ServiceModel:
    """How fast one instance serves (continuous batching, one prefill at a time).

    Formula:
        prefill_s(tokens) = prefill_base_s + prefill_s_per_token * tokens   (uncached prompt tokens)
        step_s(b)         = decode_base_s + decode_s_per_seq * b            (one token for each of b running)
    A request holds prompt + generated tokens of KV; when the running batch's KV
    would exceed ``kv_capacity_tokens`` the most recently admitted request is
    preempted (recompute, as vLLM does) and goes back to the head of the queue.
    """

    prefill_s_per_token: float
    decode_base_s: float
    decode_s_per_seq: float = 0.0
    prefill_base_s: float = 0.0
    max_batch: int = 256
    kv_capacity_tokens: int = 1 << 40

    def __post_init__(self) -> None:
        if (
            self.prefill_s_per_token < 0
            or self.decode_base_s < 0
            or self.decode_s_per_seq < 0
            or self.prefill_base_s < 0
        ):
            raise ConfigError("service times must be >= 0", key="service")
        if self.max_batch < 1 or self.kv_capacity_tokens < 2:
            raise ConfigError("max_batch must be >= 1 and kv_capacity_tokens >= 2", key="service")


@dataclass(frozen=True)
class InstanceSpec:
    """One serving replica (a vLLM engine) and what it runs on."""

    name: str
    model: str
    service: ServiceModel
    model_version: str = "v1"
    quantization: str = "bf16"
    gpu_type: str = "H100"
    gpu_count: int = 1


@dataclass(frozen=True)
class Fallback:
    """Send a request for ``from_model`` to ``to_model`` when every ``from_model`` queue holds >= ``queue_threshold``."""

    from_model: str
    to_model: str
    queue_threshold: int


@dataclass(frozen=True)
class Fleet:
    """Instances plus gateway policy.

    ``queue_limit``: waiting requests per instance beyond which a new request is
    rejected (status ``rejected``). ``queue_timeout_s``: a request still waiting
    this long gives up (status ``timeout``). ``error_rate``: fraction of admitted
    requests that fail mid-generation (status ``error``). ``post_median_s``: median
    of the post-processing remainder (detokenize + network) added to e2e.
    """

    instances: tuple[InstanceSpec, ...]
    queue_limit: int = 1 << 30
    queue_timeout_s: float = float("inf")
    fallbacks: tuple[Fallback, ...] = ()
    error_rate: float = 0.0
    post_median_s: float = 0.004
    sample_interval_s: float = 10.0
    max_model_len: int = 131072
    error_types: tuple[str, ...] = field(default=("InternalServerError",))

    def __post_init__(self) -> None:
        if not self.instances:
            raise ConfigError("a fleet needs at least one instance", key="instances")
        names = [i.name for i in self.instances]
        if len(set(names)) != len(names):
            raise ConfigError(f"instance names must be unique: {names}", key="instances")
        models = set(self.models)
        for fb in self.fallbacks:
            if fb.from_model not in models or fb.to_model not in models:
                raise ConfigError(
                    f"fallback {fb.from_model} -> {fb.to_model}: unknown model. Hint: one of {sorted(models)}",
                    key="fallbacks",
                )
        if (
            self.queue_limit < 0
            or self.queue_timeout_s <= 0
            or not 0 <= self.error_rate < 1
            or self.sample_interval_s <= 0
        ):
            raise ConfigError(
                "queue_limit >= 0, queue_timeout_s > 0, 0 <= error_rate < 1, sample_interval_s > 0",
                key="fleet",
            )

    @property
    def models(self) -> tuple[str, ...]:
        """Model names in first-seen order."""
        return tuple(dict.fromkeys(i.model for i in self.instances))

    def replicated(self, n: int) -> Fleet:
        """The same fleet with each model's instances repeated to ``n`` times the count (names suffixed)."""
        if n < 1:
            raise ConfigError("replica count must be >= 1", key="instances")
        out = []
        for k in range(n):
            for spec in self.instances:
                out.append(replace(spec, name=spec.name if k == 0 else f"{spec.name}-r{k}"))
        return replace(self, instances=tuple(out))


# Built-in service profiles (see module docstring for where the numbers come from).
LLAMA_8B_H100 = ServiceModel(
    prefill_s_per_token=0.00007,
    prefill_base_s=0.012,
    decode_base_s=0.007,
    decode_s_per_seq=0.00006,
    max_batch=256,
    kv_capacity_tokens=427_232,
)
LLAMA_70B_4XH100 = ServiceModel(
    prefill_s_per_token=0.00016,
    prefill_base_s=0.025,
    decode_base_s=0.022,
    decode_s_per_seq=0.0002,
    max_batch=256,
    kv_capacity_tokens=442_368,
)
LLAMA_70B_FP8_4XH100 = ServiceModel(
    prefill_s_per_token=0.00011,
    prefill_base_s=0.020,
    decode_base_s=0.016,
    decode_s_per_seq=0.00015,
    max_batch=256,
    kv_capacity_tokens=1_350_000,
)

PROFILES: dict[str, InstanceSpec] = {
    "llama-3.1-8b": InstanceSpec("vllm-8b-0", "llama-3.1-8b", LLAMA_8B_H100, "v1", "bf16", "H100", 1),
    "llama-3.1-70b": InstanceSpec("vllm-70b-0", "llama-3.1-70b", LLAMA_70B_4XH100, "v1", "bf16", "H100", 4),
    "llama-3.1-70b-fp8": InstanceSpec(
        "vllm-70b-fp8-0", "llama-3.1-70b", LLAMA_70B_FP8_4XH100, "v2-fp8", "fp8", "H100", 4
    ),
}


def demo_fleet(scale: int = 1, sample_interval_s: float = 10.0) -> Fleet:
    """The fleet of the bundled samples: 3 x llama-3.1-8b (1xH100), 2 x llama-3.1-70b (4xH100).

    One 70B instance runs the fp8-quantized v2 (more KV room, faster decode).
    A 70B request falls back to the 8B pool when every 70B queue holds >= 8.
    ``scale`` multiplies the instance count (``traceana simulate --requests N``).
    """
    p8, p70, p70q = PROFILES["llama-3.1-8b"], PROFILES["llama-3.1-70b"], PROFILES["llama-3.1-70b-fp8"]
    base = [
        replace(p8, name="vllm-8b-0"),
        replace(p8, name="vllm-8b-1"),
        replace(p8, name="vllm-8b-2"),
        replace(p70, name="vllm-70b-0"),
        replace(p70q, name="vllm-70b-1"),
    ]
    fleet = Fleet(
        instances=tuple(base),
        queue_limit=64,
        queue_timeout_s=10.0,
        fallbacks=(Fallback("llama-3.1-70b", "llama-3.1-8b", 8),),
        error_rate=0.003,
        post_median_s=0.004,
        sample_interval_s=sample_interval_s,
        max_model_len=32768,
        error_types=("InternalServerError", "InternalServerError", "APIConnectionError"),
    )
    return fleet.replicated(scale) if scale > 1 else fleet
