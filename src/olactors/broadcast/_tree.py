"""The broadcast subtree (``/root/broadcast/<channel>``), its API, and ``/ws``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import trio

from .. import metrics
from ..api import ApiPart, Operations
from ..config import Config, read_secret
from ..delivery import DestinationSpec, RetryPolicy, SlotPool, courier_spec
from ..http import Mount
from ..provider_clients import provider_client
from ..runtime import ActorContext, ActorError, ActorSpec, Refs, Strategy, SupervisorSpec
from ..store import DEFAULT_KEEP_S, STORE_PATH, QueueWakes, Store
from ._api import token_part
from ._broadcasts import Broadcasts, broadcasts_part
from ._channels import EmailChannel, WebsocketChannel
from ._devices import Devices
from ._devices_api import devices_part
from ._endpoints import Endpoints
from ._endpoints_api import endpoints_part
from ._hub import Remote, WebsocketHub
from ._model import NAMESPACE, BroadcastEvent, BroadcastRequest, WebhookTarget
from ._paths import EMAIL, PUSH, PUSH_RECEIPTS, WEBSOCKET, WEBSOCKET_HUB
from ._push import ExpoSender, FcmAuth, FcmSender, load_service_account
from ._push_channel import ExpoReceipts, PushChannel
from ._socket import SocketSettings, SubscriberSocket
from ._tokens import SubscriberTokens, token_key
from ._webhook_channel import EndpointCouriers, webhook_channel_spec


def channels(config: Config) -> set[str]:
    """The channels this configuration reaches: websocket and webhook always, email
    once it has a sender, push once FCM or Expo is on."""
    settings = config.broadcast
    on = {WEBSOCKET, "webhook"}
    if settings.email_from is not None:
        on.add(EMAIL)
    if settings.fcm_credentials_file is not None or settings.expo:
        on.add(PUSH)
    return on


def push_spec(
    config: Config, env: Mapping[str, str], policy: RetryPolicy, supervised: Mapping[str, Any]
) -> SupervisorSpec:
    """``/root/broadcast/push``: the courier to users' devices, and Expo's receipt checks.

    The service account and the Expo token are read now: a daemon that could
    not send fails at start, not at the first push.
    """
    settings, drain_s = config.broadcast, config.delivery.drain_s
    account = (
        load_service_account(settings.fcm_credentials_file)
        if settings.fcm_credentials_file is not None
        else None
    )
    expo_token = (
        read_secret(env, settings.expo_access_token_env, "broadcast.expo_access_token_env")
        if settings.expo and settings.expo_access_token_env
        else None
    )

    def fcm_sender(context: ActorContext) -> FcmSender | None:
        if account is None:
            return None
        auth = FcmAuth(account, httpx.AsyncClient(timeout=10.0), context.clock)
        return FcmSender(provider_client(config, "fcm", context, env), auth)

    def expo_sender(context: ActorContext) -> ExpoSender | None:
        if not settings.expo:
            return None
        return ExpoSender(provider_client(config, "expo", context, env), expo_token)

    def devices(context: ActorContext) -> Devices:
        return Devices(Store.at(context, STORE_PATH), context.clock)

    def push(context: ActorContext) -> PushChannel:
        store = Store.at(context, STORE_PATH)
        return PushChannel(
            devices(context),
            store,
            context.clock,
            fcm=fcm_sender(context),
            expo=expo_sender(context),
            receipt_delay_s=settings.expo_receipt_delay_s,
        )

    def receipts(context: ActorContext) -> ExpoReceipts:
        return ExpoReceipts(devices(context), expo_sender(context))

    # An attempt may mint a token and reach a hundred devices: room for it.
    sending = DestinationSpec(NAMESPACE, PUSH, push, policy=policy, timeout_s=60.0, lease_s=120.0)
    children = [_courier(sending, "courier", drain_s)]
    if settings.expo:
        receipts_spec = DestinationSpec(NAMESPACE, PUSH_RECEIPTS, receipts, policy=policy)
        children.append(_courier(receipts_spec, "receipts", drain_s))
    return SupervisorSpec("push", children=children, **supervised)


def _courier(spec: DestinationSpec, name: str, drain_s: float) -> ActorSpec:
    """A channel's courier, with slots of its own."""
    shared = SlotPool(spec.max_in_flight)
    return courier_spec(spec, STORE_PATH, shared, drain_s=drain_s, name=name)


def topic_frames(config: Config, env: Mapping[str, str]) -> ActorSpec:
    """On Redis, what every replica hears of each topic, handed to this replica's hub."""
    store = config.store

    def heard(refs: Refs, text: str) -> None:
        try:
            refs.actor_ref(WEBSOCKET_HUB).tell_nowait(Remote.parse(text))
        except ActorError:
            # A hub too far behind: its clients see a gap in the offsets,
            # and get it back from the history when they resubscribe.
            metrics.WEBSOCKET_FRAMES_DROPPED.inc()

    return ActorSpec(
        "frames",
        lambda: QueueWakes(
            store.redis_url,
            prefix=store.redis_prefix,
            password=store.redis_password(env),
            on_wake=heard,
            channel="topics",
        ),
    )


def broadcast_spec(
    config: Config, env: Mapping[str, str], supervised: Mapping[str, Any]
) -> SupervisorSpec:
    """One subtree per channel: the websocket hub and its courier, a courier per
    webhook endpoint, and the email courier when email is configured."""
    settings = config.broadcast
    drain_s = config.delivery.drain_s
    policy = RetryPolicy(tuple(settings.retry_schedule_s))
    websocket = DestinationSpec(
        NAMESPACE,
        WEBSOCKET,
        lambda context: WebsocketChannel(context.actor_ref(WEBSOCKET_HUB)),
        policy=policy,
        timeout_s=5.0,
    )
    children: list[ActorSpec | SupervisorSpec] = [
        SupervisorSpec(
            "websocket",
            children=[
                ActorSpec(
                    "hub",
                    lambda: WebsocketHub(
                        history_size=settings.history_size,
                        history_ttl_s=settings.history_ttl_s,
                        shared_store=STORE_PATH if config.store.shared else None,
                    ),
                ),
                *([topic_frames(config, env)] if config.store.shared else []),
                _courier(websocket, "courier", drain_s),
            ],
            # The frames listener hands frames to the hub it started after.
            strategy=Strategy.REST_FOR_ONE,
            **supervised,
        ),
        webhook_channel_spec(
            EndpointCouriers(
                STORE_PATH,
                policy=policy,
                allow_private=settings.allow_private_endpoints,
                limit=settings.max_endpoints,
                drain_s=drain_s,
            ),
            supervised,
        ),
    ]
    sender = settings.email_from
    if sender is not None:
        provider = config.providers["sendgrid"]
        if provider.secret_env is not None:  # fail at start, not at the first email
            read_secret(env, provider.secret_env, "providers.sendgrid.secret_env")

        def email(context: ActorContext) -> EmailChannel:
            client = provider_client(config, "sendgrid", context, env)
            return EmailChannel(client, sender)

        children.append(
            _courier(DestinationSpec(NAMESPACE, EMAIL, email, policy=policy), EMAIL, drain_s)
        )
    if PUSH in channels(config):
        children.append(push_spec(config, env, policy, supervised))
    return SupervisorSpec("broadcast", children=children, **supervised)


def broadcast_api(config: Config, env: Mapping[str, str]) -> ApiPart:
    """Subscriber tokens, broadcasts and webhook endpoints on the app API."""
    settings = config.broadcast
    tokens = token_part(config, env)
    on = channels(config)

    def endpoints(context: ActorContext, store: Store) -> Endpoints:
        return Endpoints(store, context.clock, limit=settings.max_endpoints)

    def broadcasts(context: ActorContext, store: Store) -> Broadcasts:
        return Broadcasts(
            store,
            endpoints(context, store),
            context,
            channels=lambda: on,
            retention_s=DEFAULT_KEEP_S,
        )

    parts = [
        tokens,
        devices_part(lambda context, store: Devices(store, context.clock)),
        broadcasts_part(broadcasts),
        endpoints_part(settings.allow_private_endpoints, endpoints),
    ]

    def part(operations: Operations, context: ActorContext, store: Store) -> None:
        for each in parts:
            each(operations, context, store)

    return part


#: Stores a domain event of the daemon's own for every webhook endpoint taking its type:
#: ``emit(type, payload, event_id)``.
Emit = Callable[[str, dict[str, Any], str], Awaitable[None]]


def domain_events(config: Config) -> Callable[[ActorContext, Store], Emit]:
    """How another capability tells the app something happened (a connection that needs
    the user again): a broadcast to every enabled webhook endpoint taking the type."""
    limit = config.broadcast.max_endpoints
    on = channels(config)

    def make(context: ActorContext, store: Store) -> Emit:
        broadcasts = Broadcasts(
            store,
            Endpoints(store, context.clock, limit=limit),
            context,
            channels=lambda: on,
            retention_s=DEFAULT_KEEP_S,
        )

        async def emit(event_type: str, payload: dict[str, Any], event_id: str) -> None:
            event = BroadcastEvent(event_type, payload, event_id)
            await broadcasts.store(BroadcastRequest(event, [WebhookTarget()]))

        return emit

    return make


def broadcast_mount(config: Config, env: Mapping[str, str]) -> Mount:
    """``/ws`` on the public listener: subscribers connect there with the app's tokens."""
    key = token_key(config, env)
    settings = config.broadcast
    socket = SocketSettings(
        send_buffer=settings.send_buffer,
        heartbeat_s=settings.heartbeat_s,
        connect_timeout_s=settings.connect_timeout_s,
    )

    def app(context: ActorContext, closing: trio.Event) -> SubscriberSocket:
        tokens = SubscriberTokens(key(), context.clock)
        hub = context.actor_ref(WEBSOCKET_HUB)
        return SubscriberSocket(tokens, hub, socket, context.clock, closing)

    return Mount("/ws", app)
