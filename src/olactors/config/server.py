"""``[server]``: the public listener and what it holds against slow and hostile clients."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from ._base import Section, check_bind, check_cidrs


class ServerConfig(Section):
    """The public listener: webhooks (later also OAuth callbacks and the websocket)."""

    public_bind: str = "127.0.0.1:8080"
    #: Bodies over this are refused with 413 while being read.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    #: On shutdown, in-flight requests get this long to finish.
    graceful_timeout_s: float = Field(default=10.0, ge=0)
    #: A connection whose request headers are not complete this long after it
    #: opened (or after its last answer) is closed.
    header_timeout_s: float = Field(default=5.0, gt=0)
    #: A body not fully arrived this long after its headers is answered 408.
    body_timeout_s: float = Field(default=10.0, gt=0)
    #: Connections held open at once; past it a new one is answered 503.
    max_connections: int = Field(default=1000, ge=1)
    #: Bytes of request bodies held at once across every request; past it 503.
    max_bodies_in_flight_bytes: int = Field(default=64 * 1_048_576, ge=1)
    #: HTTP/2 without TLS (prior knowledge or Upgrade: h2c). Off: behind a load
    #: balancer nothing needs it, and one connection could open many streams.
    http2_cleartext: bool = False
    #: Load balancers and proxies (CIDRs) whose X-Forwarded-For is believed when
    #: a source has allow_from; any other peer is the sender itself.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Daemon processes on this host, sharing the listeners' sockets under one
    #: parent; "auto" is one per core this process may run on.
    processes: StrictInt | Literal["auto"] = 1

    _networks = field_validator("trusted_proxies")(check_cidrs)
    _bind = field_validator("public_bind")(check_bind)

    @field_validator("processes")
    @classmethod
    def _at_least_one(cls, processes: int | str) -> int | str:
        if isinstance(processes, int) and processes < 1:
            raise ValueError('processes must be at least 1, or "auto"')
        return processes

    def process_count(self) -> int:
        """How many daemon processes to run: ``processes``, "auto" resolved to the cores."""
        return process_count(self.processes)

    @model_validator(mode="after")
    def _a_body_fits_the_budget(self) -> ServerConfig:
        if self.max_bodies_in_flight_bytes < self.max_body_bytes:
            raise ValueError("max_bodies_in_flight_bytes must hold at least one max_body_bytes")
        return self


def process_count(processes: int | str) -> int:
    """``processes`` as a number: "auto" is the cores this process may be scheduled on."""
    if processes == "auto":
        return len(os.sched_getaffinity(0))
    return int(processes)
