"""The workbench with the registers: beside each tool fact what the registers say, the imports, and a
company page with the certificate history and the maintenance reminders."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from intake.web.app import create_app
from tests.test_registers_findings import import_all
from tests.web_helpers import seed, sign_in


def cells(page: str, label: str) -> list[str]:
    """The cells of the tool-facts row labelled `label`, as text."""
    row = re.search(rf"<tr><th>{label}</th>(.*?)</tr>", page, re.S).group(1)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_case_page_and_company_page_show_the_registers(tmp_path):
    bench = seed(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        with TestClient(create_app(bench.config, bench.services), follow_redirects=True) as client:
            assert sign_in(client).url.path == "/"
            before = client.get(f"/cases/{bench.clean}").text
            assert "<th>Registers</th>" not in before  # nothing imported: nothing said
            import_all(bench.services.sessions, tmp_path)
            page = client.get(f"/cases/{bench.clean}").text
            assert "<th>Registers</th>" in page
            assert cells(page, "WCB account")[0] == "1234567"
            assert cells(page, "WCB account")[2] == "member: since 2020-01-01, still a member"
            assert cells(page, "Assessor")[2] == "no assessor course in the training register"  # Jordan Lee
            assert cells(page, "Purpose")[2] == "certificate SECOR 2025-06-01 to 2028-06-01"
            assert cells(page, "Evaluation end")[2] == ("continuing education kept (last course Principles of Health "
                                                        "& Safety Management, 2024-05-01)")
            assert re.search(r"members imported \S+ \S+ by test \(3 rows, members.csv, sha256 [0-9a-f]{12}\)", page)
            assert 'href="/companies/1234567"' in page

            company = client.get("/companies/1234567").text
            assert "Nguyễn Roofing Ltée" in html.unescape(company)
            assert re.search(r"<td>SECOR</td><td>2025-06-01</td><td>2028-06-01</td>", company)
            assert "None sent." in company and bench.clean in company
            holder = client.get("/companies/33-33-333").text  # a holder that never wrote
            assert "No case yet" in holder and "<td>2022-01-01</td>" in holder
            assert client.get("/companies/9999999").status_code == 404
    finally:
        bench.services.close()
