"""A seeded fleet simulator: arrivals in, canonical ``requests`` and ``engine_samples`` out.

Arrival processes (:mod:`.arrivals`), replay of real traces (:mod:`.replay`), the
fleet and its service model (:mod:`.fleet`), the discrete-event engine
(:mod:`.engine`), canonical tables (:mod:`.tables`), the what-if planner
(:mod:`.whatif`), the synthetic fleet day (:mod:`.scenario`) and the writers
of the bundled samples (:mod:`.samples`, :mod:`.realformats`, :mod:`.gateway`).
"""

from __future__ import annotations

from traceana.simulate.arrivals import (
    Arrivals,
    diurnal_profile,
    lognormal_tokens,
    poisson_arrivals,
    renewal_arrivals,
)
from traceana.simulate.fleet import PROFILES, Fallback, Fleet, InstanceSpec, ServiceModel, demo_fleet
from traceana.simulate.replay import read_arrivals
from traceana.simulate.samples import write_fleet_day, write_samples
from traceana.simulate.scenario import DayPlan, day_arrivals, fleet_day
from traceana.simulate.tables import SimOutput, simulate
from traceana.simulate.whatif import WhatIfResult, WhatIfRow, format_whatif, whatif

__all__ = [
    "PROFILES",
    "Arrivals",
    "DayPlan",
    "Fallback",
    "Fleet",
    "InstanceSpec",
    "ServiceModel",
    "SimOutput",
    "WhatIfResult",
    "WhatIfRow",
    "day_arrivals",
    "demo_fleet",
    "diurnal_profile",
    "fleet_day",
    "format_whatif",
    "lognormal_tokens",
    "poisson_arrivals",
    "read_arrivals",
    "renewal_arrivals",
    "simulate",
    "whatif",
    "write_fleet_day",
    "write_samples",
]
