"""The dashboard in real headless Chromium (Debian's, driven by Playwright): it loads, a viewer sees
the state and cannot act, an operator clicks rollback and sees the traffic move. Every request the
page makes is recorded: none may leave the machine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ..agent_helpers import history, status, turnout, version_at
from .conftest import ApiStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser: Browser, stack: ApiStack, token: str, outside: list[str]) -> Page:
    page = browser.new_context().new_page()
    local = urlsplit(stack.url).netloc

    def record(route: object, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        if urlsplit(url).netloc != local:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    page.route("**/*", record)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation before acting
    page.goto(stack.url + "/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_selector("#main:not([hidden])")
    return page


def test_a_viewer_sees_the_state_and_cannot_act(browser: Browser, api_stack: ApiStack) -> None:
    assert turnout(api_stack.folder, "deploy", "2.0").returncode == 0
    outside: list[str] = []
    page = open_page(browser, api_stack, api_stack.viewer, outside)
    expect(page.locator("#serving-green")).to_have_text("100 %")
    assert page.text_content("#whoami") == "board (viewer)"
    assert page.text_content("#env-green [data-field=version]") == "2.0"
    assert page.text_content("#env-blue [data-field=role]") == "idle"
    assert page.is_hidden("#btn-rollback")  # no buttons for a viewer
    # and acting behind the page's back, with its own session, is refused too
    code = page.evaluate("""fetch('/api/v1/rollback', {method: 'POST', headers: {'X-Turnout-Request': '1'}})
                            .then(r => r.status)""")
    assert code == 403
    expect(page.locator("#history tbody tr").first).to_be_visible()
    page.fill("#filter-action", "switch")
    expect(page.locator("#history tbody tr td:nth-child(3)").first).to_have_text("switch")
    actions = page.locator("#history tbody tr td:nth-child(3)").all_text_contents()
    assert actions and set(actions) == {"switch"}
    assert version_at(api_stack.production()) == "2.0" and outside == []


def test_an_operator_clicks_rollback_and_sees_traffic_move(browser: Browser, api_stack: ApiStack) -> None:
    assert turnout(api_stack.folder, "deploy", "2.0").returncode == 0
    outside: list[str] = []
    page = open_page(browser, api_stack, api_stack.operator, outside)
    expect(page.locator("#serving-green")).to_have_text("100 %")
    page.wait_for_selector("#btn-rollback:not([hidden])")
    page.click("#btn-rollback")
    expect(page.locator("#serving-blue")).to_have_text("100 %", timeout=10_000)
    expect(page.locator("#action-result")).to_contain_text("blue")
    assert status(api_stack.folder)["active"] == "blue" and version_at(api_stack.production()) == "1.0"
    rollback = [e for e in history(api_stack.folder) if e["action"] == "rollback" and e["outcome"] == "ok"]
    assert rollback[-1]["actor"] == "ci (API token)"  # the token's name, whatever the page sent
    expect(page.locator("#live-rates")).to_contain_text("blue")
    assert outside == []
