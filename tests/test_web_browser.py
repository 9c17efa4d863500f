"""The workbench in a real browser (Debian's chromium via Playwright) against a real uvicorn:
sign-in, the queue, a case, preview, a decision to the email delivered by the reply job, and the
XSS cases. With SECOR_SCREENSHOTS=DIR the walk-through also writes the README's screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select

from intake.cases.queries import find_case
from intake.db import Decision, Reply
from intake.service import poll_cycle
from intake.web.app import create_app
from tests.pipeline_helpers import outbox_messages
from tests.servers.browser import LiveServer
from tests.web_helpers import PASSWORD, RTL_NAME, SCRIPTED_PDF_NAME, XSS_NAME, Bench, seed

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("SECOR_SCREENSHOTS")


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[Bench, LiveServer]]:
    bench = seed(tmp_path, db_url, demo=True)
    with LiveServer(create_app(bench.config, bench.services)) as server:
        yield bench, server
    bench.services.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.dialogs = []  # every alert/confirm/prompt that fires: the XSS tests want none
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def _shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)


def _sign_in(page: Any, server: LiveServer, username: str = "ana") -> None:
    page.goto(server.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    _shot(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/")


def test_sign_in_queue_case_preview_and_a_decision_to_the_delivered_email(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    links = page.locator("table.queue a", has_text="SECOR-")
    assert links.count() >= 4 and page.get_by_role("link", name=bench.clean).is_visible()
    _shot(page, "queue")
    page.get_by_role("link", name=bench.clean).click()
    page.wait_for_url(f"**/cases/{bench.clean}**")
    assert page.locator("h1").inner_text() == bench.clean
    _shot(page, "case")
    page.locator("a", has_text="preview").first.click()  # the evaluation tool, a PDF, in the preview frame
    # the preview is a page of its own: a form filled before it has loaded is lost with the old page
    # (a CI run's decision never went out that way)
    page.wait_for_url("**preview=**")
    frame = page.locator("#preview iframe")
    assert frame.count() == 1 and frame.get_attribute("src").startswith("/files/")
    page.get_by_label("Decision").select_option(label="Return")
    page.get_by_label("Note to submitter").fill("Element 6 needs this year's emergency drill records.")
    page.get_by_role("button", name="Record decision").dblclick()  # a double click records one decision
    page.wait_for_selector("text=Decision recorded")
    page.go_back()  # and a resent form is recognised
    page.get_by_label("Decision").select_option(label="Return")
    assert page.locator("#qa-state").inner_text() in ("New", "Returned")
    page.goto(f"{server.url}/cases/{bench.clean}#decision")
    _shot(page, "decision")
    with bench.services.sessions() as session:
        case = find_case(session, bench.clean)
        assert case.qa_state == "returned"
        assert session.scalar(select(func.count(Decision.id)).where(Decision.submission_id == case.id)) == 1
        decision_replies = session.scalar(select(func.count(Reply.id)).where(
            Reply.submission_id == case.id, Reply.version_id.is_(None)))
    assert decision_replies == 1
    poll_cycle(bench.services)  # the daemon's cycle sends the outbox
    outbox = bench.config.resolve_path(bench.config.outbound.path)
    sent = [m for m in outbox_messages(outbox)
            if not m.is_multipart() and "emergency drill" in m.get_payload(decode=True).decode()]
    assert len(sent) == 1 and f"[{bench.clean}]" in sent[0]["Subject"]
    assert sent[0]["In-Reply-To"] == bench.clean_message_id


def test_keyboard_moves_through_the_queue_and_between_cases(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/cases/SECOR-**")
    first = page.locator("h1").inner_text()
    page.keyboard.press("j")
    page.wait_for_function(f"document.querySelector('h1').innerText !== {first!r}")
    page.keyboard.press("k")
    page.wait_for_function(f"document.querySelector('h1').innerText === {first!r}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hostile_names_run_no_script_and_inject_no_element(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.hostile}")
    assert page.get_by_role("link", name=XSS_NAME).is_visible()  # shown as text, exactly
    # a right-to-left override is shown as its code, never obeyed (it would read "invoice.exe.pdf" reversed)
    assert page.get_by_role("link", name=RTL_NAME.replace("\u202e", "[U+202E]")).is_visible()
    assert "\u202e" not in page.locator("body").inner_text()
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script").count() == 1  # ours (app.js)
    png = page.locator("tr", has_text="site photo.png").get_by_role("link", name="preview")
    png.click()
    image = page.locator("#preview img")
    image.wait_for()
    page.wait_for_function("document.querySelector('#preview img').complete")  # loaded (or broken: 0 below)
    assert page.evaluate("document.querySelector('#preview img').naturalWidth") == 1
    for name in ("page.html", "drawing.svg", "notes.xml"):
        with page.expect_download() as download:
            page.get_by_role("link", name=f"/{name}", exact=False).first.click()
        assert download.value.suggested_filename == name
    page.goto(f"{server.url}/?q=Hostile")
    assert page.locator("script").count() == 1 and page.locator("img").count() == 0
    _shot(page, "hostile-escaped")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    for selector in ("#injected-html", "#injected-svg"):
        assert page.locator(selector).count() == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_pdfs_own_javascript_does_not_run_in_the_preview(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.hostile}")
    page.locator("tr", has_text=SCRIPTED_PDF_NAME).get_by_role("link", name="preview").click()
    page.wait_for_url("**preview=**")
    frame = page.locator("#preview iframe")
    frame.wait_for()
    page.wait_for_timeout(3000)  # the viewer loads in its own process: give an OpenAction time to fire
    assert page.dialogs == []
    with page.expect_download() as download:  # the original bytes, script and all, stay downloadable
        page.get_by_role("link", name="download the original").click()
    assert b"/OpenAction" in Path(download.value.path()).read_bytes()
