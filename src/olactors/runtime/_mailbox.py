"""Bounded mailboxes that outlive the actor instances reading them."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import trio

from ._errors import ActorStopped, MailboxFull
from ._reply import Reply

if TYPE_CHECKING:
    from ._timer import AskTimer

#: What travels in a mailbox: the message and, for an ask, its reply slot.
#: A tuple, because this is the hot path and a tuple is the cheapest carrier.
Envelope = tuple[Any, Reply | None]

#: Not a message: wakes an idle reader so that it looks at its stop flags.
#: Cheaper than a cancel scope around every idle wait.
WAKE: Envelope = (None, None)


class Mailbox:
    """A bounded FIFO of envelopes with a redelivery lane in front of it.

    The mailbox belongs to the actor's *cell*, not to an actor instance, so
    when the instance crashes and its supervisor starts a new one, every
    queued message is still there. A message that was being handled when the
    instance died goes back to the redelivery lane and is handed to the next
    instance first.

    ``put`` blocks while the mailbox is full (backpressure on the sender);
    ``put_nowait`` raises :class:`MailboxFull` instead. Once the mailbox is
    closed both raise :class:`ActorStopped`, including for senders that were
    blocked at the time of closing.
    """

    __slots__ = (
        "_closed",
        "_receive",
        "_send",
        "capacity",
        "owner",
        "path",
        "redelivery",
        "timer",
    )

    def __init__(self, path: str, capacity: int, timer: AskTimer | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self.path = path
        self.capacity = capacity
        self._send, self._receive = trio.open_memory_channel[Envelope](capacity)
        self.redelivery: deque[Envelope] = deque()
        self._closed = False
        #: The actor system's ask timer, which asks to this mailbox use.
        self.timer = timer
        #: The task of the actor reading this mailbox, while an incarnation runs.
        self.owner: trio.lowlevel.Task | None = None

    async def put(self, envelope: Envelope) -> None:
        """Enqueue, waiting while the mailbox is full. A checkpoint.

        The reader itself never waits: it is the only one who would make
        room, so on a full mailbox it gets :class:`MailboxFull` at once
        instead of a silent deadlock.
        """
        # The steps of trio's own send, so that who is sending is asked only
        # when the mailbox is full, never on the hot path.
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.offer(envelope):
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self.owner is not None and trio.lowlevel.current_task() is self.owner:
            raise MailboxFull(self.path, self.capacity)
        try:
            await self._send.send(envelope)
        except trio.ClosedResourceError:
            raise ActorStopped(self.path) from None

    def offer(self, envelope: Envelope) -> bool:
        """Enqueue if there is room now; False if full. Never blocks.

        Raises :class:`ActorStopped` once closed.
        """
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            return False
        except trio.ClosedResourceError:
            raise ActorStopped(self.path) from None
        return True

    def put_nowait(self, envelope: Envelope) -> None:
        """Enqueue now or raise :class:`MailboxFull`. Never blocks."""
        if not self.offer(envelope):
            raise MailboxFull(self.path, self.capacity)

    def poll(self) -> Envelope | None:
        """Next envelope, redeliveries first, or None when empty (no exception to build).

        Raises ``trio.EndOfChannel`` once closed and empty.
        """
        if self.redelivery:
            return self.redelivery.popleft()
        try:
            return self._receive.receive_nowait()
        except trio.WouldBlock:
            return None

    def get_nowait(self) -> Envelope:
        """Next envelope, redeliveries first; raises ``trio.WouldBlock`` when empty."""
        if self.redelivery:
            return self.redelivery.popleft()
        return self._receive.receive_nowait()

    async def get(self) -> Envelope:
        """Next envelope, waiting for one. Cancel-safe: nothing is lost if cancelled."""
        if self.redelivery:
            return self.redelivery.popleft()
        return await self._receive.receive()

    def wake(self) -> None:
        """Hand ``WAKE`` to the reader if it is blocked in ``get``. Never blocks or raises.

        A reader already handed a message (but not yet running) needs no
        wake-up: it looks at its flags after that message.
        """
        if self._receive.statistics().tasks_waiting_receive:
            self._send.send_nowait(WAKE)  # goes straight to the waiting reader

    @property
    def closed(self) -> bool:
        return self._closed

    def depth(self) -> int:
        """Messages waiting, including those queued for redelivery."""
        return self._receive.statistics().current_buffer_used + len(self.redelivery)

    def close(self) -> list[Envelope]:
        """Refuse new messages and return those still queued, in order.

        Senders blocked in ``put`` wake with :class:`ActorStopped`.
        """
        self._closed = True
        self._send.close()
        left = list(self.redelivery)
        self.redelivery.clear()
        while True:
            try:
                envelope = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return left
            if envelope is not WAKE:
                left.append(envelope)

    def reopen(self) -> None:
        """Accept messages again after ``close`` (a stopped child started anew)."""
        if self._closed:
            self._send, self._receive = trio.open_memory_channel[Envelope](self.capacity)
            self._closed = False
