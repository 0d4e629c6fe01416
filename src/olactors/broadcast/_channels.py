"""Each channel's form of an event, and the destinations that take a target there.

A broadcast is stored once; each of its targets is an item in its channel's
queue carrying the whole broadcast and its target's index. The channel's
destination picks its target out, transforms the event for the channel (as
the seed's ``transformForChannel`` does) and makes one attempt:

- websocket: ``{"type", "data", "timestamp"}`` on the topic;
- webhook: ``{"event", "data", "timestamp"}``, signed (see ``_endpoints``);
- push: ``{"title", "body", "data"}`` (see ``_push``);
- email: the target's dynamic template, filled with the payload.
"""

from __future__ import annotations

from typing import Any

from ..clients import ProviderClient, ProviderError
from ..clients.sendgrid import SendGridClient
from ..delivery import AttemptFailed, AttemptRejected, Delivered
from ..resilience import ResilienceError
from ..runtime import ActorRef
from ..store import QueueItem
from ._hub import Publish
from ._model import StoredEvent, Target, decode_stored

#: Item metadata: which of the broadcast's targets an item is.
TARGET = "target"


def unpack(item: QueueItem) -> tuple[StoredEvent, Target]:
    """The event and this item's target."""
    stored = decode_stored(item.payload)
    return stored.event, stored.targets[int(item.meta[TARGET])]


def for_websocket(event: StoredEvent) -> dict[str, Any]:
    return {"type": event.type, "data": event.payload, "timestamp": event.occurred_at}


def for_webhook(event: StoredEvent) -> dict[str, Any]:
    return {"event": event.type, "data": event.payload, "timestamp": event.occurred_at}


def for_push(event: StoredEvent) -> dict[str, Any]:
    """A notification's title and body come from the payload's own ``title`` and
    ``body`` when it has them (strings); else the title is the event's type."""
    title, body = event.payload.get("title"), event.payload.get("body")
    return {
        "title": title if isinstance(title, str) else event.type,
        "body": body if isinstance(body, str) else "",
        "data": event.payload,
    }


def for_email(event: StoredEvent, to: str, template: str, sender: str) -> dict[str, Any]:
    """A SendGrid v3 mail send: the template by id, the payload as its dynamic data.

    The event's id rides along as a custom argument, so SendGrid's own event
    webhooks (which olactors takes in) can be matched to the broadcast.
    """
    return {
        "from": {"email": sender},
        "template_id": template,
        "personalizations": [{"to": [{"email": to}], "dynamic_template_data": event.payload}],
        "custom_args": {"olactors_event": event.id},
    }


class WebsocketChannel:
    """Puts each websocket target's message on its topic in the hub."""

    def __init__(self, hub: ActorRef[Any]) -> None:
        self._hub = hub

    async def deliver(self, item: QueueItem) -> Delivered:
        event, target = unpack(item)
        topic = getattr(target, "topic", None)
        if topic is None:
            raise AttemptRejected(f"not a websocket target: {target}")
        offset = await self._hub.ask(Publish(topic, for_websocket(event)))
        return Delivered(response=f'{{"offset": {offset}}}'.encode())

    async def aclose(self) -> None:
        return None


class EmailChannel:
    """Sends each email target through the SendGrid client (its limiter and breaker).

    SendGrid takes no idempotency key, so the client never retries a send
    itself; the channel's schedule retries what SendGrid refused for now
    (429, 5xx, no connection). A 4xx other than 429 (a bad template id, a
    rejected address) fails the target at once: it would fail again.
    """

    def __init__(self, client: ProviderClient, sender: str) -> None:
        self._http = client
        self._client = SendGridClient(client)
        self._sender = sender

    async def deliver(self, item: QueueItem) -> Delivered:
        event, target = unpack(item)
        to, template = getattr(target, "to", None), getattr(target, "template", None)
        if to is None or template is None:
            raise AttemptRejected(f"not an email target: {target}")
        try:
            message_id = await self._client.send_mail(for_email(event, to, template, self._sender))
        except ResilienceError as exc:  # our own limiter or breaker: later
            raise AttemptFailed(str(exc), retry_after_s=exc.retry_after_s) from None
        except ProviderError as exc:
            status = exc.status
            if status is not None and 400 <= status < 500 and status != 429:
                raise AttemptRejected(str(exc), outcome="http_error", status=status) from None
            raise AttemptFailed(
                str(exc),
                outcome="http_error" if status is not None else "network",
                status=status,
                retry_after_s=exc.retry_after_s,
            ) from None
        return Delivered(status=202, response=(message_id or "").encode())

    async def aclose(self) -> None:
        await self._http.aclose()
