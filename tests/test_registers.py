"""Registers in the database: `register import` replaces a register whole or changes nothing, imports are
recorded and shown, `register show`, and a reader never sees a half-replaced register (both databases)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from sqlalchemy import func, select

from intake.db import RegisterImport, TrainingRecord
from intake.registers.csvfile import FileLimits, RegisterFile
from intake.registers.store import import_register, training_of_account
from intake.service import open_services
from tests.pipeline_helpers import maildir_config, run_cli, write_config

LIMITS = FileLimits(max_bytes=20_000_000, max_rows=100_000)


def csv_file(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def cli_config(tmp_path: Path, db_url: str, **registers) -> Path:
    return write_config(tmp_path / "cli.toml", {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "maildir")},
        "outbound": {"kind": "file", "path": str(tmp_path / "outbox")},
        "database": {"url": db_url}, "storage": {"path": str(tmp_path / "submissions")},
        "registers": registers})


MEMBERS = ("\ufeffWCB Account , Legal Name,Member Since,Member Until\n"
           "123-4567,Société Générale Ltée,15-Jan-2020,\n"
           "7654321,Lapsed Ltd,2019-01-01,\"December 31, 2024\"\n")


def test_import_show_and_a_bad_file_that_changes_nothing(tmp_path, db_url):
    config_file = cli_config(tmp_path, db_url)
    members = csv_file(tmp_path / "members.csv", MEMBERS)
    imported = run_cli(config_file, "register", "import", "members", str(members), "--by", "alice")
    assert imported.returncode == 0, imported.stderr
    assert "members: 2 rows imported from members.csv" in imported.stderr

    shown = run_cli(config_file, "register", "show", "1234567", "--json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["members"]["rows"] == [{"legal_name": "Société Générale Ltée", "member_since": "2020-01-15",
                                            "member_until": None, "line": 2}]
    record = document["members"]["imported"]
    assert (record["file"], record["rows"], record["imported_by"], record["sha256"]) == (
        "members.csv", 2, "alice", hashlib.sha256(members.read_bytes()).hexdigest())
    assert document["training"] == {"imported": None, "rows": []}
    text = run_cli(config_file, "register", "show", "12-34-567").stdout
    assert "Société Générale Ltée: member since 2020-01-15, still a member" in text
    assert "training: never imported" in text and "by alice, 2 rows from members.csv" in text

    unknown = run_cli(config_file, "register", "show", "9999999")
    assert unknown.returncode == 2 and "no register knows WCB account 9999999" in unknown.stderr

    # A file with bad rows names each one and changes nothing; so does one refused whole.
    bad = csv_file(tmp_path / "bad.csv", MEMBERS.lstrip("\ufeff").replace("15-Jan-2020", "01/15/2020")
                   + "12,Short Ltd,2020-01-01,\n" + "".join(f"{2000000 + i},Filler {i},2020-01-01,\n" for i in range(2500)),
                   "cp1252")
    refused = run_cli(config_file, "register", "import", "members", str(bad))
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"secor-intake: register import: {bad} line 2, column member_since: '01/15/2020' is ambiguous (which number "
        "is the month?): write it as YYYY-MM-DD or with the month in words (31-Mar-2026)",
        f"secor-intake: register import: {bad} line 4, column wcb_account: '12' is not a WCB account number "
        "(6 to 10 digits)",
        f"secor-intake: register import: {bad}: 2 bad rows, nothing changed"]
    semicolons = csv_file(tmp_path / "semi.csv", MEMBERS.replace(",", ";"))
    refused = run_cli(config_file, "register", "import", "members", str(semicolons))
    assert refused.returncode == 2 and refused.stderr.splitlines() == [
        f"secor-intake: register import: {semicolons} is separated by semicolons, not commas: save the spreadsheet "
        "as 'CSV UTF-8 (Comma delimited)'; nothing changed"]
    assert json.loads(run_cli(config_file, "register", "show", "1234567", "--json").stdout)["members"] == document["members"]
    assert run_cli(config_file, "register", "show", "2000000").returncode == 2

    # A good file replaces the register whole: the account it leaves out is gone.
    replacement = csv_file(tmp_path / "members-2.csv", "wcb_account,member_since,member_until\n7654321,2019-01-01,\n")
    assert run_cli(config_file, "register", "import", "members", str(replacement)).returncode == 0
    assert run_cli(config_file, "register", "show", "1234567").returncode == 2
    again = json.loads(run_cli(config_file, "register", "show", "7654321", "--json").stdout)["members"]
    assert again["rows"][0]["member_until"] is None and again["imported"]["file"] == "members-2.csv"


def training_file(path: Path, courses_of_account: int, filler: int) -> RegisterFile:
    rows = [f"Tom Nguyen,1234567,Course {i},2025-01-{i + 1:02d},4" for i in range(courses_of_account)]
    rows += [f"Person {i},{3000000 + i},Course,2025-02-01,8" for i in range(filler)]
    csv_file(path, "name,wcb_account,course,completed_on,hours\n" + "\n".join(rows) + "\n")
    return RegisterFile("training", path, LIMITS)


def test_a_reader_never_sees_a_half_replaced_register(tmp_path, db_url):
    """An import inserts thousands of rows in batches; a reader during it sees all the old rows or all
    the new ones (without the import's one transaction it would see none, or some)."""
    services = open_services(maildir_config(tmp_path, db_url))
    try:
        import_register(services.sessions, training_file(tmp_path / "old.csv", 3, 0), "old.csv", "test")
        seen: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                with services.sessions.begin() as session:  # as the pipeline reads: in a write transaction
                    seen.append(len(training_of_account(session, "1234567")))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for n in range(4):
                name = f"new{n}.csv"
                import_register(services.sessions, training_file(tmp_path / name, 5 if n % 2 == 0 else 3, 6000),
                                name, "test")
        finally:
            stop.set()
            reader.join()
        assert seen and set(seen) <= {3, 5}, sorted(set(seen))
        with services.sessions() as session:
            assert session.scalar(select(func.count(TrainingRecord.id))) == 6003
            assert session.scalar(select(func.count(RegisterImport.id))) == 5
    finally:
        services.close()


def members_file(path: Path, filler: int) -> RegisterFile:
    rows = "".join(f"{5000000 + i},Filler {i},2020-01-01,\n" for i in range(filler))
    # The member last: a register half-replaced lacks it.
    csv_file(path, "wcb_account,legal_name,member_since,member_until\n" + rows + "1234567,Acme Roofing Ltd.,2020-01-01,\n")
    return RegisterFile("members", path, LIMITS)


def test_a_poll_during_imports_judges_by_a_whole_register(setup, tmp_path):
    """Imports replace the members register again and again while `poll` records submissions of a member:
    none is found not a member (each would be if the poll met the register half-replaced)."""
    from tests import mailfactory
    from tests.pipeline_helpers import deliver
    from tests.test_company import show
    from tests.test_registers_findings import submission_zip

    config, services = setup
    import_register(services.sessions, members_file(tmp_path / "first.csv", 0), "first.csv", "test")
    for n in range(3):
        deliver(config, mailfactory.submission_with_zip(
            submission_zip(tmp_path / "src", f"s{n}", "1234567", "Tom Nguyen"), message_id=f"<m{n}@acme>"))
    stop = threading.Event()
    imports: list[int] = []

    def keep_importing() -> None:
        while not stop.is_set():
            name = f"members-{len(imports)}.csv"
            import_register(services.sessions, members_file(tmp_path / name, 20_000), name, "test")
            imports.append(1)
            stop.wait(0.2)  # an operator's imports are rare: let the poll's transactions in between

    importer = threading.Thread(target=keep_importing)
    importer.start()
    try:
        from intake.service import poll_cycle

        poll_cycle(services)
    finally:
        stop.set()
        importer.join()
    assert imports, "no import ran during the poll"
    with services.sessions() as session:
        from intake.db import Case

        tracking = list(session.scalars(select(Case.tracking_number)))
    assert len(tracking) == 3
    for number in tracking:
        shown = show(services, number)
        assert "eligibility.not_a_member" not in [f["code"] for f in shown["findings"]], number
