"""One verifier per provider signature scheme, chosen by a source's ``kind``."""

from ._common import Verifier
from .abacatepay import AbacatePayVerifier
from .sendgrid import SendGridVerifier
from .standard import StandardVerifier
from .stripe import StripeVerifier

__all__ = [
    "AbacatePayVerifier",
    "SendGridVerifier",
    "StandardVerifier",
    "StripeVerifier",
    "Verifier",
]
