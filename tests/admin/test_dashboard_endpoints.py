"""The endpoint-first dashboard in headless chromium: what is failing, since when, with what
answer, what waits for it; events found and retried; internals kept aside; stale news greyed.

Each test saves a screenshot of the view it checks, into ``$OLACTORS_SCREENSHOTS``
when set (``make screenshots`` writes the ones in docs/screenshots/), else into
the test's temporary directory.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import trio
from playwright.sync_api import Page, expect

from olactors.config import WebhooksConfig
from olactors.runtime import ActorSystem
from olactors.store import QueueItem
from olactors.testing import Canned, FakeProvider
from olactors.tree import build_tree
from olactors.webhooks.verifiers import stripe

from .daemon import TOKEN, Daemon, config, dead_letter
from .test_dashboard_browser import in_chromium, log_in

WHSEC = "whsec_dashboardSecret0123456789ab"
APP_SECRET = "whsec_" + "c2VjcmV0IGJ5dGVzIGZvciB0aGUgYXBw"


async def noted(item: QueueItem) -> None:
    """A route that always takes the event."""


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    app = FakeProvider(Canned(500, json={"error": "boom"}))
    webhooks = {
        # One attempt, then a long wait: the event stays in the backlog.
        "retry_schedule_s": [3600.0],
        "sources": {"stripe": {"kind": "stripe", "secrets_env": ["WHSEC"]}},
        "routes": [
            {
                "name": "to-app",
                "source": "stripe",
                "events": ["*"],
                "forward_to": "",
                "signing_secret_env": "APP_SECRET",
            },
            {"name": "noted", "source": "stripe", "events": ["*"], "handler": f"{__name__}:noted"},
        ],
    }
    async with trio.open_nursery() as outside:
        await outside.start(app.serve)
        webhooks["routes"][0]["forward_to"] = f"{app.url}/hooks"  # type: ignore[index]
        settings = config(tmp_path).model_copy(
            update={"webhooks": WebhooksConfig.model_validate(webhooks)}
        )
        env = {"ADMIN_TOKEN": TOKEN, "WHSEC": WHSEC, "APP_SECRET": APP_SECRET}
        system = ActorSystem(build_tree(settings, env))
        # The daemon stops in order (its couriers close their connections)
        # before the app it calls goes away.
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            url = system.actor_snapshot("/root/http/admin").state["addresses"][0]
            yield Daemon(system, url)
            system.shutdown()
        outside.cancel_scope.cancel()


async def send(daemon: Daemon, event_id: str, event_type: str = "charge.refunded") -> None:
    public = daemon.system.actor_snapshot("/root/http/public").state["addresses"][0]
    body = f'{{"id":"{event_id}","type":"{event_type}","data":{{}}}}'.encode()
    headers = stripe.sign(WHSEC, int(time.time()), body)
    async with httpx.AsyncClient(base_url=public) as client:
        answer = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert answer.status_code == 200


async def failed_once(daemon: Daemon) -> None:
    """Until the app's route has seen its first answer (a 500)."""
    path = "/root/delivery/webhooks.stripe/to-app"
    with trio.fail_after(10):
        while daemon.system.actor_snapshot(path).state["last_answer"] is None:
            await trio.sleep(0.01)


def shot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("OLACTORS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes().startswith(b"\x89PNG")


def count_calls(page: Page) -> None:
    """Count the page's calls to the API from now on (``window.calls``).

    A button's handler calls ``fetch`` before its first ``await``, so once a
    click returns the count says whether the click sent anything.
    """
    # A function, so that Playwright calls it (rather than calling what it returns).
    page.evaluate(
        "() => { window.calls = 0; const sent = window.fetch;"
        " window.fetch = (...args) => { window.calls += 1; return sent(...args); }; }"
    )


def calls(page: Page) -> int:
    count: int = page.evaluate("window.calls")
    return count


async def browse(daemon: Daemon, steps: Callable[[Page], None]) -> None:
    # Playwright's sync API runs its own loop: keep it off trio's thread.
    await trio.to_thread.run_sync(in_chromium, daemon.url, steps)


async def test_a_failing_endpoint_shows_its_last_answer_since_when_and_its_backlog(
    daemon: Daemon, tmp_path: Path
) -> None:
    await send(daemon, "evt_failing")
    await failed_once(daemon)

    def look(page: Page) -> None:
        log_in(page)
        endpoint = page.locator("#endpoints tr:has(td:text-is('webhooks.stripe/to-app'))")
        cells = endpoint.locator("td")
        expect(cells.nth(1)).to_have_text("running")
        expect(cells.nth(2)).to_contain_text("500 http_error at 20")
        expect(cells.nth(2)).to_contain_text("boom")
        expect(cells.nth(3)).to_contain_text("failing since 20")
        expect(cells.nth(5)).to_have_text("1")  # the event waits for its retry
        expect(page.locator("#health-status")).to_have_text("degraded")
        expect(page.locator("#health-notes")).to_contain_text(
            "route webhooks.stripe/to-app: failing since 20"
        )
        healthy = page.locator("#endpoints tr:has(td:text-is('webhooks.stripe/noted'))")
        expect(healthy.locator("td").nth(2)).to_contain_text("delivered at 20")
        shot(page, "endpoints", tmp_path)

    await browse(daemon, look)


async def test_an_event_is_found_by_id_with_each_attempt_and_retried_from_the_page(
    daemon: Daemon, tmp_path: Path
) -> None:
    await send(daemon, "evt_look")
    await failed_once(daemon)

    def find_and_retry(page: Page) -> None:
        log_in(page)
        expect(page.locator("#search-source")).to_have_value("stripe")
        page.fill("#search-id", "evt_look")
        page.click("#event-search button[type=submit]")
        expect(page.locator("#event-title")).to_contain_text("charge.refunded evt_look")
        attempt = page.locator("#attempts tr:has(td:text-is('to-app'))")
        expect(attempt.locator("td").nth(2)).to_have_text("http_error")
        expect(attempt.locator("td").nth(3)).to_have_text("500")
        expect(attempt.locator("td").nth(5)).to_contain_text("boom")
        shot(page, "event", tmp_path)
        page.click("#event-retry")
        expect(page.locator("#action")).to_have_text("retry now: retrying")

    await browse(daemon, find_and_retry)


async def test_events_are_searched_by_type(daemon: Daemon) -> None:
    await send(daemon, "evt_a", "charge.refunded")
    await send(daemon, "evt_b", "invoice.paid")

    def by_type(page: Page) -> None:
        log_in(page)
        expect(page.locator("#search-source")).to_have_value("stripe")
        page.fill("#search-type", "invoice.paid")
        page.click("#event-search button[type=submit]")
        expect(page.locator("#events tbody tr")).to_have_count(1)
        expect(page.locator("#events tbody tr td").nth(1)).to_have_text("evt_b")

    await browse(daemon, by_type)


async def test_internal_actors_wait_under_advanced_and_a_restart_asks_first(
    daemon: Daemon, tmp_path: Path
) -> None:
    def restart_with_care(page: Page) -> None:
        log_in(page)
        expect(page.locator("#endpoints")).to_contain_text("webhooks.stripe/to-app")
        expect(page.locator("#actors")).to_be_hidden()
        page.click("#advanced summary")
        store = page.locator("#actors tr:has(td:text-is('/root/store'))")
        expect(store).to_be_visible()
        # The listener serving this page, and what holds it, cannot be restarted from it.
        for own in ("/root", "/root/http", "/root/http/admin"):
            mine = page.locator(f"#actors tr:has(td:text-is('{own}'))")
            expect(mine.get_by_role("button", name="restart")).to_have_count(0)
        count_calls(page)
        page.once("dialog", lambda dialog: dialog.dismiss())
        store.get_by_role("button", name="restart").click()
        assert calls(page) == 0
        page.once("dialog", lambda dialog: dialog.accept())
        store.get_by_role("button", name="restart").click()
        assert calls(page) == 1
        expect(store.locator("td").nth(2)).to_have_text("1")
        shot(page, "advanced", tmp_path)

    await browse(daemon, restart_with_care)


async def test_replaying_every_dead_letter_asks_first(daemon: Daemon) -> None:
    await dead_letter(daemon)

    def replay_all(page: Page) -> None:
        log_in(page)
        queue = page.locator("#queues tr:has(td:text-is('stripe'))")
        count_calls(page)
        page.once("dialog", lambda dialog: dialog.dismiss())
        queue.get_by_role("button", name="replay all").click()
        assert calls(page) == 0
        page.once("dialog", lambda dialog: dialog.accept())
        queue.get_by_role("button", name="replay all").click()
        expect(page.locator("#dead-letters tr:has(td:text-is('evt_dead'))")).to_have_count(0)

    await browse(daemon, replay_all)


async def test_the_page_greys_out_when_the_daemon_stops_answering(
    daemon: Daemon, tmp_path: Path
) -> None:
    def watch_it_stop(page: Page) -> None:
        log_in(page)
        expect(page.locator("#health-status")).to_have_text("ready")
        expect(page.locator("body")).not_to_have_class("stale")
        trio.from_thread.run_sync(daemon.system.shutdown)
        expect(page.locator("body")).to_have_class("stale", timeout=30_000)
        shot(page, "stale", tmp_path)

    await browse(daemon, watch_it_stop)
