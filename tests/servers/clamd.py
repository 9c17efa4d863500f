"""A throwaway clamd (Debian's clamav-daemon) on a unix socket in a temporary folder.

freshclam cannot download signatures on these machines, so the database is ours: an MD5 hash
signature of the EICAR test file (.hdb) and a made-up body signature (.ndb) that any test can
embed in a document. clamd runs as the current user from a generated configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from intake.scan import Clamd
from tests.servers import require_server

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Secor.Test.EICAR-Hash.UNOFFICIAL"  # clamd marks signatures of unsigned databases
BODY_MARKER = b"SECOR-INTAKE-TEST-MALWARE-BODY-7f3a9c"
BODY_SIGNATURE = "Secor.Test.Body.UNOFFICIAL"
STREAM_MAX = 1024 * 1024  # clamd's StreamMaxLength here: small, so a test can pass it cheaply


@dataclass
class ClamdServer:
    socket: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def clamd_available() -> bool:
    return os.path.exists(CLAMD)


def signature_database() -> dict[str, str]:
    """The signature database's files (also in the clamd stand-in image, tests/images/clamd/)."""
    import hashlib

    return {"secor-test.hdb": f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:{EICAR_SIGNATURE.removesuffix('.UNOFFICIAL')}\n",
            "secor-test.ndb": f"{BODY_SIGNATURE.removesuffix('.UNOFFICIAL')}:0:*:{BODY_MARKER.hex()}\n"}


def start_clamd(folder: Path) -> ClamdServer:
    db = folder / "db"
    db.mkdir(parents=True)
    for name, text in signature_database().items():
        (db / name).write_text(text)
    sock = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {folder / 'clamd.log'}\n"
                    f"PidFile {folder / 'clamd.pid'}\nStreamMaxLength {STREAM_MAX}\nTemporaryDirectory {folder}\n"
                    + ("User root\n" if os.geteuid() == 0 else ""))
    process = subprocess.Popen([CLAMD, "--config-file", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"clamd exited: {process.stderr.read().decode(errors='replace')}"
                               f"{(folder / 'clamd.log').read_text(errors='replace') if (folder / 'clamd.log').exists() else ''}")
        if sock.exists() and Clamd(str(sock), 5).ping():
            return ClamdServer(socket=sock, process=process)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("clamd did not answer PING within 60 s")


@pytest.fixture(scope="session")
def clamd_server() -> Iterator[ClamdServer]:
    require_server(clamd_available(), "clamd (Debian's clamav-daemon)")
    # A short path: a unix socket path must fit in 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="secor-clamd-"))
    server = start_clamd(folder)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
