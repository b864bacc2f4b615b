"""Reading the SLOs that rules are written for: traceana.toml or an OpenSLO v1 file."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from traceana.config import load_config
from traceana.errors import ConfigError
from traceana.rules.openslo_prom import load_openslo_prom
from traceana.rules.sli import PromSLO, metrics_from_dict, prom_slos


def load_prom_slos(path: str | Path, service: str | None = None) -> list[PromSLO]:
    """SLOs from traceana.toml (``[[slo]]`` + ``[prometheus]``) or an OpenSLO YAML file.

    OpenSLO documents whose metric source is ``prometheus`` are passed through
    (:mod:`traceana.rules.openslo_prom`); ``type: traceana`` ones map like [[slo]].
    """
    p = str(path)
    if p.endswith(".toml"):
        cfg = load_config(p)
        try:
            raw = tomllib.loads(Path(p).read_text(encoding="utf-8")).get("prometheus")
        except (OSError, tomllib.TOMLDecodeError):  # load_config has already reported these
            raw = None
        m = metrics_from_dict(raw, p)
        if service:
            m = replace(m, service=service)
        if not cfg.slos:
            raise ConfigError("no [[slo]] table", "slo", p)
        return prom_slos(cfg.slos, m)
    return load_openslo_prom(p, service)
