"""Each kind of webhook source, once: the verifier it builds and what its secrets look like."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..config import SourceConfig, SourceKind, WebhooksConfig
from ..signing import secret_key
from .verifiers import (
    AbacatePayVerifier,
    SendGridVerifier,
    StandardVerifier,
    StripeVerifier,
    Verifier,
    abacatepay,
    stripe,
)

#: Builds a source's verifier from its configuration, its secrets and [webhooks].
Build = Callable[[SourceConfig, Sequence[str], WebhooksConfig], Verifier]


@dataclass(frozen=True, slots=True)
class Scheme:
    """How one kind of source proves its webhooks.

    ``check_secret`` raises ``ValueError`` (naming no secret) for a secret that
    cannot be right, at start and in check-config: a placeholder or a
    truncated paste fails there, not as a stream of refused webhooks.
    ``static_secret`` marks a scheme whose only proof of origin is a secret
    that never changes (a source of it without allow_from gets a warning).
    """

    build: Build
    check_secret: Callable[[str], object] | None = None
    static_secret: bool = False


def _sendgrid(source: SourceConfig, secrets: Sequence[str], hooks: WebhooksConfig) -> Verifier:
    assert source.public_key is not None  # the config requires it for this kind
    return SendGridVerifier(source.public_key, tolerance_s=source.tolerance_s)


SCHEMES: dict[SourceKind, Scheme] = {
    "stripe": Scheme(
        lambda source, secrets, hooks: StripeVerifier(secrets, tolerance_s=source.tolerance_s),
        stripe.check_secret_format,
    ),
    "standard": Scheme(
        lambda source, secrets, hooks: StandardVerifier(secrets, tolerance_s=source.tolerance_s),
        secret_key,
    ),
    "sendgrid": Scheme(_sendgrid),
    "abacatepay": Scheme(
        # Replays past the dedup window are refused by their resources' updatedAt.
        lambda source, secrets, hooks: AbacatePayVerifier(
            secrets, source.public_key or abacatepay.PUBLIC_KEY, max_age_s=hooks.dedup_ttl_s
        ),
        abacatepay.check_secret_format,
        static_secret=True,
    ),
}
