"""``[api]``: the app API, the consumer app's own door (machine to machine, ``/v1``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from ._base import Section, check_bind


class ApiConfig(Section):
    """The listener the consumer app's backend calls, apart from the public and admin ones."""

    bind: str = "127.0.0.1:8082"
    #: The variable holding the app's bearer keys, comma-separated: during a
    #: rotation both the old and the new key are accepted. Unset, a key is
    #: generated into <state_dir>/api.key at the first start (on loopback only).
    keys_env: str = "OLACTORS_API_KEYS"
    #: A POST repeated with the same Idempotency-Key within this long gets the
    #: first answer again (Stripe keeps keys 24 h).
    idempotency_ttl_s: float = Field(default=86_400.0, gt=0)
    #: Request bodies over this are refused with 413.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    #: Connections held open at once; past it a new one is answered 503.
    max_connections: int = Field(default=256, ge=1)

    _bind = field_validator("bind")(check_bind)
