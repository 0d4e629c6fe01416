"""``[admin]``: the admin listener."""

from __future__ import annotations

from pydantic import Field, field_validator

from ._base import Section, check_bind


class AdminConfig(Section):
    """The admin listener: loopback by default; elsewhere only with a token."""

    bind: str = "127.0.0.1:8081"
    #: The variable holding the bearer token every admin call must carry.
    token_env: str = "OLACTORS_ADMIN_TOKEN"
    #: Let /healthz, /readyz and /metrics answer without the token (load
    #: balancers, Prometheus).
    open_probes: bool = False
    #: Connections held open at once (operators, Prometheus, a dashboard or two).
    max_connections: int = Field(default=64, ge=1)
    #: Host names the admin answers to besides 127.0.0.1, localhost, ::1 and its
    #: bind's host (what a load balancer's probe sends as Host, say). Any other
    #: Host is refused: a DNS-rebinding page cannot read the admin.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: A dashboard login lasts this long; logging out ends it sooner.
    session_ttl_s: float = Field(default=8 * 3600.0, gt=0)

    _bind = field_validator("bind")(check_bind)
