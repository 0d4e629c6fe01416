"""The actor runtime: actors, refs, mailboxes and OTP-style supervisors on trio.

It knows nothing of providers or HTTP; everything else in olactors is built
on it. The whole public surface is re-exported here.
"""

from ._actor import Actor, ActorContext
from ._clock import Clock
from ._control import SupervisorRef
from ._dropped import DroppedMessage, DroppedMessages
from ._errors import (
    ActorError,
    ActorNotFound,
    ActorStopped,
    AskTimeout,
    ChildStartFailed,
    DuplicateChild,
    InjectedCrash,
    MailboxFull,
    MessageDropped,
    ReplyAbandoned,
    RestartIntensityExceeded,
    RestartsExhausted,
    SystemHalted,
    TopLevelFailure,
)
from ._ref import DEFAULT_ASK_TIMEOUT_S, ActorRef, Refs
from ._reply import Reply
from ._snapshot import (
    ActorSnapshot,
    ErrorInfo,
    Snapshot,
    Status,
    SupervisorSnapshot,
    unwrap_group,
    walk,
)
from ._spec import ActorSpec, Backoff, ChildSpec, Restart, Strategy, SupervisorSpec
from ._system import ActorSystem

__all__ = [
    "DEFAULT_ASK_TIMEOUT_S",
    "Actor",
    "ActorContext",
    "ActorError",
    "ActorNotFound",
    "ActorRef",
    "ActorSnapshot",
    "ActorSpec",
    "ActorStopped",
    "ActorSystem",
    "AskTimeout",
    "Backoff",
    "ChildSpec",
    "ChildStartFailed",
    "Clock",
    "DroppedMessage",
    "DroppedMessages",
    "DuplicateChild",
    "ErrorInfo",
    "InjectedCrash",
    "MailboxFull",
    "MessageDropped",
    "Refs",
    "Reply",
    "ReplyAbandoned",
    "Restart",
    "RestartIntensityExceeded",
    "RestartsExhausted",
    "Snapshot",
    "Status",
    "Strategy",
    "SupervisorRef",
    "SupervisorSnapshot",
    "SupervisorSpec",
    "SystemHalted",
    "TopLevelFailure",
    "unwrap_group",
    "walk",
]
