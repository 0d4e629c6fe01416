"""The dashboard in a real headless chromium: log in with the token, see the tree live."""

from __future__ import annotations

import re
import shutil

import trio
from playwright.sync_api import Page, expect, sync_playwright

from .daemon import TOKEN, Daemon, dead_letter

# Debian's chromium, never a downloaded one (.ci/run installs it when missing).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def in_chromium(url: str, steps: object) -> None:
    executable = shutil.which("chromium")
    assert executable, "chromium is not installed (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/")
            assert callable(steps)
            steps(page)
        finally:
            browser.close()


def log_in(page: Page) -> None:
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")


def log_in_and_watch(page: Page) -> None:
    log_in(page)
    expect(page.locator("#health-status")).to_have_text("ready")
    expect(page.locator("#providers tr:has(td:text-is('stripe'))")).to_contain_text("closed")
    expect(page.locator("#updated")).to_have_text(re.compile(r"^20\d\d-\d\d-\d\dT.*Z$"))
    page.click("#advanced summary")
    store = page.locator("#actors tr:has(td:text-is('/root/store'))")
    expect(store).to_contain_text("running")


def refuse_a_wrong_token(page: Page) -> None:
    page.fill("#token", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("wrong admin token")
    expect(page.locator("#live")).to_be_hidden()


async def test_the_dashboard_shows_the_live_tree_after_logging_in(daemon: Daemon) -> None:
    # Playwright's sync API runs its own loop: keep it off trio's thread.
    await trio.to_thread.run_sync(in_chromium, daemon.url, log_in_and_watch)


async def test_the_dashboard_refuses_a_wrong_token(daemon: Daemon) -> None:
    await trio.to_thread.run_sync(in_chromium, daemon.url, refuse_a_wrong_token)


def replay_the_dead_letter(page: Page) -> None:
    log_in(page)
    letter = page.locator("#dead-letters tr:has(td:text-is('evt_dead'))")
    letter.get_by_role("button", name="replay").click()
    expect(letter).to_have_count(0)
    stripe = page.locator("#queues tr:has(td:text-is('stripe'))")
    expect(stripe.locator("td").nth(1)).to_have_text("1")  # ready again


async def test_the_dashboard_replay_button_puts_a_dead_letter_back(daemon: Daemon) -> None:
    await dead_letter(daemon)
    await trio.to_thread.run_sync(in_chromium, daemon.url, replay_the_dead_letter)
