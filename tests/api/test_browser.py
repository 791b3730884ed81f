"""The chat page in a real headless Chromium (Debian's ``/usr/bin/chromium``) driven by
Playwright: ask, watch the answer stream in, see its citation, ask a follow-up, open the
memory panel, forget; at desktop and phone width, with API keys on. In the memory panel:
correct a fact (its history shows the old value), delete a fact, delete a turn, and an error
shown as text.

Screenshots land in ``bench/results/browser/`` (gitignored; CI keeps them as artefacts).
Skipped, with the reason, only where chromium or playwright is absent.
"""

from __future__ import annotations

import re
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
        # the sentence the answer was read from is marked in it, and, the answer being a
        # short span of it, shown under the source
        marked = " ".join(first.locator(".passage mark").first.inner_text().split())
        answer = re.sub(r"\s*\[\d+\]", "", first.locator(".text").inner_text()).strip()
        assert answer and answer.casefold() in marked.casefold(), (answer, marked)
        if first.locator(".badge").inner_text() == "quoted from the source":
            assert first.locator(".citation .quote").first.inner_text() == marked
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
        peru = _ask(page, "What is the capital of Peru?", 2)  # the documents do not say
        assert (
            peru.locator(".badge.abstained").count() == 1 and not peru.locator(".citation").count()
        )
        assert "do not look like they hold the answer" in peru.locator(".why").inner_text()
        page.close()


HOSTILE = '<img src=x onerror="window.__pwned=1">'  # a fact key the page must show as text


def _fact(page: Any, key: str) -> Any:
    exact = re.compile(f"^{re.escape(key)}$")
    return page.locator("#facts li.fact").filter(has=page.locator(".key", has_text=exact))


def _confirm_delete(page: Any, item: Any, note: str) -> None:
    item.locator(".actions button.delete").click()
    item.locator(".confirm button.danger").click()
    page.wait_for_selector(f"#memory-status:has-text('{note}')")


def test_memory_panel_edits_single_memories(
    services: Services, tiny_model: Any, browser: Any
) -> None:
    """Correct a fact (its history shows the old value), delete a fact, delete a turn, from
    the memory panel; an error (a fact deleted behind the page's back) is shown as text."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = make_app(services, model=tiny_model, max_new_tokens=8)
    with live_server(app) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(url)
        page.wait_for_selector("body[data-ready]")
        _ask(page, "My name is Alex and I work in the Oslo office.", 0)
        sid = page.evaluate("JSON.parse(localStorage.getItem('overlay.conversations'))[0].id")
        sessions = f"{url}/v1/sessions/{sid}"
        for key, value in ((HOSTILE, "<b>Rex</b>"), ("dog", "Fido")):
            r = httpx.post(f"{sessions}/facts", json={"key": key, "value": value})
            assert r.status_code == 200, r.text
        page.click("#toggle-memory")
        page.wait_for_selector("#facts li.fact >> nth=3")
        keys = {f["key"]: f for f in httpx.get(f"{sessions}/facts").json()["facts"]}
        assert keys.keys() == {"name", "workplace", HOSTILE, "dog"}, keys
        assert "<b>Rex</b>" in _fact(page, HOSTILE).inner_text()  # as text, not markup
        assert page.locator("#memory img, #memory b").count() == 0

        # correct a fact: the new value shows, and its history keeps the old one
        name = _fact(page, "name")
        old = keys["name"]["value"]
        name.locator("button.edit").click()
        page.fill("#facts form.edit input", "Bob")
        page.press("#facts form.edit input", "Enter")
        page.wait_for_selector("#memory-status:has-text('Corrected name')")
        assert name.locator(".value").inner_text() == "Bob"
        assert f"{old} → Bob" in name.locator(".history").inner_text()
        fact = next(f for f in httpx.get(f"{sessions}/facts").json()["facts"] if f["key"] == "name")
        assert fact["value"] == "Bob" and [h["value"] for h in fact["history"]] == [old]
        page.screenshot(path=str(SHOTS / "memory-corrected.png"), full_page=True)

        # a correction of a fact gone meanwhile: the server's 404, rendered as text
        assert httpx.delete(f"{sessions}/facts/{HOSTILE}").status_code == 200
        _fact(page, HOSTILE).locator("button.edit").click()
        page.fill("#facts form.edit input", "Fido")
        page.press("#facts form.edit input", "Enter")
        page.wait_for_selector("#memory-status.error:has-text('no fact')")
        assert HOSTILE in page.locator("#memory-status").inner_text()
        page.screenshot(path=str(SHOTS / "memory-error.png"), full_page=True)
        assert _fact(page, HOSTILE).count() == 0  # the panel shows what is there now

        # delete a fact (asked once, inline; Cancel keeps it)
        dog = _fact(page, "dog")
        dog.locator(".actions button.delete").click()
        page.screenshot(path=str(SHOTS / "memory-confirm.png"), full_page=True)
        dog.locator(".confirm button.cancel").click()
        assert dog.locator(".confirm").count() == 0 and dog.count() == 1
        _confirm_delete(page, dog, "Deleted the fact dog (Fido)")
        left = {f["key"] for f in httpx.get(f"{sessions}/facts").json()["facts"]}
        assert left == {"name", "workplace"} and page.locator("#facts li.fact").count() == 2

        # delete a turn: gone from memory with the fact it stated (the corrected name, set by
        # hand, stays); its chat message is marked and no longer sent as history
        said = page.locator("#turns li.turn.user").filter(has_text="My name is Alex")
        _confirm_delete(page, said, "went with it: workplace")
        left = {f["key"] for f in httpx.get(f"{sessions}/facts").json()["facts"]}
        assert left == {"name"} and page.locator("#facts li.fact").count() == 1
        turns = httpx.get(sessions).json()["turns"]
        assert not any("My name is Alex" in t["text"] for t in turns) and turns
        assert page.locator("#turns").inner_text().count("My name is Alex") == 0
        assert page.locator(".msg.user.forgotten").count() == 1
        assert page.locator("#memory img").count() == 0
        assert page.evaluate("window.__pwned") is None
        page.screenshot(path=str(SHOTS / "memory-edited.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        name.locator("button.edit").click()  # the edit form fits a phone too
        page.screenshot(path=str(SHOTS / "memory-phone.png"), full_page=True)
        page.close()
