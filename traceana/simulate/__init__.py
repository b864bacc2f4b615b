"""A seeded fleet simulator: arrivals in, canonical ``requests`` and ``engine_samples`` out."""

from __future__ import annotations
