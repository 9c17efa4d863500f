"""The QA workbench as a Starlette app: routes, authorization, and the glue to the read model and the
case commands. Pages are Jinja2 templates with autoescape on; forms are plain HTML with a CSRF token.

Reads use a read-only engine (SQLite: deferred BEGIN, so a page never waits for the daemon's write
lock); writes use the daemon's engine and commit the change with its audit entry.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeGuard
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake import users
from intake.cases import commands, queries
from intake.cases.company import account_record
from intake.cases.layout import Storage, file_inside, version_files
from intake.config import Config
from intake.db import (
    Case,
    InboxMessage,
    StoredDocument,
    User,
    Version,
    WebSession,
    make_engine,
    session_factory,
    utcnow,
)
from intake.registers.checks import fact_notes
from intake.registers.names import account_digits
from intake.states import DECIDED_QA_STATES, WAITING_FOR_ANALYST, QADecision, QAState
from intake.web import auth, preview, stats
from intake.web.preview import UnsafePdf, safe_pdf
from intake.web.security import (
    FILE_CSP,
    INLINE_TYPES,
    BodyLimit,
    SecurityHeaders,
    content_disposition,
    cross_site,
    display_name,
    tokens_match,
)
from triage import bidi, wording

if TYPE_CHECKING:
    from intake.service import Services

STATIC = Path(__file__).parent / "static"
QA_STATE_LABELS = {state.value: state.label for state in QAState}
DECISION_LABELS = {decision.value: decision.label for decision in QADecision}
# The badge's colour: waiting for an analyst, in hand, or how it was decided (app.css).
STATE_CLASSES = {state.value: "waiting" if state in WAITING_FOR_ANALYST else "open" if state.is_open else state.value
                 for state in QAState}
VERDICT_LABELS = {"accepted": "Accepted", "needs_review": "Needs review", "returned": "Returned"}
QUEUE_VIEWS = {"open": "Needs QA", queries.TRIAGE_RETURNED: "Returned by triage: waiting for the submitter",
               queries.OVERDUE: "Overdue", "all": "All"}
# What the case page shows of the evaluation tool (summary.tool), in a QA analyst's words.
TOOL_FIELDS = (("legal_name", "Legal name"), ("trade_name", "Trade name"), ("wcb_account", "WCB account"),
               ("employees", "Employees"), ("purpose", "Purpose"), ("evaluation_start", "Evaluation start"),
               ("evaluation_end", "Evaluation end"), ("submitted_on", "Submitted on"), ("assessor", "Assessor"))


@dataclass
class Workbench:
    """What every request handler needs."""

    config: Config
    sessions: sessionmaker[Session]  # writes (the daemon's engine: SQLite BEGIN IMMEDIATE)
    reads: sessionmaker[Session]  # reads (SQLite: deferred BEGIN, query_only)
    storage: Storage
    templates: Environment
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]  # [web] trusted_proxies, parsed once


def _form_text(form: FormData, name: str) -> str | None:
    """A text field of a form; None when it is missing or is a file."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def _size(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(value)


def _age(value: datetime) -> str:
    delta = utcnow() - value
    if delta < timedelta(hours=1):
        return f"{max(int(delta.total_seconds() // 60), 0)} min"
    if delta < timedelta(days=2):
        return f"{int(delta.total_seconds() // 3600)} h"
    return f"{delta.days} d"


# Types as people name them (the case page's Type column); anything else is shown as its MIME type.
KIND_NAMES = {"application/pdf": "PDF", preview.DOCX: "Word", preview.XLSX: "Excel", "application/msword": "Word (old)",
              "application/vnd.ms-excel": "Excel (old)", "image/png": "PNG image", "image/jpeg": "JPEG image",
              "image/gif": "GIF image", "image/webp": "WebP image", "text/plain": "Text",
              "application/zip": "Zip archive", "text/html": "HTML", "image/svg+xml": "SVG image"}


def _templates() -> Environment:
    env = Environment(loader=PackageLoader("intake.web", "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=bidi.finalize)
    env.filters.update(size=_size, age=_age, safe_name=display_name, kind=lambda m: KIND_NAMES.get(m, m),
                       duration=stats.duration,
                       when=lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "")
    env.globals.update(state_labels=QA_STATE_LABELS, decision_labels=DECISION_LABELS, state_classes=STATE_CLASSES,
                       QADecision=QADecision, QAState=QAState, DECIDED_QA_STATES=DECIDED_QA_STATES, verdict_labels=VERDICT_LABELS, queue_views=QUEUE_VIEWS)
    return env


def _address(request: Request) -> str:
    """The client's address: the peer's, or, when the peer is a configured proxy, the nearest address
    of X-Forwarded-For that is not one of them (what a client writes there itself is further left)."""
    peer = request.client.host if request.client else "unknown"
    if not _is_trusted_proxy(request, peer):
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
    for hop in reversed(forwarded):
        if not _is_trusted_proxy(request, hop):
            return hop[:100]
    return peer


def _wait_words(seconds: int) -> str:
    """A sign-in delay as people say it: "1 second", "40 seconds", "2 minutes" (rounded up)."""
    return wording.count(seconds, "second") if seconds < 60 else wording.count(math.ceil(seconds / 60), "minute")


def _is_trusted_proxy(request: Request, host: str) -> bool:
    wb: Workbench = request.app.state.wb
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in wb.trusted_proxies)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    wb: Workbench = request.app.state.wb
    me: auth.SignedIn | None = request.scope.get("signed_in")
    html = wb.templates.get_template(name).render(me=me, request_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def _signed_in(request: Request) -> auth.SignedIn | None:
    """The session's user; touches a live session now and then, removes an expired one. A user named
    by a trusted reverse proxy gets a session of their own (its cookie is set on the response)."""
    wb: Workbench = request.app.state.wb
    token = request.cookies.get(auth.COOKIE)
    with wb.reads() as session:
        me, touch = auth.lookup(session, token, wb.config.web)
    if touch:
        with wb.sessions.begin() as session:
            auth.touch_or_expire(session, me.session_id if me else auth.session_id_of(token or ""), me is not None)
    proxied = _proxy_user(request)
    if proxied is None or (me is not None and me.username.lower() == proxied.lower()):
        return me
    with wb.sessions.begin() as session:
        user = users.find_user(session, proxied)
        if user is None or user.disabled:
            return None
        new_token = auth.start_session(session, user, token)
        commands.audit(session, user, "sign_in", address=_address(request), via="proxy")
    request.scope["new_session_token"] = new_token
    with wb.reads() as session:
        return auth.lookup(session, new_token, wb.config.web)[0]


def _proxy_user(request: Request) -> str | None:
    """The user a configured reverse proxy names, only when the request comes from that proxy."""
    wb: Workbench = request.app.state.wb
    header = wb.config.web.proxy_user_header
    if not header or request.client is None or not _is_trusted_proxy(request, request.client.host):
        return None
    return request.headers.get(header, "").strip() or None


def _with_new_session(request: Request, response: Response) -> Response:
    if "new_session_token" in request.scope:
        _set_cookie(request, response, auth.COOKIE, request.scope["new_session_token"])
    return response


def page(handler: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
    """A GET route for signed-in users; anonymous: 401 to a JSON-only client, else the sign-in page."""
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        me = await run_in_threadpool(_signed_in, request)
        if me is None:
            accept = request.headers.get("accept", "")
            if "application/json" in accept and "text/html" not in accept:
                return JSONResponse({"error": "sign in first"}, status_code=401)
            return RedirectResponse("/signin?" + urlencode({"next": request.url.path}), status_code=303)
        request.scope["signed_in"] = me
        return _with_new_session(request, await run_in_threadpool(handler, request, me))
    return endpoint


def action(handler: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
    """A POST route: a signed-in user, a same-site request (Fetch Metadata) and the session's CSRF
    token, else 403 and nothing changes."""
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        if cross_site(request.headers):
            return _forbidden(request, "cross-site request refused")
        me = await run_in_threadpool(_signed_in, request)
        form = await request.form()
        if me is None or not tokens_match(me.csrf_token, _form_text(form, "csrf_token")):
            return _forbidden(request, "your session has ended or the form is stale: reload the page")
        request.scope["signed_in"] = me
        return _with_new_session(request, await run_in_threadpool(handler, request, me, form))
    return endpoint


def _forbidden(request: Request, why: str) -> HTMLResponse:
    return _render(request, "error.html", status=403, title="Forbidden", message=why)


def _not_found(request: Request) -> HTMLResponse:
    return _render(request, "error.html", status=404, title="Not found", message="There is nothing here.")


# -- sign-in -------------------------------------------------------------------------------------

async def signin_page(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = _render(request, "signin.html", signin_token=token, next=_safe_next(request.query_params.get("next")),
                       error=None)
    _set_cookie(request, response, auth.SIGNIN_COOKIE, token, max_age=3600)
    return response


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//host` or a scheme) may follow sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    wb: Workbench = request.app.state.wb
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=wb.config.web.public_url.startswith("https://"))


async def signin(request: Request) -> Response:
    wb: Workbench = request.app.state.wb
    form = await request.form()
    if cross_site(request.headers) or not tokens_match(request.cookies.get(auth.SIGNIN_COOKIE),
                                                        _form_text(form, "signin_token")):
        return _forbidden(request, "the sign-in form is stale: reload the page")
    username, password = str(form.get("username", ""))[:100], str(form.get("password", ""))[:1000]
    address = _address(request)
    web = wb.config.web
    throttle = users.SignInThrottle(timedelta(minutes=web.signin_window_minutes), web.signin_free_failures,
                                    web.signin_free_failures_per_name, timedelta(seconds=web.signin_max_delay_seconds))

    def attempt() -> tuple[str, str | None, str | None, timedelta]:
        """The outcome, the session and device tokens when it is "ok", and the wait when it is "wait"."""
        with wb.sessions.begin() as session:
            device = auth.trusted_device(users.find_user(session, username), request.cookies.get(auth.DEVICE_COOKIE))
            source = users.TRUSTED_SOURCE + device if device else address
            wait = users.sign_in_wait(session, username, source, throttle)
            if wait > timedelta(0):
                return "wait", None, None, wait
            user = users.check_password(session, username, password)
            if user is None:
                users.record_failed_sign_in(session, username, source)
                commands.audit(session, None, "sign_in_failed", username=username, address=address)
                return "failed", None, None, wait
            token = auth.start_session(session, user, request.cookies.get(auth.COOKIE))
            commands.audit(session, user, "sign_in", address=address)
            return "ok", token, auth.device_token(user), wait

    outcome, token, device_token, wait = await run_in_threadpool(attempt)
    if outcome != "ok":
        again = secrets.token_urlsafe(24)
        seconds = math.ceil(wait.total_seconds())
        message = (f"Too many failed sign-ins: try again in {_wait_words(seconds)}." if outcome == "wait"
                   else "Unknown user name or wrong password.")
        response: Response = _render(request, "signin.html", status=429 if outcome == "wait" else 401,
                           signin_token=again, next=_safe_next(str(form.get("next", ""))), error=message)
        if outcome == "wait":
            response.headers["Retry-After"] = str(seconds)
        _set_cookie(request, response, auth.SIGNIN_COOKIE, again, max_age=3600)
        return response
    response = RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)
    assert token is not None and device_token is not None
    _set_cookie(request, response, auth.COOKIE, token)
    _set_cookie(request, response, auth.DEVICE_COOKIE, device_token, max_age=auth.DEVICE_DAYS * 86400)
    response.delete_cookie(auth.SIGNIN_COOKIE, path="/")
    return response


def signout(request: Request, me: auth.SignedIn, form: FormData) -> Response:
    wb: Workbench = request.app.state.wb
    with wb.sessions.begin() as session:
        auth.end_session(session, request.cookies.get(auth.COOKIE, ""))
        commands.audit(session, session.get(User, me.user_id), "sign_out")
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


# -- the queue -----------------------------------------------------------------------------------

def _filters(request: Request) -> queries.QueueFilter:
    params = request.query_params
    try:
        page_number = int(params.get("page", "1"))
    except ValueError:
        page_number = 1
    sort = params.get("sort", "")
    return queries.QueueFilter(state=params.get("state", "open"), verdict=params.get("verdict", ""),
                               assignee=params.get("assignee", ""), q=params.get("q", "")[:200], page=page_number,
                               sort=sort if sort.lstrip("-") in queries.SORTABLE else "")


def _query(filters: queries.QueueFilter, **changes: Any) -> str:
    values = {"state": filters.state, "verdict": filters.verdict, "assignee": filters.assignee, "q": filters.q,
              "page": filters.page, "sort": filters.sort} | changes
    return urlencode({k: v for k, v in values.items() if v not in ("", None, 1) or k == "state"})


def queue_page(request: Request, me: auth.SignedIn) -> Response:
    wb: Workbench = request.app.state.wb
    filters = _filters(request)
    with wb.reads() as session:
        result = queries.queue(session, filters, wb.config.web.page_size)
        analysts = queries.active_usernames(session)
    return _render(request, "queue.html", result=result, filters=filters, query=functools.partial(_query, filters),
                   states=QA_STATE_LABELS, analysts=analysts, back=_query(filters))


# -- the case page -------------------------------------------------------------------------------

@dataclass
class FileRow:
    id: int
    path: str  # inside the submission
    shown: str  # inside its element folder (the group's heading names the folder)
    size: int
    mime: str
    preview: str | None  # the preview frame's address; None: download only
    image: bool


FILES_PER_PAGE = 400  # a 5,000-file case page stays small; the rest is a page (or a filter) away


def _preview_src(document_id: int, mime: str) -> str | None:
    if mime in INLINE_TYPES:
        return f"/files/{document_id}"
    return f"/files/{document_id}/preview" if mime in preview.HTML_PREVIEW_TYPES else None


def file_row(view: queries.VersionView, d: queries.DocumentRow) -> FileRow:
    """A document's row as the case page shows it."""
    return FileRow(d.id, d.path, view.shown_path(d), d.size, d.mime, _preview_src(d.id, d.mime),
                   d.mime.startswith("image/"))


@dataclass
class FileListing:
    """One page of a version's files, grouped as on the case page, narrowed by a filter."""

    groups: list[tuple[str | bool | None, list[FileRow], int]]  # (element | False: the tool, rows shown, group size)
    filter: str
    page: int
    pages: int
    matching: int
    total: int


def file_listing(view: queries.VersionView, text: str, page_number: int) -> FileListing:
    """The rows of page `page_number` among the files whose path contains `text` (any case)."""
    wanted = text.strip().casefold()
    every: list[tuple[str | bool | None, list[queries.DocumentRow]]] = [(False, view.tool_rows)] if view.tool_rows else []
    every += view.file_groups
    matching = [(element, [r for r in rows if wanted in r.path.casefold()] if wanted else rows, len(rows))
                for element, rows in every]
    count = sum(len(rows) for _, rows, _ in matching)
    pages = max(1, -(-count // FILES_PER_PAGE))
    page_number = min(max(page_number, 1), pages)
    skip, room = (page_number - 1) * FILES_PER_PAGE, FILES_PER_PAGE
    shown: list[tuple[str | bool | None, list[FileRow], int]] = []
    for element, rows, size in matching:
        if skip >= len(rows):
            skip -= len(rows)
            continue
        part = rows[skip:skip + room]
        skip, room = 0, room - len(part)
        shown.append((element, [file_row(view, d) for d in part], size))
        if room == 0:
            break
    return FileListing(shown, text, page_number, pages, count, view.file_count)


def case_page(request: Request, me: auth.SignedIn) -> Response:
    wb: Workbench = request.app.state.wb
    tracking = request.path_params["tracking"]
    number = _version_number(request)
    filters = _filters(request)
    with wb.reads() as session:
        found = queries.case_page_view(session, wb.storage, tracking, number, filters, wb.config.registers,
                                       wb.config.web.undo_seconds)
    if found is None:
        return _render(request, "error.html", status=404, title="No such case",
                       message=f"There is no case {tracking}. Search for it among all cases:", search=tracking)
    case, view = found.case, found.view
    shown = None
    if "preview" in request.query_params and view.version is not None:
        wanted = request.query_params["preview"]
        document = next((d for rows in [view.tool_rows] + [r for _, r in view.file_groups] for d in rows
                         if str(d.id) == wanted), None)
        shown = file_row(view, document) if document is not None and _preview_src(document.id, document.mime) else None
    with wb.sessions.begin() as session:
        commands.audit(session, session.get(User, me.user_id), "view", case.id,
                       version=view.version.number if view.version else None)
        flash = _take_flash(session, me)
    due = (date.today() + timedelta(days=wb.config.web.request_documents_days)).isoformat()
    return _render(request, "case.html", case=case, view=view, decisions=found.decisions,
                   timeline=found.timeline, readers=found.readers, previous_case=found.previous_case,
                   next_case=found.next_case, back=_query(filters), analysts=found.analysts, preview=shown, due=due,
                   company=found.company, listing=_listing(request, view), registers=found.registers,
                   register_notes=fact_notes(found.registers), tool_fields=TOOL_FIELDS, held=found.held,
                   triage_told=found.triage_told, undo_seconds=wb.config.web.undo_seconds,
                   accept_sends_email=wb.config.web.accept_sends_email, today=utcnow().date(),
                   return_reasons=wb.config.web.return_reasons, idempotency_key=secrets.token_urlsafe(24),
                   sequence=len(found.decisions) + 1, error=flash.get("error"), notice=flash.get("notice"),
                   version_numbers={v.id: v.number for v in case.versions},
                   missing_version=number if view.version is not None and number is not None
                   and view.version.number != number else None)


def _version_number(request: Request) -> int | None:
    """The version asked for (?version=N), None for the latest."""
    try:
        return int(request.query_params["version"]) if "version" in request.query_params else None
    except ValueError:
        return None


def _listing(request: Request, view: queries.VersionView) -> FileListing | None:
    if view.version is None:
        return None
    try:
        page_number = int(request.query_params.get("files_page", "1"))
    except ValueError:
        page_number = 1
    return file_listing(view, request.query_params.get("files", "")[:200], page_number)


def case_files(request: Request, me: auth.SignedIn) -> Response:
    """The case page's file list alone (what the Filter files box and the page links fetch)."""
    wb: Workbench = request.app.state.wb
    number = _version_number(request)
    with wb.reads() as session:
        case = session.scalar(select(Case).where(Case.tracking_number == request.path_params["tracking"])
                              .options(selectinload(Case.versions)))
        if case is None:
            return _not_found(request)
        view = queries.version_view(session, case, number)
    if view.version is None:
        return _not_found(request)
    return _render(request, "files.html", case=case, view=view, listing=_listing(request, view),
                   back=_query(_filters(request)))


# -- files ---------------------------------------------------------------------------------------

def file_preview(request: Request, me: auth.SignedIn) -> Response:
    """A Word or Excel document as a page of sanitised HTML, for the case page's preview frame."""
    wb: Workbench = request.app.state.wb
    found = _document(wb, request.path_params["document_id"])
    if found is None or found[0].mime not in preview.HTML_PREVIEW_TYPES:
        return _not_found(request)
    document, path, submission_id = found
    with wb.sessions.begin() as session:
        commands.audit(session, session.get(User, me.user_id), "open", submission_id, document.id,
                            path=document.path)
    name = document.path.rsplit("/", 1)[-1]
    try:
        body = preview.office_html(path, document.mime)
    except preview.NotPreviewable as exc:
        body = f"<p>{html.escape(str(exc))}: download it instead.</p>"
    return HTMLResponse(preview.preview_page(name, body), headers={
        "Content-Security-Policy": preview.PREVIEW_CSP, "Cache-Control": "private, no-store"})


def _document(wb: Workbench, document_id: int) -> tuple[StoredDocument, Path, int] | None:
    """A submitted document by its id in the database (never by a path from the URL), its file, its case's id."""
    with wb.reads() as session:
        row = session.execute(select(StoredDocument, Version.storage_path, Case.id)
                              .join(Version, Version.id == StoredDocument.version_id)
                              .join(Case, Case.id == Version.submission_id)
                              .where(StoredDocument.id == document_id)).first()
    if row is None:
        return None
    document, storage_path, submission_id = row
    path = file_inside(version_files(wb.storage.path_of(storage_path)), document.path) if storage_path else None
    return (document, path, submission_id) if path is not None else None


def file_download(request: Request, me: auth.SignedIn) -> Response:
    """A submitted document by its id in the database, never by a path from the URL. PDFs and
    images inline; anything else (HTML, SVG, XML included) as an octet-stream attachment."""
    wb: Workbench = request.app.state.wb
    found = _document(wb, request.path_params["document_id"])
    if found is None:
        return _not_found(request)
    document, path, submission_id = found
    inline = document.mime in INLINE_TYPES and request.query_params.get("download") != "1"
    with wb.sessions.begin() as session:
        commands.audit(session, session.get(User, me.user_id), "download" if not inline else "open",
                            submission_id, document.id, path=document.path)
    name = document.path.rsplit("/", 1)[-1]
    headers = {"Content-Disposition": content_disposition("inline" if inline else "attachment", name),
               "Content-Security-Policy": FILE_CSP + ("" if document.mime == "application/pdf" else "; sandbox"),
               "Cache-Control": "private, no-store"}
    if inline and document.mime == "application/pdf":
        # Chromium's viewer would run the PDF's own JavaScript: preview a copy without any.
        try:
            return Response(safe_pdf(path), media_type="application/pdf", headers=headers)
        except UnsafePdf:
            return _render(request, "error.html", status=415, title="No preview",
                           message="This PDF cannot be previewed safely: download it to open it.")
    return FileResponse(path, media_type=document.mime if inline else "application/octet-stream", headers=headers)


def message_download(request: Request, me: auth.SignedIn) -> Response:
    """An email of the case's correspondence, as a .eml attachment (never rendered)."""
    wb: Workbench = request.app.state.wb
    with wb.reads() as session:
        message = session.get(InboxMessage, request.path_params["message_id"])
        if message is None or message.submission_id is None:
            return _not_found(request)
        submission = session.get(Case, message.submission_id)
        version = session.get(Version, message.version_id) if message.version_id else None
    if submission is None:  # not reached: the message's case is its foreign key, and cases are kept
        return _not_found(request)
    path = queries.message_file(wb.storage, submission.tracking_number, message, version)
    if path is None:
        return _not_found(request)
    with wb.sessions.begin() as session:
        commands.audit(session, session.get(User, me.user_id), "download", submission.id, message=message.id)
    return FileResponse(path, media_type="application/octet-stream", headers={
        "Content-Disposition": content_disposition("attachment", f"{submission.tracking_number}-{message.id}.eml"),
        "Content-Security-Policy": FILE_CSP + "; sandbox", "Cache-Control": "private, no-store"})


# -- changes -------------------------------------------------------------------------------------

def _flash_redirect(request: Request, session: Session, url: str, *, error: str | None = None,
                    notice: str | None = None) -> RedirectResponse:
    """A 303 to `url` with a message for the next page, kept in the server-side session: a message is
    never read from the URL, so a link cannot put words in the workbench's mouth (issue 24)."""
    me: auth.SignedIn = request.scope["signed_in"]
    row = session.get(WebSession, me.session_id)
    if row is not None:
        row.flash = {"error": error} if error else {"notice": notice or ""}
    return RedirectResponse(url, status_code=303)


def _take_flash(session: Session, me: auth.SignedIn) -> dict[str, str]:
    """The session's message for this page, once."""
    row = session.get(WebSession, me.session_id)
    flash = (row.flash if row is not None else None) or {}
    if row is not None and row.flash is not None:
        row.flash = None
    return flash


def _case_url(tracking: str, **params: str) -> str:
    return f"/cases/{tracking}" + ("?" + urlencode(params) if params else "")


def case_action(handler: Callable[..., Response]) -> Callable[[Request], Awaitable[Response]]:
    """An `action` on one case: `handler(request, session, case, actor, form)` runs in one write
    transaction, with the case of the URL (404 when unknown) and the signed-in user."""
    def run(request: Request, me: auth.SignedIn, form: FormData) -> Response:
        wb: Workbench = request.app.state.wb
        with wb.sessions.begin() as session:
            submission = queries.find_case(session, request.path_params["tracking"])
            if submission is None or not submission.versions:
                return _not_found(request)
            return handler(request, session, submission, session.get(User, me.user_id), form)
    return action(functools.wraps(handler)(run))


def decide(request: Request, session: Session, submission: Case, actor: User, form: FormData) -> Response:
    wb: Workbench = request.app.state.wb
    tracking = submission.tracking_number
    chosen = {int(i) for v in form.getlist("finding") if isinstance(v, str) for i in v.split(",") if _small_number(i)}
    findings = [{"code": f.code, "path": f.path, "message": f.message} for f in submission.versions[-1].findings
                if f.id in chosen and queries.quotable(f.code)]
    try:
        decision_request = _decision_request(form, wb.config.web.return_reasons, findings)
        result = commands.record_decision(session, submission, actor, decision_request, wb.config.outbound,
                                          wb.config.web.accept_sends_email, wb.config.web.undo_seconds)
    except (ValueError, commands.DecisionError) as exc:  # nothing was written before these
        return _flash_redirect(request, session, _case_url(tracking), error=str(exc))
    except commands.DecidedMeanwhile as exc:
        who = exc.latest.user.username if exc.latest else "someone"
        return _flash_redirect(request, session, _case_url(tracking), error=f"{who} recorded a decision on this "
                               "case meanwhile; nothing was sent. Review it below.")
    if result.created:
        from intake.metrics import DECISIONS

        DECISIONS.labels(decision_request.decision).inc()
    return _flash_redirect(request, session, _case_url(tracking),
                           notice=_decision_notice(wb, result, decision_request))


def _decision_notice(wb: Workbench, result: commands.DecisionResult,
                     request: commands.DecisionRequest) -> str:
    """What the analyst is told after Record decision: what happened, and what reaches the submitter."""
    decision = result.decision
    if not result.created:
        if decision.undone_at is not None:
            return "This decision was undone; nothing was sent. Choose again below."
        return "This decision was already recorded; nothing new was sent."
    said = "Decision recorded."
    if result.already_told is not None:
        sent = result.already_told.sent_at or result.already_told.created_at
        said += (f" Triage's email of {sent:%Y-%m-%d %H:%M} UTC had already told the submitter this version's "
                 "findings: " + ("only what is new goes out." if decision.reply_id else "nothing new was sent."))
    if decision.reply_id is not None and wb.config.web.undo_seconds > 0:
        minutes = wb.config.web.undo_seconds / 60
        said += f" The email waits {minutes:g} min before it goes out: Undo decision below withdraws it."
    if decision.decision == "accept" and decision.reply_id is None and request.note.strip():
        said += " Accept sends no email: your note was kept with the decision, not sent to the submitter."
    return said


def undo(request: Request, session: Session, submission: Case, actor: User, form: FormData) -> Response:
    wb: Workbench = request.app.state.wb
    tracking = submission.tracking_number
    try:
        decision_id = int(str(form.get("decision_id", "")))
        commands.undo_decision(session, submission, actor, decision_id, wb.config.web.undo_seconds)
    except (ValueError, LookupError) as exc:
        return _flash_redirect(request, session, _case_url(tracking), error=f"nothing was undone: {exc}")
    except commands.TooLateToUndo as exc:
        return _flash_redirect(request, session, _case_url(tracking), error=f"nothing was undone: {exc}.")
    except PermissionError as exc:
        return _forbidden(request, str(exc))  # nothing was changed before the check
    return _flash_redirect(request, session, _case_url(tracking), notice="Decision undone: its email was withdrawn, "
                           "never sent. The audit trail keeps both.")


def _small_number(value: object) -> TypeGuard[str]:
    """An id or index a form may carry: ASCII digits (not "²"), short enough for a 64-bit column."""
    return isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18


def _decision_request(form: FormData, configured: list[str],
                      findings: list[dict[str, Any]]) -> commands.DecisionRequest:
    choice = str(form.get("decision", ""))
    qa_reasons = [configured[int(i)] for i in form.getlist("reason") if _small_number(i) and int(i) < len(configured)]
    due_text = str(form.get("due", "")).strip()
    sequence_text = str(form.get("sequence", ""))
    try:
        due = date.fromisoformat(due_text) if due_text else None
    except ValueError:
        raise ValueError("the due date is not a date (YYYY-MM-DD)") from None
    if not _small_number(sequence_text):
        raise ValueError("the form is not valid: reload the page")
    sequence = int(sequence_text)
    key = str(form.get("idempotency_key", ""))
    if not 16 <= len(key) <= 64:
        raise ValueError("the form is not valid: reload the page")
    elements = [str(e)[:200] for e in form.getlist("element")] if choice == QADecision.REQUEST_DOCUMENTS else []
    return commands.DecisionRequest(decision=choice, idempotency_key=key, sequence=sequence,
                                         note=str(form.get("note", "")), qa_reasons=qa_reasons,
                                         finding_reasons=findings,
                                         elements=elements, due=due if choice == QADecision.REQUEST_DOCUMENTS else None)


def assign(request: Request, session: Session, submission: Case, actor: User, form: FormData) -> Response:
    tracking = submission.tracking_number
    name = str(form.get("assignee", ""))
    assignee = actor if name == "me" else (users.find_user(session, name) if name else None)
    if name and (assignee is None or assignee.disabled):
        return _flash_redirect(request, session, _case_url(tracking), error=f"no active user {name}")
    try:
        commands.assign(session, submission, actor, assignee)
    except PermissionError as exc:
        return _forbidden(request, str(exc))  # nothing was changed before the check
    back = str(form.get("back", ""))
    return RedirectResponse(("/?" + back) if form.get("from") == "queue" else _case_url(tracking), status_code=303)


def add_note(request: Request, session: Session, submission: Case, actor: User, form: FormData) -> Response:
    try:
        commands.add_note(session, submission, actor, str(form.get("text", "")))
    except commands.DecisionError as exc:
        return _flash_redirect(request, session, _case_url(submission.tracking_number), error=str(exc))
    return RedirectResponse(_case_url(submission.tracking_number) + "#notes", status_code=303)


def add_correspondent(request: Request, session: Session, submission: Case, actor: User, form: FormData) -> Response:
    url = _case_url(submission.tracking_number) + "#correspondence"
    try:
        address = commands.add_correspondent(session, submission, actor, str(form.get("address", ""))[:400])
    except commands.DecisionError as exc:
        return _flash_redirect(request, session, url, error=str(exc))
    return _flash_redirect(request, session, url, notice=f"{address} may now write for this case.")


def company_page(request: Request, me: auth.SignedIn) -> Response:
    """One WCB account's company: its cases by year, what is due next, its certificate history from
    the certificates register and the maintenance reminders sent."""
    wb: Workbench = request.app.state.wb
    account = account_digits(request.path_params["account"])
    if account is None:
        return _not_found(request)
    with wb.reads() as session:
        record = account_record(session, account, date.today().year)
    if record is None:
        return _not_found(request)
    return _render(request, "company.html", company=record)


def stats_page(request: Request, me: auth.SignedIn) -> Response:
    wb: Workbench = request.app.state.wb
    with wb.reads() as session:
        figures = stats.compute(session)
    return _render(request, "stats.html", figures=figures)


async def not_found(request: Request, exc: Exception) -> Response:
    """An unknown address: a signed-in user keeps the navigation."""
    request.scope["signed_in"] = await run_in_threadpool(_signed_in, request)
    return _not_found(request)


async def http_error(request: Request, exc: Exception) -> Response:
    """Any other refusal Starlette raises (a malformed form: 400, a wrong method: 405) as our page."""
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    return _render(request, "error.html", status=status, title="Bad request" if status == 400 else "Refused",
                   message="The request could not be understood: reload the page and try again.")


class IdConvertor(IntegerConvertor):
    """A row id in a path: at most 18 digits, so that it fits a 64-bit column (else the route is a 404)."""

    regex = "[0-9]{1,18}"


register_url_convertor("id", IdConvertor())


def create_app(config: Config, services: Services | None = None) -> Starlette:
    """The workbench on `config`'s database and storage (reusing `services`' engine when given)."""
    if services is not None:
        sessions, storage = services.sessions, services.storage
    else:
        engine = make_engine(config.database_url)
        sessions, storage = session_factory(engine), Storage(config.resolve_path(config.storage.path))
    reads = session_factory(make_engine(config.database_url, read_only=True))
    routes = [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", action(signout), methods=["POST"]),
        Route("/", page(queue_page), methods=["GET"]),
        Route("/cases", page(queue_page), methods=["GET"]),
        Route("/cases/{tracking}", page(case_page), methods=["GET"]),
        Route("/cases/{tracking}/decision", case_action(decide), methods=["POST"]),
        Route("/cases/{tracking}/undo", case_action(undo), methods=["POST"]),
        Route("/cases/{tracking}/assign", case_action(assign), methods=["POST"]),
        Route("/cases/{tracking}/notes", case_action(add_note), methods=["POST"]),
        Route("/cases/{tracking}/correspondents", case_action(add_correspondent), methods=["POST"]),
        Route("/cases/{tracking}/files", page(case_files), methods=["GET"]),
        Route("/files/{document_id:id}", page(file_download), methods=["GET"]),
        Route("/files/{document_id:id}/preview", page(file_preview), methods=["GET"]),
        Route("/messages/{message_id:id}.eml", page(message_download), methods=["GET"]),
        Route("/companies/{account}", page(company_page), methods=["GET"]),
        Route("/stats", page(stats_page), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, HTTPException: http_error})
    app.state.wb = Workbench(config=config, sessions=sessions, reads=reads, storage=storage, templates=_templates(),
                              trusted_proxies=tuple(ipaddress.ip_network(n, strict=False)
                                                    for n in config.web.trusted_proxies))
    app.add_middleware(BodyLimit, max_bytes=config.web.max_request_bytes)
    app.add_middleware(SecurityHeaders)  # added last: the outermost, so that every refusal carries the headers
    return app
