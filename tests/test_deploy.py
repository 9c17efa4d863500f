"""The production set-up files: systemd units checked by `systemd-analyze verify`, the compose file
and the Dockerfile's health check read against the real configuration loader. (No Docker engine
runs on the test machines: the image is not built here.)"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from intake.config import load_config
from tests.pipeline_helpers import ROOT
from tests.servers import require_server

UNITS = ROOT / "deploy" / "systemd"
INSTALLED = "/opt/secor-intake/bin/secor-intake"
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "PrivateDevices": "yes", "ReadWritePaths": "/var/lib/secor-intake", "CapabilityBoundingSet": "",
             "RestrictSUIDSGID": "yes", "User": "secor-intake"}


def verify(*units: Path) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    require_server(analyze is not None, "systemd-analyze (Debian's systemd)")
    return subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True, timeout=120)


def installed_copy(unit: Path, folder: Path) -> Path:
    """The unit with the venv's secor-intake where the installed one will be: verify checks that
    every command exists and is executable."""
    here = Path(sys.executable).parent / "secor-intake"
    copy = folder / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED, str(here)))
    return copy


def unit_settings(unit: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(unit)
    return dict(parser["Service"])


@pytest.mark.parametrize("name", ["secor-intake.service", "secor-intake-web.service"])
def test_the_units_pass_systemd_analyze_verify_without_a_warning(name, tmp_path: Path):
    result = verify(installed_copy(UNITS / name, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""  # verify warns about bad values on stderr, exit 0


@pytest.mark.parametrize("name, command", [("secor-intake.service", "run"), ("secor-intake-web.service", "web")])
def test_the_units_are_hardened_and_run_the_right_command(name, command):
    settings = unit_settings(UNITS / name)
    for key, value in HARDENING.items():
        assert settings.get(key) == value, key
    assert settings["ExecStart"] == f"{INSTALLED} {command}"
    assert "MemoryDenyWriteExecute" not in settings


def test_verify_catches_what_a_typo_would_break(tmp_path: Path):
    broken = tmp_path / "secor-intake.service"
    broken.write_text(installed_copy(UNITS / "secor-intake.service", tmp_path).read_text()
                      .replace("ProtectSystem=strict", "ProtectSystem=strikt"))
    result = verify(broken)
    assert "ProtectSystem" in result.stderr or "protect system" in result.stderr
    missing = tmp_path / "missing.service"
    missing.write_text((UNITS / "secor-intake.service").read_text())  # /opt/secor-intake is not installed here
    assert verify(missing).returncode != 0


def test_the_sysusers_file_makes_the_units_user():
    line = next(line for line in (UNITS / "secor-intake.sysusers.conf").read_text().splitlines()
                if line and not line.startswith("#"))
    assert line.split()[:2] == ["u", "secor-intake"]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_clamd_the_daemon_and_the_workbench():
    services = _compose()["services"]
    assert set(services) == {"postgres", "clamd", "daemon", "web"}
    assert services["daemon"]["command"] == ["run"]
    assert services["web"]["command"][0] == "web"
    assert services["daemon"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["daemon"]["depends_on"]["clamd"]["condition"] == "service_healthy"
    assert "data:/var/lib/secor-intake" in services["daemon"]["volumes"]
    assert services["daemon"]["volumes"] == services["web"]["volumes"]  # one storage for both


@pytest.mark.parametrize("service", ["daemon", "web"])
def test_the_compose_settings_are_valid_configuration(service, tmp_path: Path):
    env = {key: re.sub(r"\$\{SECOR_DB_PASSWORD[^}]*\}", "pw", str(value))
           for key, value in _compose()["services"][service]["environment"].items()}
    config_file = tmp_path / "secor-intake.toml"
    config_file.write_text((ROOT / "config" / "secor-intake.example.toml").read_text()
                           .replace('password = ""                          # or password_file', 'password = "x"  #', 1))
    config = load_config(config_file, env=env)  # an unknown key or a bad value raises, naming it
    assert config.scan.clamd == "tcp://clamd:3310" and config.scan.required is True
    assert config.database_url == "postgresql+psycopg://secor:pw@postgres/secor"
    assert str(config.resolve_path(config.health.path)) == "/var/lib/secor-intake/health.json"
    assert config.metrics.host == "0.0.0.0"


def test_the_image_health_check_is_secor_intake_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    [check] = re.findall(r"^HEALTHCHECK .*$", dockerfile, re.MULTILINE)
    assert check.endswith('CMD ["secor-intake", "health"]')
    assert re.search(r"^EXPOSE 9464 8080 9465$", dockerfile, re.MULTILINE)
