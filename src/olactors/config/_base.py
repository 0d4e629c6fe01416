"""What every configuration section shares, and the error a bad configuration raises."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from ..http import split_bind


class ConfigError(Exception):
    """The configuration file is missing, not TOML, or not valid."""


class Section(BaseModel):
    # Unknown keys are typos until proven otherwise: refuse them. TOML spells
    # inf and nan; no duration, rate or size here means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_cidrs(cidrs: list[str]) -> list[str]:
    """The CIDRs, if each parses (``ValueError`` names the first that does not)."""
    for cidr in cidrs:
        ipaddress.ip_network(cidr, strict=False)
    return cidrs


def check_bind(bind: str) -> str:
    """A listener's ``host:port``, refused at load when it would not bind as written."""
    split_bind(bind)
    return bind


def read_secret(env: Mapping[str, str], variable: str, where: str) -> str:
    """The value of ``variable``; ConfigError naming it and ``where`` if unset or empty."""
    value = env.get(variable)
    if not value:
        raise ConfigError(f"{where} names {variable}, which is not set")
    return value
