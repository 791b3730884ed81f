"""The chat page in a real headless Chromium (Debian's ``/usr/bin/chromium``) driven by
Playwright: ask, watch the answer stream in, see its citation, ask a follow-up, open the
memory panel, forget; at desktop and phone width, with API keys on.

Screenshots land in ``bench/results/browser/`` (gitignored; CI keeps them as artefacts).
Skipped, with the reason, only where chromium or playwright is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from overlay.services import Services
from tests.apiserver import live_server, make_app

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "browser"
DOCS = Path(__file__).resolve().parents[2] / "examples" / "docs"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason=f"{CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)",
    ),
]
# watches the streaming answer's text: how many times it changed before the turn ended
WATCH = """() => { window.__pieces = 0; new MutationObserver(() => {
  if (document.querySelector('.msg.streaming')) window.__pieces += 1;
}).observe(document.getElementById('messages'), {subtree: true, characterData: true,
  childList: true}); }"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _ingest(url: str, headers: dict[str, str] | None = None) -> None:
    for path in sorted(DOCS.iterdir()):
        files = {"file": (path.name, path.read_bytes())}
        r = httpx.post(f"{url}/v1/documents", files=files, headers=headers, timeout=120)
        assert r.status_code == 200, r.text


def _ask(page: Any, question: str, nth: int) -> Any:
    page.fill("#question", question)
    page.press("#question", "Enter")
    answer = page.locator(".msg.assistant").nth(nth)
    page.wait_for_function(
        "n => document.querySelectorAll('.msg.assistant:not(.streaming)').length > n",
        arg=nth, timeout=180_000,
    )  # fmt: skip
    return answer


def _conversation(page: Any, url: str, tag: str, expect_source: str | None) -> None:
    """The scenario: question, streamed answer with citation, follow-up, memory, forget."""
    page.goto(url)
    page.wait_for_selector("body[data-ready]")  # pickers filled from /v1/models, /v1/collections
    assert page.locator("#adapter").input_value() == "overlay"
    assert page.locator("#collection").input_value() == "default"
    page.evaluate(WATCH)
    first = _ask(page, "What does the Lumen L-2 data logger store?", 0)
    assert page.evaluate("window.__pieces") >= 1  # text arrived while the turn streamed
    assert first.locator(".text").inner_text().strip()
    if expect_source is not None:
        cite = first.locator(".citation button").first
        assert expect_source in cite.inner_text()
        cite.click()  # the passage opens under its source
        assert "Lumen" in first.locator(".passage").first.inner_text()
    else:  # a random model: an answer with a citation, or an abstention shown as such
        assert first.locator(".citation").count() or first.locator(".badge.abstained").count()
    page.screenshot(path=str(SHOTS / f"{tag}-answer.png"), full_page=True)
    second = _ask(page, "When was it first released?", 1)
    if expect_source is not None:
        assert expect_source in second.locator(".citation button").first.inner_text()
        assert "2019" in second.locator(".text").inner_text()
    assert page.locator("#conversations li").count() >= 1
    page.click("#toggle-memory")
    page.wait_for_function("document.querySelectorAll('#turns li').length >= 4")
    assert "Lumen" in page.locator("#turns").inner_text()
    page.screenshot(path=str(SHOTS / f"{tag}-memory.png"), full_page=True)
    page.click("#forget")
    page.wait_for_selector("#memory-status:has-text('Forgotten')")
    assert page.locator("#turns li").count() == 0


def test_conversation_on_the_page(services: Services, tiny_model: Any, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = make_app(services, model=tiny_model, max_new_tokens=12)
    with live_server(app) as url:
        _ingest(url)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        _conversation(page, url, "tiny", None)
        page.close()


def test_phone_width_and_api_key(services: Services, tiny_model: Any, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = make_app(services, model=tiny_model, max_new_tokens=8,
                   api_keys={"k-page": services.tenant})  # fmt: skip
    with live_server(app) as url:
        _ingest(url, {"Authorization": "Bearer k-page"})
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(url)
        page.wait_for_selector("#key-dialog[open]")  # the page asks for the key
        page.fill("#key", "k-page")
        page.click("#key-form button")
        page.wait_for_selector("body[data-ready]")
        _ask(page, "How many days of paid annual leave do employees get?", 0)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the phone
        assert page.locator("#sidebar").is_hidden()  # the list folds away
        page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
        page.click("#toggle-sidebar")
        assert page.locator("#sidebar").is_visible()
        page.screenshot(path=str(SHOTS / "phone-conversations.png"), full_page=True)
        page.click("#messages", position={"x": 300, "y": 400})  # a tap beside it closes it
        assert page.locator("#sidebar").is_hidden()
        page.close()


@pytest.mark.slow
def test_real_model_answers_cite_and_follow_up(
    base_services: Services, minilm: Any, real_model: Any, browser: Any
) -> None:
    """SmolLM2 over examples/docs: the follow-up "When was it first released?" cites
    products.md and says 2019."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    services = Services(
        base_services.settings, base_services.redis, base_services.chroma, minilm,
        tenant="browser-real",
    )  # fmt: skip
    app = make_app(services, model=real_model)
    with live_server(app) as url:
        _ingest(url)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        _conversation(page, url, "real", "products.md")
        page.close()
