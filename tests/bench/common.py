"""What the benchmarks share: results, real servers, realistic data, subprocesses with their peak RSS."""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import io
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from intake.samples import ALBERTA_8, evaluation_tool_lines, minimal_docx, minimal_pdf, minimal_xlsx
from tests import mailfactory
from tests.pipeline_helpers import ROOT, write_config

MB = 1_000_000
# Scratch space for every benchmark (servers, storage, databases): var/bench under the project, not
# /tmp, where creating a file costs ~10x more on some machines (this one: 450 us against 46 us).
SCRATCH = Path(os.environ.get("SECOR_BENCH_TMP", ROOT / "var" / "bench"))
CACHE = Path(os.environ.get("SECOR_BENCH_CACHE", SCRATCH / "cache"))


def use_scratch() -> None:
    """Make SCRATCH the temporary folder of this process and of the processes it starts."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    os.chmod(SCRATCH, 0o755)  # Dovecot's own users (when run as root) traverse it
    tempfile.tempdir = str(SCRATCH)
    os.environ["TMPDIR"] = str(SCRATCH)


@dataclass
class Result:
    """One line of the table. `ratio` = measured / baseline; `met` against `target`."""

    target: str  # "1 throughput"
    what: str  # what was measured
    measured: float
    baseline: float | None
    unit: str
    ratio: float | None
    goal: str  # "ratio <= 1.5"
    met: bool
    notes: list[str] = field(default_factory=list)


def ratio(measured: float, baseline: float) -> float:
    return measured / baseline if baseline else float("inf")


# --- processes ---------------------------------------------------------------------------

@dataclass
class Run:
    returncode: int
    seconds: float
    peak_rss: int  # bytes: the process's VmHWM (peak resident set, whole process), read as it runs
    stdout: str
    stderr: str


def _vm_hwm(pid: int) -> int:
    """VmHWM of a running process in bytes (0 once it has exited). Not wait4's ru_maxrss: on Linux that
    also counts the parent's memory the child had between fork and exec."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECOR_INTAKE_")}
    env.update(extra or {})
    return env


def run_measured(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 1800) -> Run:
    """Run a command to its end; wall time and the peak RSS the kernel kept for that very process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT, env=clean_env(env))
        deadline = time.monotonic() + timeout
        peak = 0
        while True:
            peak = max(peak, _vm_hwm(proc.pid))
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.003)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, seconds, peak, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


def instructions(args: list[str]) -> int | None:
    """Instructions a command executes (valgrind's callgrind; ~50x slower than the command), or None
    without valgrind. Unlike seconds, the count is the same from run to run on a loaded machine."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out", *args],
                             capture_output=True, text=True, cwd=ROOT, env=clean_env())
    found = re.search(r"Collected : (\d+)", run.stderr)
    return int(found.group(1)) if found else None


def user_install(source: Path = ROOT, label: str = "") -> list[str]:
    """`secor-intake` as a user's installation runs it: this checkout (or the tree `source`, in a venv
    of its own named by `label`) installed, not editable, in a venv with this checkout's dependencies
    and without the test extra (fpdf2 brings fontTools and Pillow, which pypdf then imports at start-up:
    ~50 ms), bytecode compiled by pip. The venv is made once per set of dependencies; the project is
    installed again on each call."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = sorted(project["dependencies"])
    folder = SCRATCH / f"user-venv{label and '-' + label}-{hashlib.sha256(repr(wanted).encode()).hexdigest()[:12]}"
    python = folder / "bin" / "python"

    def pip(*args: str) -> None:
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(args)} failed:\n{done.stderr}")

    if not (folder / "ready").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        pip(*wanted)
        (folder / "ready").touch()
    pip("--no-deps", "--force-reinstall", str(source))
    return [str(folder / "bin" / "secor-intake")]


def user_install_at(commit: str) -> list[str] | None:
    """`user_install` of an earlier commit of this repository, with today's libraries, so that a figure
    compares code with code; None outside a git checkout or when the commit is not in it."""
    tree = SCRATCH / f"source-{commit}"
    if not (tree / "pyproject.toml").exists():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True)
        if archive.returncode != 0:
            return None
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return user_install(tree, label=commit)


def intake_cli(config_file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "intake", "--config", str(config_file), *args]


def profile_prefix(name: str) -> list[str]:
    """`py-spy record` in front of a command when SECOR_BENCH_PROFILE is a folder (profiles go there)."""
    folder = os.environ.get("SECOR_BENCH_PROFILE")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not folder or not os.path.exists(spy):
        return []
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [spy, "record", "--format", "raw", "-r", "200", "-o", str(Path(folder) / f"{name}.txt"), "--"]


# --- servers -----------------------------------------------------------------------------

@contextlib.contextmanager
def database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database (as in production) when one runs on 127.0.0.1:5432, else SQLite."""
    from tests.servers.postgres import ADMIN_DATABASE, HOST, PORT, postgres_user

    user = None
    with contextlib.suppress(Exception):
        user = postgres_user()
    if user is None:
        folder = Path(tempfile.mkdtemp(prefix=f"secor-bench-{name}-"))
        try:
            yield f"sqlite:///{folder}/intake.sqlite3"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    dbname = f"secor_bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host=HOST, port=PORT, user=user, dbname=ADMIN_DATABASE, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield f"postgresql+psycopg://{user}@{HOST}:{PORT}/{dbname}"
    finally:
        with psycopg.connect(host=HOST, port=PORT, user=user, dbname=ADMIN_DATABASE, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def write_intake_config(folder: Path, dovecot, user: str, smtp, db_url: str, **sections: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, dict[str, Any]] = {
        "mailbox": {"kind": "imap", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
                    "username": user, "password": dovecot.password, "timeout_seconds": 60.0},
        "outbound": {"kind": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                     "timeout_seconds": 30.0, "max_replies_per_sender_per_day": 1_000_000},
        "database": {"url": db_url},
        "storage": {"path": str(folder / "submissions")},
        "health": {"path": str(folder / "health.json")},
        "log": {"level": "WARNING"},
    }
    for section, overrides in sections.items():
        values.setdefault(section, {}).update(overrides)
    return write_config(folder / "secor-intake.toml", values)


def imap_client(dovecot, user: str):
    from imapclient import IMAPClient

    client = IMAPClient("127.0.0.1", dovecot.port, ssl=False, timeout=60)
    client.login(user, dovecot.password)
    return client


def dovecot_session_stats(dovecot, user: str) -> list[dict[str, int]]:
    """Every finished IMAP session's counters Dovecot logged for the user so far."""
    return dovecot.session_stats(user, sessions=1_000_000, timeout=0)


# --- realistic data ----------------------------------------------------------------------

_JPEG_HEAD = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00H\x00H\x00\x00"
              b"\xff\xdb\x00C\x00" + bytes(range(64)))
_PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x02\x00\x00\x00"


def _pdf_with_scan(lines: list[str], payload: bytes) -> bytes:
    """A PDF of a few text lines plus an embedded (incompressible) scanned-image stream."""
    base = minimal_pdf(lines)
    cut = base.rfind(b"\nxref\n") + 1  # the table itself, not the end of "startxref"
    stream = (b"99 0 obj\n<< /Type /XObject /Subtype /Image /Width 1700 /Height 2200 /BitsPerComponent 8 "
              b"/ColorSpace /DeviceRGB /Filter /DCTDecode /Length " + str(len(payload)).encode() + b" >>\nstream\n"
              + payload + b"\nendstream\nendobj\n")
    # the table moved by the stream's length: startxref says where it now is, as in a scanner's PDF
    # (until v2 the stream was cut into "startxref", and readers fell back to their slow recovery scan)
    tail = base[cut:].replace(f"startxref\n{cut}\n".encode(), f"startxref\n{cut + len(stream)}\n".encode())
    return base[:cut] + stream + tail


def _docx_with_image(lines: list[str], payload: bytes) -> bytes:
    doc = io.BytesIO(minimal_docx(lines))
    out = io.BytesIO()
    with zipfile.ZipFile(doc) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        info = zipfile.ZipInfo("word/media/image1.jpeg", date_time=(2026, 9, 1, 8, 0, 0))
        dst.writestr(info, _JPEG_HEAD + payload, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def submission_files(seed: int, n_files: int, total_bytes: int) -> list[tuple[str, bytes]]:
    """A realistic submission: the evaluation tool and `n_files` PDFs, photos and Office files spread
    over the 8 element folders, about `total_bytes` in all (scans and photos do not compress)."""
    rng = random.Random(seed)
    employer = f"Acme Roofing {seed} Ltd."
    root = f"{employer} SECOR 2026"
    files = [(f"{root}/SECOR Evaluation Tool 2026.pdf", minimal_pdf(evaluation_tool_lines(employer=employer)))]
    weights = [rng.uniform(0.3, 1.7) for _ in range(n_files)]
    scale = total_bytes / sum(weights)
    kinds = ["pdf"] * 5 + ["jpg"] * 3 + ["png", "docx", "docx", "xlsx"]
    for i, weight in enumerate(weights):
        number = i % 8 + 1
        element = f"Element {number} - {ALBERTA_8[number - 1]}"
        kind = kinds[rng.randrange(len(kinds))]
        size = max(2_000, int(weight * scale))
        payload = rng.randbytes(size)
        month = rng.randrange(1, 13)
        title = f"{ALBERTA_8[number - 1].split()[0]} Record {i + 1:03d} - 2026-{month:02d}-{rng.randrange(1, 29):02d}"
        lines = [title, employer, element, "Signed: Pat Morgan    Date: 2026-07-31"]
        if kind == "pdf":
            data = _pdf_with_scan(lines, payload)
        elif kind == "jpg":
            data, title = _JPEG_HEAD + payload, f"Site Photo {i + 1:03d} - {title}"
        elif kind == "png":
            data, title = _PNG_HEAD + payload, f"Inspection Photo {i + 1:03d} - {title}"
        elif kind == "docx":
            data = _docx_with_image(lines, payload)
        else:
            data = minimal_xlsx([["Date", "Item", "Status"]] + [[f"2026-{month:02d}-{d:02d}", f"Item {d}", "OK"]
                                                                  for d in range(1, 20)])
        files.append((f"{root}/{element}/{title}.{kind}", data))
    return files


def write_zip(path: Path, files: list[tuple[str, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2026, 10, 2, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def realistic_zip(seed: int, quick: bool = False) -> bytes:
    """A 2-4 MB zip of 50-150 files (cached on disk between runs: same seed, same bytes)."""
    rng = random.Random(10_000 + seed)
    n_files = rng.randrange(50, 151)
    total = rng.randrange(int(2.3 * MB), int(3.9 * MB))
    path = CACHE / "zips" / f"submission-{seed}-{n_files}-{total}-v2.zip"  # v2: PDFs with a true startxref
    if not path.exists():
        tmp = path.with_suffix(".part")
        write_zip(tmp, submission_files(seed, n_files, int(total * 0.985)))
        os.replace(tmp, path)
    return path.read_bytes()


def submission_email(zip_bytes: bytes, n: int, tag: str) -> bytes:
    """An Outlook-style submission email with the zip attached; a distinct sender and Message-ID each."""
    return mailfactory.submission_with_zip(
        zip_bytes, filename=f"Acme Roofing {n} SECOR 2026.zip",
        sender=f"Owner {n} <owner{n}@roofer{n}.example.ca>",
        message_id=f"<bench-{tag}-{n}-{uuid.uuid4().hex[:10]}@roofer{n}.example.ca>")


def append_all(dovecot, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
    with imap_client(dovecot, user) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_bytes(n: float) -> str:
    return f"{n / MB:.1f} MB"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_date() -> str:
    return email.utils.formatdate(usegmt=True)
