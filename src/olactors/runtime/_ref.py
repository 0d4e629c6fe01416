"""Actor references: the only way to talk to an actor."""

from __future__ import annotations

import math
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import trio

from ._errors import AskTimeout
from ._mailbox import Mailbox
from ._reply import Reply

M = TypeVar("M", bound=msgspec.Struct)

#: Default ``ask`` timeout in seconds.
DEFAULT_ASK_TIMEOUT_S = 5.0


def _check(message: object) -> None:
    if not isinstance(message, msgspec.Struct):
        kind = type(message).__name__
        raise TypeError(f"actor messages are msgspec.Struct instances, not {kind}")


class ActorRef(Generic[M]):
    """A handle on an actor's mailbox, valid across the actor's restarts.

    Refs are cheap, hashable and safe to share between tasks. They stay valid
    while the actor restarts (its mailbox survives); once the actor is gone
    for good, sending raises :class:`ActorStopped`.
    """

    __slots__ = ("_mailbox", "path")

    def __init__(self, path: str, mailbox: Mailbox) -> None:
        self.path = path
        self._mailbox = mailbox

    def __repr__(self) -> str:
        return f"<ActorRef {self.path}>"

    async def tell(self, message: M) -> None:
        """Send without waiting for an answer.

        Blocks while the mailbox is full (backpressure). A checkpoint: if
        cancelled, the message was not enqueued.
        """
        _check(message)
        await self._mailbox.put((message, None))

    def tell_nowait(self, message: M) -> None:
        """Send now or raise :class:`MailboxFull`. Never blocks."""
        _check(message)
        self._mailbox.put_nowait((message, None))

    async def ask(
        self,
        message: M,
        *,
        timeout: float = DEFAULT_ASK_TIMEOUT_S,  # noqa: ASYNC109 -- part of the ask contract
    ) -> Any:
        """Send and wait for the actor's reply; return it, or raise the error it replied.

        The timeout covers both waiting for mailbox space and waiting for the
        reply; past it :class:`AskTimeout` is raised and a reply that comes
        later is dropped. The message may still be handled after a timeout:
        an ask is not a transaction. ``math.inf`` waits as long as it takes;
        a negative or NaN timeout is a ``ValueError``, before anything is sent.
        """
        _check(message)
        if not timeout >= 0:  # also refuses NaN
            raise ValueError(f"an ask timeout is >= 0 seconds, not {timeout}")
        reply = Reply()
        envelope = (message, reply)
        deadline = trio.current_time() + timeout
        enqueued = self._mailbox.offer(envelope)
        timer = self._mailbox.timer
        if enqueued and timer is not None and timer.running:
            # The common case: no cancel scope, the system's ask timer keeps
            # the deadline, and waiting for the reply is the checkpoint.
            reply.expect_by(self.path, timeout)
            if deadline != math.inf:
                timer.watch(reply, deadline)
            return await reply.wait()
        with trio.CancelScope(deadline=deadline):
            if not enqueued:
                await self._mailbox.put(envelope)
            return await reply.wait()
        raise AskTimeout(self.path, timeout)

    @property
    def mailbox_depth(self) -> int:
        return self._mailbox.depth()


class Refs(Protocol):
    """Whatever finds actors by path: the :class:`ActorSystem`, or an actor's context.

    The seam every package's ``at(refs, path)`` takes, so a handle on the
    store or a provider's guard is built the same way inside and outside
    the tree.
    """

    def actor_ref(self, path: str) -> ActorRef[Any]: ...
