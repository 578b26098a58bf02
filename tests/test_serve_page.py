"""The web page of `chatclone serve` in a real headless browser.

Run: `.venv/bin/python -m pytest tests/test_serve_page.py` (needs Chromium: `apt-get install
chromium`, or a browser named by CHATCLONE_CHROMIUM). A real server on a free loopback port
answers with a fake generator that streams its pieces slowly, so what the page does while a reply
streams in can be watched. Every page is checked for requests to other origins and for console
errors (a Content-Security-Policy violation shows there). A screenshot of a conversation is
kept in CHATCLONE_TEST_ARTIFACTS (default: test-artifacts/) as serve-page.png.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest

from chatclone.chat.engine import Engine, Target
from chatclone.chat.generation import GenerationSettings
from chatclone.chat.server.app import ServeConfig, create_app
from chatclone.chat.server.command import BackgroundServer
from chatclone.chat.server.worker import GenerationQueue
from chatclone.prompt import OPENER, ChatMessage, Identity

HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
if HAVE_PLAYWRIGHT:
    from playwright.sync_api import (
        Browser,
        Page,
        Playwright,
        Request,
        ViewportSize,
        expect,
        sync_playwright,
    )

ME = "Sam Rivera"
RUN = "run-1"
KEY = "test-key-12345"
REPLY = ["hey", " you\nwhat's", " up?"]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
REPO = Path(__file__).resolve().parents[1]
TIMEOUT_MS = 5000
VIEWPORT: ViewportSize = {"width": 900, "height": 700}


class SlowGenerator:
    """Records every prompt and streams its pieces with a pause before each; `gate`, when set,
    holds the stream after its first piece until it is opened; `fail` raises after the first
    piece. `ends` says how each stream ended: "complete", "closed" (stopped by the server) or
    "failed"."""

    def __init__(self, pieces: Sequence[str] = REPLY, delay: float = 0.03) -> None:
        self.delay = delay
        self.reset(pieces)

    def reset(self, pieces: Sequence[str] = REPLY) -> None:
        self.pieces = list(pieces)
        self.prompts: list[list[dict[str, Any]]] = []
        self.ends: list[str] = []
        self.gate: threading.Event | None = None
        self.fail = False

    def stream(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings
    ) -> Iterator[str]:
        self.prompts.append([dict(m) for m in messages])
        try:
            for i, piece in enumerate(self.pieces):
                if i == 1 and self.gate is not None:
                    self.gate.wait(10)
                if i == 1 and self.fail:
                    self.ends.append("failed")
                    raise RuntimeError("the model fell over")
                time.sleep(self.delay)
                yield piece
        except GeneratorExit:
            self.ends.append("closed")
            raise
        self.ends.append("complete")


@dataclass
class Served:
    url: str
    gen: SlowGenerator


@contextmanager
def serving(config: ServeConfig | None = None, max_waiting: int = 4) -> Iterator[Served]:
    """A real app on a free loopback port, with the slow fake generator."""
    gen = SlowGenerator()
    identity = Identity(ME)
    queue = GenerationQueue(
        lambda: Engine(Target("local", "default", identity, RUN), gen), max_waiting
    )
    queue.start()
    try:
        with BackgroundServer(create_app(queue, config or ServeConfig())) as url:
            yield Served(url, gen)
    finally:
        queue.stop()


def find_browser() -> str | None:
    named = os.environ.get("CHATCLONE_CHROMIUM")
    if named:
        return named
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def missing(what: str) -> None:
    """No browser here: a failure on CI (its script installs one), else a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: the page tests need it on CI")
    pytest.skip(f"{what}; install it to test the page (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not HAVE_PLAYWRIGHT:
        missing("the playwright package is not installed (pip install playwright)")
    path = find_browser()
    if path is None:
        missing("no Chromium found (CHATCLONE_CHROMIUM, chromium, chromium-browser, google-chrome)")
    assert path is not None
    with sync_playwright() as playwright:
        yield launch(playwright, path)


def launch(playwright: Playwright, path: str) -> Browser:
    # --no-sandbox: CI and this container run as root, where Chromium's sandbox refuses to start.
    return playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with serving() as served:
        yield served


@dataclass
class Session:
    """The module's one browser tab and what its current page did: every request, console
    errors and uncaught exceptions. `open` starts afresh (a new page load forgets everything,
    as the page keeps nothing)."""

    page: Page
    origin: str = ""
    requests: list[Request] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    allowed_errors: tuple[str, ...] = ()
    """Console errors expected here (the browser logs a 401 or 503 answer as one)."""

    def open(self, url: str, allowed_errors: tuple[str, ...] = ()) -> Page:
        self.page.goto("about:blank")
        self.page.set_viewport_size(VIEWPORT)
        self.origin, self.allowed_errors = url, allowed_errors
        self.requests.clear()
        self.console.clear()
        self.page.goto(url + "/")
        return self.page

    def posted(self) -> list[dict[str, Any]]:
        return [
            json.loads(r.post_data or "{}")
            for r in self.requests
            if r.method == "POST" and r.url.endswith("/v1/chat/completions")
        ]

    def check_clean(self) -> None:
        elsewhere = [
            r.url
            for r in self.requests
            if urlsplit(r.url).scheme not in ("data", "blob")
            and urlsplit(r.url).netloc != urlsplit(self.origin).netloc
        ]
        assert not elsewhere, f"the page reached other origins: {elsewhere}"
        errors = [m for m in self.console if not any(a in m for a in self.allowed_errors)]
        assert not errors, f"console errors: {errors}"


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Session]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    tab = Session(page)
    page.on("request", lambda r: tab.requests.append(r) if r.url != "about:blank" else None)
    page.on("console", lambda m: tab.console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.console.append(f"uncaught: {e}"))
    yield tab
    context.close()


@pytest.fixture
def session(tab: Session, server: Served) -> Iterator[Session]:
    """The page of the module's server, loaded afresh; checked for other origins and console
    errors afterwards."""
    server.gen.reset()
    tab.open(server.url)
    yield tab
    tab.check_clean()


def send(page: Page, text: str) -> None:
    page.locator("#message-input").fill(text)
    page.locator("#message-input").press("Enter")


def clone_bubbles(page: Page) -> Any:
    return expect(page.locator(".bubble.clone"))


def wait_idle(page: Page) -> None:
    """The reply has finished: the input is back."""
    expect(page.locator("#message-input")).to_be_enabled()
    expect(page.locator("#stop")).to_be_hidden()


def wait_for(condition: Callable[[], bool], seconds: float = 3) -> None:
    """Until the server side has done something (the browser's `expect` waits for the page)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def artifacts() -> Path:
    folder = Path(os.environ.get("CHATCLONE_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- the tests -------------------------------------------------------------------------------


def test_the_page_says_whose_clone_it_is_and_that_it_is_an_ai(session: Session) -> None:
    page = session.page
    expect(page.locator("#clone-name")).to_have_text(ME)
    info = page.locator("#clone-info")
    expect(info).to_contain_text(f"run {RUN}")
    expect(info).to_contain_text("base default (local)")
    expect(info).to_contain_text("memory off")
    expect(page.locator("#ai-notice")).to_have_text(
        f"An AI clone of {ME}, trained on their messages: its replies are generated, not "
        f"written by {ME}."
    )
    expect(page.locator("#ai-notice")).to_be_visible()
    expect(page.locator("#messages")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#message-input")).to_be_enabled()
    assert page.title() == f"{ME} (AI clone) · chatclone"


def test_a_reply_streams_in_as_separate_bubbles(session: Session, server: Served) -> None:
    page = session.page
    gate = server.gen.gate = threading.Event()
    send(page, "hi Sam")
    expect(page.locator(".bubble.me")).to_have_text(["hi Sam"])
    # The first piece is shown while the rest is still being generated.
    clone_bubbles(page).to_have_text(["hey"])
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#message-input")).to_be_disabled()
    expect(page.locator("#send")).to_be_hidden()
    gate.set()
    clone_bubbles(page).to_have_text(["hey you", "what's up?"])
    wait_idle(page)
    expect(page.locator(".group.clone .who")).to_have_text([f"{ME} (AI clone)"])
    assert server.gen.prompts[-1][-1] == {"role": "user", "content": "hi Sam"}

    send(page, "not much, you?")
    clone_bubbles(page).to_have_count(4)
    wait_idle(page)
    sent = session.posted()
    assert sent[0]["messages"] == [{"role": "user", "content": "hi Sam"}]
    assert sent[0]["model"] == RUN and sent[0]["stream"] is True and "partner" not in sent[0]
    assert sent[1]["messages"][:2] == [
        {"role": "user", "content": "hi Sam"},
        {"role": "assistant", "content": "hey you\nwhat's up?"},
    ]
    conversation = [m for m in server.gen.prompts[-1] if m["role"] != "system"]
    assert conversation[1] == {"role": "assistant", "content": "hey you\nwhat's up?"}
    page.screenshot(path=str(artifacts() / "serve-page.png"))


def test_enter_sends_and_shift_enter_starts_a_new_line(session: Session, server: Served) -> None:
    page = session.page
    box = page.locator("#message-input")
    box.fill("one")
    box.press("Shift+Enter")
    box.type("two")
    expect(page.locator(".bubble.me")).to_have_count(0)
    box.press("Enter")
    expect(page.locator(".bubble.me")).to_have_text(["one\ntwo"])
    expect(box).to_have_value("")
    wait_idle(page)
    assert session.posted()[0]["messages"] == [{"role": "user", "content": "one\ntwo"}]


def test_reset_clears_the_conversation(session: Session, server: Served) -> None:
    page = session.page
    send(page, "first")
    clone_bubbles(page).to_have_count(2)
    wait_idle(page)
    page.locator("#reset").click()
    expect(page.locator("#messages > *")).to_have_count(0)
    expect(page.locator("#empty-hint")).to_be_visible()
    send(page, "again")
    clone_bubbles(page).to_have_count(2)
    wait_idle(page)
    assert session.posted()[-1]["messages"] == [{"role": "user", "content": "again"}]


def test_reset_while_a_reply_streams_stops_it(session: Session, server: Served) -> None:
    page = session.page
    gate = server.gen.gate = threading.Event()
    send(page, "first")
    clone_bubbles(page).to_have_text(["hey"])
    page.locator("#reset").click()
    expect(page.locator("#messages > *")).to_have_count(0)
    wait_idle(page)
    gate.set()
    wait_for(lambda: bool(server.gen.ends))
    assert server.gen.ends == ["closed"]
    expect(page.locator("#messages > *")).to_have_count(0)
    expect(page.locator("#error")).to_be_hidden()


def test_let_them_text_first(session: Session, server: Served) -> None:
    page = session.page
    page.locator("#text-first").click()
    clone_bubbles(page).to_have_text(["hey you", "what's up?"])
    wait_idle(page)
    expect(page.locator(".bubble.me")).to_have_count(0)
    assert session.posted()[0]["messages"] == []
    assert server.gen.prompts[-1][-1]["content"] == OPENER
    # Again: the clone texts again after its own message.
    page.locator("#text-first").click()
    clone_bubbles(page).to_have_count(4)
    wait_idle(page)
    assert session.posted()[1]["messages"] == [
        {"role": "assistant", "content": "hey you\nwhat's up?"}
    ]


def test_the_partner_name_is_sent(session: Session, server: Served) -> None:
    page = session.page
    page.locator("#partner").fill("Alex")
    send(page, "yo")
    wait_idle(page)
    assert session.posted()[0]["partner"] == "Alex"
    assert "a chat with Alex" in server.gen.prompts[-1][0]["content"]
    expect(page.locator(".group.me .who")).to_have_text(["You (Alex)"])


def test_stop_ends_the_reply_and_its_generation(session: Session, server: Served) -> None:
    page = session.page
    server.gen.reset(["hey", *[" more"] * 100])  # 3 s if nothing stops it
    send(page, "talk to me")
    expect(page.locator(".bubble.clone").first).to_contain_text("more")
    page.locator("#stop").click()
    wait_idle(page)
    expect(page.locator(".group.clone .note")).to_have_text(["stopped"])
    wait_for(lambda: bool(server.gen.ends))
    assert server.gen.ends == ["closed"], "closing the stream did not stop the generation"
    # What was shown stays in the conversation.
    shown = page.locator(".bubble.clone").inner_text()
    server.gen.reset()
    send(page, "ok")
    clone_bubbles(page).to_have_count(3)
    wait_idle(page)
    assert session.posted()[1]["messages"][1] == {"role": "assistant", "content": shown}


def test_a_failure_during_the_reply_is_shown(session: Session, server: Served) -> None:
    page = session.page
    server.gen.fail = True
    send(page, "hello?")
    expect(page.locator("#error")).to_contain_text("the model fell over")
    wait_idle(page)
    clone_bubbles(page).to_have_text(["hey"])
    expect(page.locator(".group.clone .note")).to_have_text(["interrupted"])


def test_a_busy_server_says_when_to_retry(tab: Session) -> None:
    with serving(max_waiting=0) as served:  # no waiting room: a busy clone refuses
        served.gen.gate = threading.Event()
        body = {"model": RUN, "messages": [{"role": "user", "content": "first"}]}
        other = threading.Thread(
            target=lambda: httpx.post(f"{served.url}/v1/chat/completions", json=body, timeout=20)
        )
        other.start()  # another caller's reply holds the model
        deadline = time.monotonic() + 5
        while not served.gen.prompts:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        page = tab.open(served.url, allowed_errors=("status of 503",))
        send(page, "anyone there?")
        expect(page.locator("#error")).to_contain_text("busy")
        expect(page.locator("#error")).to_contain_text(re.compile(r"try again in about \d+ s"))
        expect(page.locator("#retry")).to_be_visible()
        expect(page.locator(".bubble.me")).to_have_text(["anyone there?"])
        expect(page.locator(".group.clone")).to_have_count(0)
        wait_idle(page)
        tab.check_clean()
        served.gen.gate.set()
        other.join(10)


def test_with_an_api_key_the_page_asks_for_it(tab: Session) -> None:
    with serving(ServeConfig(api_key=KEY)) as served:
        page = tab.open(served.url, allowed_errors=("status of 401",))
        key = page.locator("#api-key")
        expect(key).to_be_visible()
        expect(key).to_have_attribute("type", "password")
        expect(page.locator("#message-input")).to_be_disabled()
        key.fill("wrong-key-000")
        key.press("Enter")
        expect(page.locator("#key-message")).to_contain_text("not accepted")
        key.fill(KEY)
        key.press("Enter")
        expect(page.locator("#clone-name")).to_have_text(ME)
        expect(key).to_be_hidden()
        send(page, "hi")
        clone_bubbles(page).to_have_text(["hey you", "what's up?"])
        wait_idle(page)
        posts = [r for r in tab.requests if r.method == "POST"]
        assert posts[-1].headers["authorization"] == f"Bearer {KEY}"
        assert not any(KEY in r.url for r in tab.requests)
        stored = page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")
        assert stored == [0, 0, ""]
        tab.check_clean()


def test_a_phone_width_screen_shows_everything(session: Session) -> None:
    page = session.page
    page.set_viewport_size({"width": 375, "height": 667})
    send(page, "hi")
    clone_bubbles(page).to_have_count(2)
    wait_idle(page)
    for part in ("#ai-notice", "#clone-info", "#message-input", "#send", "#reset", "#text-first"):
        expect(page.locator(part)).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(artifacts() / "serve-page-phone.png"))
