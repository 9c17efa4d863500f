"""Reading register exports: encodings (UTF-8 with and without BOM, Windows-1252), odd headers, dates,
every bad row named, duplicates, and the one-line refusals (binary, semicolons, missing column, size,
row count)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from intake.registers import REGISTERS
from intake.registers.csvfile import LAYOUTS, FileLimits, RegisterFile, RegisterFileError, parse_date
from intake.registers.names import account_digits, name_key, possible_match

LIMITS = FileLimits(max_bytes=20_000_000, max_rows=100_000)


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "register.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def read(path: Path, register: str = "members", limits: FileLimits = LIMITS) -> tuple[RegisterFile, list[dict]]:
    register_file = RegisterFile(register, path, limits)
    return register_file, list(register_file.rows())


TRAINING = ("Name,WCB Account,Course,Completed On,Hours\n"
            "\"Nguyễn, Tôm\",123-4567,Principles of Health and Safety Management,31-Mar-2026,14\n"
            "Zoë Ébert,,Small Employer Health and Safety Management,\"March 31, 2025\",7.5\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_with_and_without_bom_and_odd_headers(tmp_path, encoding):
    path = write(tmp_path, TRAINING, encoding)
    register_file, rows = read(path, "training")
    assert register_file.encoding == "utf-8-sig" and register_file.problems == []
    assert [(r["name"], r["wcb_account"], r["completed_on"], r["hours"], r["line"]) for r in rows] == [
        ("Nguyễn, Tôm", "1234567", date(2026, 3, 31), 14.0, 2),
        ("Zoë Ébert", None, date(2025, 3, 31), 7.5, 3)]


def test_windows_1252_is_read_when_the_file_is_not_utf8(tmp_path):
    text = ("  MEMBER_until , Legal Name,wcb-account,Member Since,Notes\n"
            ",Société Générale Ltée,1234567,2020-01-15,“quoted” note\n")
    register_file, rows = read(write(tmp_path, text, "cp1252"))
    assert register_file.encoding == "cp1252"
    assert rows == [{"wcb_account": "1234567", "legal_name": "Société Générale Ltée", "member_since": date(2020, 1, 15),
                     "member_until": None, "line": 2}]


def test_every_bad_row_is_named_with_line_column_and_why(tmp_path):
    text = ("wcb_account,legal_name,member_since,member_until\n"
            "1234567,Good Ltd,2020-01-01,\n"
            "12,Short Account Ltd,2020-01-01,\n"
            "7654321,Ambiguous Ltd,03/04/2026,\n"
            "\n"
            "2345678,Backwards Ltd,2024-01-01,2023-12-31\n"
            ",No Account Ltd,,\n"
            "\"3456789\",\"Multi\nLine Ltd\",2020-02-30,31-Dec-2026\n")
    register_file, rows = read(write(tmp_path, text))
    assert [r["wcb_account"] for r in rows] == ["1234567"]
    assert [str(p) for p in register_file.problems] == [
        "line 3, column wcb_account: '12' is not a WCB account number (6 to 10 digits)",
        "line 4, column member_since: '03/04/2026' is ambiguous (which number is the month?): write it as "
        "YYYY-MM-DD or with the month in words (31-Mar-2026)",
        "line 6, column member_until: 2023-12-31 is before member_since 2024-01-01",
        "line 7, column wcb_account: is empty",
        "line 7, column member_since: is empty",
        "line 8, column member_since: '2020-02-30' is not a day of the calendar"]


def test_exact_duplicates_are_imported_once_and_reported(tmp_path):
    text = (TRAINING
            + "Tom Nguyen,1234567,principles of  health and safety management,2026-03-31,14\n"
            + "Zoë Ébert,,Small Employer Health and Safety Management,2025-03-31,7.5\n"
            + "Zoë Ébert,,Small Employer Health and Safety Management,2025-03-31,8\n")
    register_file, rows = read(write(tmp_path, text), "training")
    assert [r["line"] for r in rows] == [2, 3, 6]  # line 6 differs in hours: a record of its own
    assert register_file.duplicates == [4, 5]


@pytest.mark.parametrize("content, why", [
    (b"\x00\x01\x02binary\xff\xfe", "is a binary file, not CSV text"),
    (b"PK\x03\x04\x14\x00rest of a workbook", "is a zip file or an Excel workbook (.xlsx), not CSV: save the sheet "
     "as 'CSV UTF-8 (Comma delimited)'"),
    ("wcb_account;legal_name;member_since;member_until\r\n1234567;Acme;2020-01-01;\r\n".encode(),
     "is separated by semicolons, not commas: save the spreadsheet as 'CSV UTF-8 (Comma delimited)'"),
    (b"wcb_account,legal_name,member_until\r\n1234567,Acme,\r\n",
     "line 1: the header lacks member_since (a members register needs wcb_account, member_since, member_until; "
     "found 'wcb_account', 'legal_name', 'member_until')"),
    (b"wcb_account,WCB Account,member_since,member_until\r\n", "line 1: the header has column wcb_account twice "
     "(columns 1 and 2)"),
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),
    (b"\r\n1234567,2020-01-01,\r\n", "line 1: the header lacks wcb_account, member_since, member_until (a members "
     "register needs wcb_account, member_since, member_until; found nothing)"),
    (b"wcb_account,member_since,member_until\r\n\x81\x8d,2020-01-01,\r\n", "is neither UTF-8 nor Windows-1252 text"),
])
def test_files_that_cannot_be_a_register_get_one_line(tmp_path, content, why):
    path = tmp_path / "register.csv"
    path.write_bytes(content)
    with pytest.raises(RegisterFileError) as refused:
        read(path)
    assert str(refused.value) == why


def test_size_and_row_limits(tmp_path):
    header = "wcb_account,member_since,member_until\n"
    path = write(tmp_path, header + "".join(f"{1000000 + i},2020-01-01,\n" for i in range(10_000)))
    register_file, rows = read(path)
    assert len(rows) == 10_000 and register_file.problems == []
    with pytest.raises(RegisterFileError, match=r"^has more than 9,999 rows \(\[registers\] max_rows\)$"):
        read(path, limits=FileLimits(max_bytes=LIMITS.max_bytes, max_rows=9_999))
    big = tmp_path / "big.csv"
    with big.open("wb") as out:  # 50 MB, written in pieces: the refusal reads none of it
        out.write(header.encode())
        out.truncate(50_000_000)
    with pytest.raises(RegisterFileError, match=r"^is 50\.0 MB, over the 20\.0 MB limit \(\[registers\] max_file_bytes\)$"):
        read(big)


@pytest.mark.parametrize("text, expected", [
    ("2026-03-31", date(2026, 3, 31)), ("2026/3/1", date(2026, 3, 1)), ("2026-03-31 00:00:00", date(2026, 3, 31)),
    ("31-Mar-2026", date(2026, 3, 31)), ("31 March 2026", date(2026, 3, 31)), ("March 31, 2026", date(2026, 3, 31)),
    ("Sept. 1 2025", date(2025, 9, 1)), ("1st-sep-1998", date(1998, 9, 1)),
])
def test_dates_iso_or_with_the_month_in_words(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["03/04/2026", "31/03/2026", "3.4.2026", "31-Smarch-2026", "2026", "31-Mar-26"])
def test_other_dates_are_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_names_and_accounts_compare_as_people_write_them():
    assert name_key("Nguyen, Tom") == name_key("tom  NGUYEN") == name_key("Tôm Nguyễn") == "nguyen tom"
    assert name_key("O'Brien-Smith, Zoë") == name_key("Zoe O Brien Smith")
    assert account_digits("12-345 67") == "1234567" and account_digits("12345") is None
    assert possible_match("T. Nguyen", "Tom Nguyen") and possible_match("Tom A. Nguyen", "Nguyen, Tom")
    assert not possible_match("Tom Nguyen", "Nguyen, Tom")  # the same person, not a possible one
    assert not possible_match("Tom Nguyen", "Thi Nguyen") and not possible_match("Nguyen", "Tom Nguyen")
    assert not possible_match("T. Nguyen", "T. Tran")


def test_rows_are_streamed_with_bounded_memory(tmp_path):
    """Rows are read one at a time, with a 16-byte fingerprint per row kept for the duplicate check:
    20,000 rows peak at ~3.6 MB, where a list of the rows takes ~11 MB."""
    import tracemalloc

    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("wcb_account,legal_name,member_since,member_until\n")
        out.writelines(f"{1000000 + i},Company number {i} Ltd.,2020-01-01,\n" for i in range(20_000))
    tracemalloc.start()
    try:
        register_file = RegisterFile("members", path, LIMITS)
        assert sum(1 for _ in register_file.rows()) == 20_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6_000_000, peak


def test_every_register_named_has_a_layout():
    assert tuple(LAYOUTS) == REGISTERS
