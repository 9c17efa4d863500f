"""Fuzzing with Hypothesis, bounded so that the suite stays fast: every route and form of the
running workbench answers hostile input with a 4xx or less, never a 500 or a traceback; the message
parser, seeded with the real-world mail corpus and mutated, never raises."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from intake.disposition import classify, detect_automatic, sender_unverified
from intake.message import parse_message
from intake.web.app import create_app
from tests.test_corpus import corpus_files, need
from tests.web_helpers import Bench, form_fields, seed, sign_in

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Text an attacker might send: anything, plus the shapes that broke things before (issue 24).
hostile_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["²", "9" * 5000, "18446744073709551616", "-1", "1e3", "é", "\u202e", "%00", "../../etc/passwd",
                     "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "0", "1", ""]),
)
ROUTES = ["/", "/cases", "/cases/{case}", "/cases/{case}/decision", "/cases/{case}/assign", "/cases/{case}/notes",
          "/cases/{case}/correspondents", "/files/{id}", "/messages/{id}.eml", "/stats", "/signin", "/signout",
          "/static/{id}", "/{id}"]
FIELDS = ["decision", "note", "finding", "reason", "element", "due", "sequence", "idempotency_key", "assignee",
          "text", "address", "username", "password", "signin_token", "next", "from", "back", "page", "state", "q",
          "version", "preview", "download"]


@pytest.fixture(scope="module")
def workbench() -> Iterator[tuple[Bench, TestClient, str]]:
    with tempfile.TemporaryDirectory() as folder:
        bench = seed(Path(folder), "sqlite:///" + str(Path(folder) / "fuzz.sqlite3"))
        client = TestClient(create_app(bench.config, bench.services), follow_redirects=False)
        sign_in(client)
        csrf = form_fields(client.get("/").text, "/signout")["csrf_token"]
        yield bench, client, csrf
        bench.services.close()


@FUZZ
@given(route=st.sampled_from(ROUTES), segment=hostile_text, post=st.booleans(),
       token=st.one_of(st.just("real"), st.none(), hostile_text),
       params=st.dictionaries(st.sampled_from(FIELDS), hostile_text, max_size=4),
       form=st.lists(st.tuples(st.sampled_from(FIELDS), hostile_text), max_size=8),
       real_case=st.booleans())
def test_every_route_and_form_answers_hostile_input_without_a_500(
        workbench, caplog, route: str, segment: str, post: bool, token: str | None, params: dict[str, str],
        form: list[tuple[str, str]], real_case: bool) -> None:
    bench, client, csrf = workbench
    path = route.format(case=bench.clean if real_case else quote(segment, safe=""), id=quote(segment, safe=""))
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="secor_intake.web"):
        if post:
            fields = form + ([("csrf_token", csrf if token == "real" else token)] if token is not None else [])
            response = client.post(path, params=params, data=_form(fields))
        else:
            response = client.get(path, params=params)
    assert response.status_code < 500, (path, params, form, response.text[:300])
    assert "Traceback" not in response.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], (path, params, form)


def _form(fields: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return out


MAIL = corpus_files("mail")


def _corpus_mail() -> list[Path]:
    folders = [need(p.values[0]) for p in MAIL]
    return sorted(f for folder in folders for f in (folder.rglob("*") if folder.is_dir() else [folder]) if f.is_file())


@st.composite
def mutated_mail(draw: Any, files: list[Path]) -> bytes:
    """A real email, cut, with bytes flipped, or with hostile lines spliced in."""
    raw = draw(st.sampled_from(files)).read_bytes()[:300_000]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["cut", "flip", "splice", "header"]))
        if kind == "cut":
            raw = raw[:at]
        elif kind == "flip" and raw:
            at = min(at, len(raw) - 1)
            raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
        elif kind == "splice":
            raw = raw[:at] + draw(st.binary(max_size=200)) + raw[at:]
        else:
            raw = draw(st.sampled_from([
                b"Content-Type: multipart/mixed; boundary=\"\"\r\n", b"Subject: =?utf-8?b?####?=\r\n",
                b"From: \"\xe2\x80\xae\" <@>\r\n", b"Content-Transfer-Encoding: base64\r\n\r\n====\r\n",
                b"Content-Type: application/zip; name*=utf-8''%ff%fe.zip\r\n", b"References: " + b"<a>" * 5000 + b"\r\n",
                b"Authentication-Results: x; dmarc=pass header.from=\r\n"])) + raw
    return raw


@pytest.fixture(scope="module")
def mail_files() -> list[Path]:
    return _corpus_mail()


def test_the_message_parser_survives_real_mail_mutated(mail_files: list[Path], tmp_path: Path) -> None:
    @FUZZ
    @given(raw=mutated_mail(mail_files))
    def parse(raw: bytes) -> None:
        with tempfile.TemporaryDirectory(dir=tmp_path) as workdir:
            parsed = parse_message(raw, Path(workdir) / "parts", 5_000_000)
            classify(parsed)
            detect_automatic(parsed)
            sender_unverified(parsed, None, "jane.doe@acme-roofing.ca")
            for attachment in parsed.attachments:  # whatever it wrote stays inside its folder
                assert attachment.path.resolve().is_relative_to(Path(workdir).resolve())

    parse()
