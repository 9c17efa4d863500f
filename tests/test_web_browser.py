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
    # the demo's two cases triage returned wait for their submitters in a view of their own
    assert links.count() >= 3 and page.get_by_role("link", name=bench.clean).is_visible()
    assert page.get_by_role("link", name="Returned by triage: waiting for the submitter").is_visible()
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
def test_word_and_excel_preview_in_the_page_and_their_content_runs_nothing(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{server.url}/cases/{bench.hostile}")
    page.evaluate("window.notReloaded = true")  # gone if the page loads again
    page.locator("tr", has_text="hazards.docx").get_by_role("link", name="preview").click()
    word = page.frame_locator("#preview iframe")
    word.get_by_text("Hazard assessment 2026").wait_for()
    assert word.get_by_text("<script>alert('docx')</script>", exact=False).is_visible()  # text, not a script
    assert word.locator("a", has_text="click me").get_attribute("href") is None  # its javascript: link is gone
    assert word.locator("img").count() == 0  # the linked image too
    word.get_by_text("click me").click()
    assert page.evaluate("window.notReloaded") is True and "preview=" in page.url
    link = page.locator("tr", has_text="inspections.xlsx").get_by_role("link", name="preview")
    link.scroll_into_view_if_needed()  # as a person scrolls back to the list (the frame had the focus)
    link.click()
    excel = page.frame_locator("#preview iframe")
    excel.locator("td", has_text="Inspected on").wait_for()
    assert excel.locator("td", has_text="<script>alert('xlsx')</script>").is_visible()
    assert excel.locator("a").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.notReloaded") is True
    assert page.dialogs == []
    assert [u for u in requests if not u.startswith(server.url)] == []  # nothing fetched from elsewhere
    _shot(page, "preview-office")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_filter_files_narrows_the_list_as_one_types(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.hostile}")
    files = page.locator("table.files a.file")
    total = files.count()
    assert total >= 8
    page.get_by_label("Filter files").press_sequentially("hazard")
    page.wait_for_function("document.getElementById('file-count').textContent.includes('match')")
    visible = sorted(name.rsplit("/", 1)[-1] for name in page.locator("table.files a.file:visible").all_inner_texts())
    # Element 2 - Hazard Assessment and Element 3 - Hazard Control: a folder's name matches too
    assert visible == ["drawing.svg", "hazards.docx", "page.html", "site photo.png"]
    assert not page.locator("summary", has_text="Element 4").is_visible()  # a group with no match is hidden
    page.get_by_label("Filter files").fill("")
    page.wait_for_function(f"document.querySelectorAll('table.files tbody tr:not([hidden])').length === {total}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_at_400_pixels_queue_and_case_need_no_sideways_scrolling_and_the_decision_is_near(served, chromium) -> None:
    bench, server = served
    context = chromium.new_context(viewport={"width": 400, "height": 800})
    narrow = context.new_page()
    try:
        _sign_in(narrow, server)
        for path in ("/", f"/cases/{bench.hostile}", f"/cases/{bench.clean}"):
            narrow.goto(server.url + path)
            width = narrow.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, f"{path} is {width} px wide"
        _shot(narrow, "case-400px")
        narrow.keyboard.press("Tab")
        assert narrow.evaluate("document.activeElement.textContent") == "Skip to content"
        tabs = 1
        while narrow.evaluate("document.activeElement.id") != "to-decision" and tabs < 15:
            narrow.keyboard.press("Tab")
            tabs += 1
        narrow.keyboard.press("Enter")
        narrow.keyboard.press("Tab")
        assert narrow.evaluate("document.activeElement.closest('form.decide') !== null")
        assert tabs < 15
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_preselection_and_the_back_button_resubmit_sends_one_email(served, page: Any) -> None:
    bench, server = served
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.clean}")
    assert page.get_by_label("Decision").input_value() == ""  # nothing chosen for the analyst
    page.get_by_label("Note to submitter").fill("Please sign the evaluation tool.")
    page.get_by_role("button", name="Record decision").click()
    page.get_by_role("alert").filter(has_text="choose a decision").wait_for()
    with bench.services.sessions() as session:
        assert session.scalar(select(func.count(Decision.id))) == 0
    page.get_by_label("Decision").select_option(label="Return")
    page.get_by_label("Note to submitter").fill("Please sign the evaluation tool.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_selector("text=Decision recorded")
    page.go_back()  # the analyst goes back and sends the same Return again
    page.wait_for_load_state()
    page.get_by_label("Decision").select_option(label="Return")
    page.get_by_label("Note to submitter").fill("Please sign the evaluation tool.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_selector("text=nothing new was sent")
    page.reload()  # and once more from the page as it is now (a new form)
    page.get_by_label("Decision").select_option(label="Return")
    page.get_by_label("Note to submitter").fill("Please sign the evaluation tool.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_selector("text=nothing new was sent")
    poll_cycle(bench.services)
    outbox = bench.config.resolve_path(bench.config.outbound.path)
    sent = [m for m in outbox_messages(outbox)
            if not m.is_multipart() and "sign the evaluation tool" in m.get_payload(decode=True).decode()]
    assert len(sent) == 1


@pytest.fixture
def served_with_undo(tmp_path: Path, db_url: str) -> Iterator[tuple[Bench, LiveServer]]:
    bench = seed(tmp_path, db_url, undo_seconds=300)
    with LiveServer(create_app(bench.config, bench.services)) as server:
        yield bench, server
    bench.services.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_email_is_shown_as_it_will_go_and_undo_withdraws_it(served_with_undo, page: Any) -> None:
    bench, server = served_with_undo
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.clean}")
    page.get_by_label("Decision").select_option(label="Return")
    page.get_by_label("Note to submitter").fill("Element 6 needs this year's drill records.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_selector("text=The email waits 5 min")
    held = page.locator("#held-email")
    assert "Element 6 needs this year's drill records." in held.locator("pre").inner_text()
    assert f"[{bench.clean}]" in held.inner_text()
    held.scroll_into_view_if_needed()
    page.evaluate("document.getElementById('held-email').scrollIntoView()")
    _shot(page, "undo")
    poll_cycle(bench.services)  # the sending job runs meanwhile: the email waits
    page.get_by_role("button", name="Undo decision").click()
    page.wait_for_selector("text=Decision undone")
    assert page.locator("#held-email").count() == 0 and page.locator("#qa-state").inner_text() == "New"
    poll_cycle(bench.services)
    outbox = bench.config.resolve_path(bench.config.outbound.path)
    assert not [m for m in outbox_messages(outbox)
                if not m.is_multipart() and "drill records" in m.get_payload(decode=True).decode()]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_request_documents_due_date_the_overdue_view_and_the_one_reminder(served, page: Any) -> None:
    from datetime import timedelta

    from intake.clock import utcnow

    bench, server = served
    _sign_in(page, server)
    page.goto(f"{server.url}/cases/{bench.clean}")
    due = (utcnow() + timedelta(days=2)).date().isoformat()
    page.get_by_label("Decision").select_option(label="Request documents")
    page.locator("label.reason", has_text="Element 6").first.locator("input").check()
    page.get_by_label("Due date").fill(due)
    page.get_by_label("Note to submitter").fill("The drill records of this year, please.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_selector("text=Decision recorded")
    assert page.get_by_text("Documents due").is_visible()
    page.goto(f"{server.url}/?state=all")
    row = page.locator("tr", has_text=bench.clean)
    assert due in row.inner_text() and "overdue" not in row.inner_text()
    outbox = bench.config.resolve_path(bench.config.outbound.path)

    def reminders() -> int:
        return len([m for m in outbox_messages(outbox) if not m.is_multipart()
                    and "A reminder about your SECOR submission" in m.get_payload(decode=True).decode()])

    poll_cycle(bench.services)  # due in 2 days, reminders 3 days before: one goes out
    poll_cycle(bench.services)
    assert reminders() == 1
    with bench.services.sessions.begin() as session:  # the date passes without a new version
        find_case(session, bench.clean).qa_due_on = (utcnow() - timedelta(days=1)).date()
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="Overdue").click()
    page.wait_for_url("**state=overdue**")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1 and bench.clean in rows.first.inner_text() and "overdue" in rows.first.inner_text()
    page.goto(f"{server.url}/?state=all")
    assert bench.clean in page.locator("table.queue tbody tr").first.inner_text()  # overdue first
    _shot(page, "queue-overdue")
    poll_cycle(bench.services)
    assert reminders() == 1  # never a second one


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
