"""Configuration: a TOML file, environment overrides, `<key>_file` secrets, strict validation.

Precedence, highest first: `SECOR_INTAKE_<SECTION>_<KEY>` environment variables, the TOML file,
built-in defaults (the embedded demo setup under ./var/). Relative paths are resolved against the
configuration file's folder, or the current folder when there is no file.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import ipaddress
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fetchers.settings import LinkSettings
from intake.mailbox import MAIL_SOURCES
from intake.outbound import TRANSPORTS
from triage.findings import validate_severity_overrides
from triage.settings import ArchiveLimits, RuleSettings

ENV_PREFIX = "SECOR_INTAKE_"
CONFIG_ENV = "SECOR_INTAKE_CONFIG"
DEFAULT_CONFIG_FILE = "secor-intake.toml"


class ConfigError(Exception):
    """A configuration problem; the message names the key."""


# The sections are frozen dataclasses without a generated __eq__ or __repr__: nothing compares two
# configurations, a repr would print the passwords and secrets they hold into a log or a traceback, and
# each generated method is compiled again at every start (~0.85 M instructions; issue 26).


@dataclass(frozen=True, eq=False, repr=False)
class MailboxConfig:
    kind: str = "maildir"  # "imap" | "maildir"
    host: str = ""
    port: int = 993
    security: str = "ssl"  # "ssl" | "starttls" | "none"
    allow_plaintext_remote: bool = False  # security="none" to a host other than loopback
    username: str = ""
    password: str = ""
    auth: str = "password"  # "password" | "oauth2"
    oauth2_grant: str = ""  # "client_credentials" | "refresh_token" | "command"; default: see intake.oauth2
    oauth2_token_command: str = ""  # a command printing an access token
    oauth2_token_url: str = ""  # the token endpoint
    oauth2_client_id: str = ""
    oauth2_client_secret: str = ""
    oauth2_client_certificate: str = ""  # instead of the secret: PEM file with the app's certificate and key
    oauth2_scope: str = ""  # sent as `scope` when not empty
    oauth2_refresh_token: str = ""
    oauth2_refresh_token_store: str = "var/oauth2-refresh-token"  # where a rotated token is saved
    oauth2_device_url: str = ""  # `oauth2 authorize`: RFC 8628 endpoint; default derived for Microsoft/Google
    folder: str = "INBOX"
    processed_folder: str = "SECOR/Processed"
    returned_folder: str = "SECOR/Returned"
    ignored_folder: str = "SECOR/Ignored"
    failed_folder: str = "SECOR/Failed"  # left for a person after the last retry
    path: str = "var/maildir"  # maildir only
    timeout_seconds: float = 60.0
    fetch_chunk_bytes: int = 1_000_000
    ca_bundle: str = ""  # extra CA file to trust for IMAP TLS (a test or private CA); default: system's
    backlog_grace_hours: float = 24.0  # older mail met on first sight is filed without a reply
    authserv_id: str = ""  # our mail server's Authentication-Results id; others' headers are ignored


@dataclass(frozen=True, eq=False, repr=False)
class OutboundConfig:
    kind: str = "file"  # "smtp" | "file"
    host: str = ""
    port: int = 587
    security: str = "starttls"  # "ssl" | "starttls" | "none"
    username: str = ""  # auth = "oauth2": default [mailbox] username
    password: str = ""
    auth: str = "password"  # "password" | "oauth2" (SMTP AUTH XOAUTH2)
    # auth = "oauth2": each oauth2_* key left empty is taken from [mailbox]
    oauth2_grant: str = ""
    oauth2_token_command: str = ""
    oauth2_token_url: str = ""
    oauth2_client_id: str = ""
    oauth2_client_secret: str = ""
    oauth2_client_certificate: str = ""
    oauth2_scope: str = ""
    oauth2_refresh_token: str = ""
    oauth2_refresh_token_store: str = ""
    oauth2_device_url: str = ""
    timeout_seconds: float = 60.0
    from_address: str = "COR@youracsa.ca"
    from_name: str = "ACSA COR Department"
    path: str = "var/outbox"  # file only
    ca_bundle: str = ""  # smtp: extra CA file to trust (a private or test CA); default the system's
    max_replies_per_sender_per_day: int = 5
    max_attempts: int = 10
    retry_base_seconds: float = 60.0


@dataclass(frozen=True, eq=False, repr=False)
class DatabaseConfig:
    url: str = "sqlite:///var/secor-intake.sqlite3"
    upgrade_on_start: bool = True


@dataclass(frozen=True, eq=False, repr=False)
class StorageConfig:
    path: str = "var/submissions"


@dataclass(frozen=True, eq=False, repr=False)
class ScheduleConfig:
    poll_seconds: float = 60.0
    reply_seconds: float = 30.0
    housekeeping_seconds: float = 3600.0
    idle: bool = True  # IMAP IDLE where the server offers it; polling stays the fallback


@dataclass(frozen=True, eq=False, repr=False)
class ProcessingConfig:
    max_attempts: int = 5  # then the message is left for a person in the failed folder
    retry_base_seconds: float = 60.0  # doubled per attempt
    link_retry_hours: float = 24.0  # how long a link that fails for a passing reason is retried


@dataclass(frozen=True, eq=False, repr=False)
class LogConfig:
    format: str = "text"  # "text" | "json"
    level: str = "INFO"


@dataclass(frozen=True, eq=False, repr=False)
class HealthConfig:
    path: str = "var/health.json"


@dataclass(frozen=True, eq=False, repr=False)
class MetricsConfig:
    host: str = "127.0.0.1"  # the daemon's and the workbench's /metrics listen here
    port: int = 9464  # the daemon's; 0 turns it off


QA_RETURN_REASONS = (  # ../shared/domain.md, "What QA returns submissions for"
    "Missing documentation",
    "Hard to assess or disorganized submission",
    "Over-submission: more documents than the sampling guide asks for",
    "Evaluation tool missing, incomplete or unscored",
    "Legal name does not match the WCB account",
    "Employer not eligible (more than 10 employees, or not a member in good standing)",
    "Assessor not qualified",
    "Late submission",
)


@dataclass(frozen=True, eq=False, repr=False)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""  # public address (links in emails, behind a proxy); default http://host:port
    session_idle_minutes: float = 60.0  # a session unused this long is signed out
    session_max_hours: float = 12.0  # and any session after this long
    signin_window_minutes: float = 15.0  # failed sign-ins are counted over this window...
    signin_free_failures: int = 3  # ...per user name and address (or trusted browser): then each try waits
    signin_free_failures_per_name: int = 10  # ...per user name from all untrusted browsers: then each try waits
    signin_max_delay_seconds: float = 300.0  # the wait doubles from 1 s per further failure up to this
    return_reasons: list[str] = field(default_factory=lambda: list(QA_RETURN_REASONS))
    request_documents_days: int = 14  # default due date of a request for documents
    accept_sends_email: bool = False  # Accept is recorded silently unless this is true
    page_size: int = 50  # cases per queue page
    proxy_user_header: str = ""  # e.g. "X-Remote-User": the signed-in user, set by a reverse proxy...
    trusted_proxies: list[str] = field(default_factory=list)  # ...believed only from these addresses/networks
    metrics_port: int = 9465  # the workbench's /metrics (on [metrics] host); 0 turns it off
    undo_seconds: int = 300  # a decision's email waits this long (Undo decision), then goes out once
    max_request_bytes: int = 1_000_000  # a larger request body is refused (413) before it is read

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True, eq=False, repr=False)
class QAConfig:
    reminder_days_before_due: int = 3  # Request documents: one reminder this many days before the due date; 0: none


@dataclass(frozen=True, eq=False, repr=False)
class ScanConfig:
    clamd: str = ""  # "/run/clamav/clamd.ctl" or "tcp://host:port"; empty: no scanning
    required: bool = True  # a scanner that is down holds the email in the inbox
    timeout_seconds: float = 120.0
    stream_max_bytes: int = 25 * 1024 * 1024  # clamd's default StreamMaxLength (25M)


@dataclass(frozen=True, eq=False, repr=False)
class RetentionConfig:
    submissions_years: float = 0.0  # stored files of a case, after its last decision; 0 keeps them for ever
    raw_email_years: float = 0.0  # the emails as received (.eml), after the last decision; 0: as the files


ASSESSOR_COURSES = ("Principles of Health and Safety Management", "Small Employer Health and Safety Management")


@dataclass(frozen=True, eq=False, repr=False)
class RegistersConfig:
    assessor_courses: list[str] = field(default_factory=lambda: list(ASSESSOR_COURSES))  # any one qualifies
    continuing_education_min_hours: float = 4.0  # a course this long counts as continuing education...
    continuing_education_years: int = 3  # ...within this many years before the evaluation end
    max_file_bytes: int = 20_000_000  # a register export larger than this is refused
    max_rows: int = 100_000
    maintenance_reminders: bool = False  # opt-in: email certificate holders before maintenance is due
    maintenance_reminder_days: int = 30  # this many days before each anniversary of the certificate


@dataclass(frozen=True, eq=False, repr=False)
class Config:
    mailbox: MailboxConfig = field(default_factory=MailboxConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    links: LinkSettings = field(default_factory=LinkSettings)
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    triage: RuleSettings = field(default_factory=RuleSettings)
    log: LogConfig = field(default_factory=LogConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    web: WebConfig = field(default_factory=WebConfig)
    qa: QAConfig = field(default_factory=QAConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    registers: RegistersConfig = field(default_factory=RegistersConfig)
    base_dir: Path = field(default_factory=Path.cwd)  # where relative paths start

    def resolve_path(self, value: str) -> Path:
        """A configured path made absolute against the configuration's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def link_settings(self) -> LinkSettings:
        """`[links]` with its CA file resolved like every other configured path."""
        if not self.links.ca_bundle:
            return self.links
        return dataclasses.replace(self.links, ca_bundle=str(self.resolve_path(self.links.ca_bundle)))

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite file resolved like every other path."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            return prefix + str(self.resolve_path(url[len(prefix):]))
        return url


SECRET_KEYS = {"password", "oauth2_client_secret", "oauth2_refresh_token"}

CHOICES = {
    ("mailbox", "kind"): MAIL_SOURCES.kinds,
    ("mailbox", "security"): ("ssl", "starttls", "none"),
    ("mailbox", "auth"): ("password", "oauth2"),
    ("mailbox", "oauth2_grant"): ("", "client_credentials", "refresh_token", "command"),
    ("outbound", "auth"): ("password", "oauth2"),
    ("outbound", "oauth2_grant"): ("", "client_credentials", "refresh_token", "command"),
    ("outbound", "kind"): TRANSPORTS.kinds,
    ("outbound", "security"): ("ssl", "starttls", "none"),
    ("log", "format"): ("text", "json"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
}


def _sections() -> dict[str, type]:
    """Each section's name and class (the factory of its default)."""
    return {f.name: f.default_factory for f in dataclasses.fields(Config) if f.name != "base_dir"}  # type: ignore[misc]


@functools.cache
def _field_type(annotation: str) -> Any:
    """A section field's type from its annotation, which `from __future__ import annotations` keeps as
    a string. Cached: the sections have ~140 fields but only a few distinct annotations, and
    `typing.get_type_hints` compiles each one again at every start."""
    return eval(annotation, {"__builtins__": builtins})  # noqa: S307 - our own annotations, builtins only


def _check_type(name: str, value: Any, expected: Any) -> Any:
    """The value converted to the field's type, or ConfigError naming the key."""
    origin = typing.get_origin(expected)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is str:
        if isinstance(value, str):
            return value
    elif origin is dict:
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise ConfigError(f"{name}: expected a table of strings, got {value!r}")
    elif origin in (list, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    elif origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{name}: unsupported union type")  # keep config types simple
    type_name = getattr(expected, "__name__", str(expected))
    raise ConfigError(f"{name}: expected {type_name}, got {type(value).__name__} {value!r}")


def _parse_env_value(name: str, raw: str, expected: Any) -> Any:
    """An environment string as the field's type: strings as-is, others as a TOML value."""
    if expected is str:
        return raw
    if expected is bool and raw.lower() in ("1", "0", "yes", "no", "true", "false", "on", "off"):
        return raw.lower() in ("1", "yes", "true", "on")
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: cannot read {raw!r} as a value ({exc})") from None


def _read_secret_file(name: str, path: str, base_dir: Path) -> str:
    file = Path(path).expanduser()
    file = file if file.is_absolute() else base_dir / file
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read secret file {file}: {exc.strerror}") from None


def _build_section(section: str, cls: type, table: Mapping[str, Any], env: Mapping[str, str],
                   base_dir: Path) -> Any:
    hints = {f.name: _field_type(str(f.type)) for f in dataclasses.fields(cls)}  # a string: see _field_type
    field_names = set(hints)
    allowed = field_names | {f"{k}_file" for k in field_names & SECRET_KEYS}
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{section}.{key}: unknown key")
    values: dict[str, Any] = {}
    for key in field_names:
        name = f"{section}.{key}"
        if key in table:
            values[key] = _check_type(name, table[key], hints[key])
        if key in SECRET_KEYS and f"{key}_file" in table:
            values[key] = _read_secret_file(f"{name}_file", _check_type(f"{name}_file", table[f"{key}_file"], str), base_dir)
        env_name = f"{ENV_PREFIX}{section}_{key}".upper()
        if env_name in env:
            values[key] = _check_type(env_name, _parse_env_value(env_name, env[env_name], hints[key]), hints[key])
        if key in SECRET_KEYS and f"{env_name}_FILE" in env:
            values[key] = _read_secret_file(f"{env_name}_FILE", env[f"{env_name}_FILE"], base_dir)
        choices = CHOICES.get((section, key))
        if choices and key in values and values[key] not in choices:
            raise ConfigError(f"{name}: must be one of {', '.join(choices)}, not {values[key]!r}")
    return cls(**values)


OAUTH2_KEYS = tuple(f.name for f in dataclasses.fields(OutboundConfig) if f.name.startswith("oauth2_"))


def inherit_mailbox_oauth2(outbound: OutboundConfig, mailbox: MailboxConfig) -> OutboundConfig:
    """`[outbound] auth = "oauth2"`: its empty oauth2_* keys and user name taken from `[mailbox]`."""
    if outbound.auth != "oauth2":
        return outbound
    inherited = {key: getattr(mailbox, key) for key in OAUTH2_KEYS + ("username",) if not getattr(outbound, key)}
    return dataclasses.replace(outbound, **inherited)


def _validate_refresh_token_stores(config: Config) -> None:
    """Two refresh tokens (two clients) cannot share one store: each would overwrite the other's."""
    mailbox, outbound = config.mailbox, config.outbound
    if mailbox.auth != "oauth2" or outbound.auth != "oauth2" or outbound.kind != "smtp":
        return
    same_store = config.resolve_path(mailbox.oauth2_refresh_token_store) == \
        config.resolve_path(outbound.oauth2_refresh_token_store)
    if same_store and (mailbox.oauth2_client_id, mailbox.oauth2_token_url) != \
            (outbound.oauth2_client_id, outbound.oauth2_token_url):
        from intake.oauth2 import grant_of

        if grant_of(mailbox) == grant_of(outbound) == "refresh_token":
            raise ConfigError("outbound.oauth2_refresh_token_store: must differ from mailbox's when "
                              "[outbound] uses a client of its own")


def _validate(config: Config) -> None:
    try:
        validate_severity_overrides(config.triage.severities)
    except ValueError as exc:
        raise ConfigError(f"triage.severities: {exc}") from None
    MAIL_SOURCES[config.mailbox.kind].validate(config.mailbox)  # each backend checks its own keys
    TRANSPORTS[config.outbound.kind].validate(config.outbound)
    _validate_refresh_token_stores(config)
    for host, target in config.links.resolve.items():
        ip, sep, port = target.rpartition(":")
        if not sep or not ip or not port.isdigit():
            raise ConfigError(f"links.resolve.{host}: expected \"ip:port\", got {target!r}")
    for network in config.web.trusted_proxies:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"web.trusted_proxies: {network!r} is not an IP address or network") from None
    for section in ("limits", "registers"):
        for f in dataclasses.fields(getattr(config, section)):
            value = getattr(getattr(config, section), f.name)
            if isinstance(value, (int, float)) and value < 0:
                raise ConfigError(f"{section}.{f.name}: must not be negative")


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load configuration from `path`, else $SECOR_INTAKE_CONFIG, else ./secor-intake.toml, else defaults.

    Raises ConfigError with one line that names the offending key.
    """
    env = os.environ if env is None else env
    file: Path | None = None
    if path is not None:
        file = Path(path)
    elif env.get(CONFIG_ENV):
        file = Path(env[CONFIG_ENV])
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        file = Path(DEFAULT_CONFIG_FILE)
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{'--config' if path is not None else CONFIG_ENV}: no such file {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
        base_dir = file.resolve().parent
    sections = _sections()
    for key, value in data.items():
        if key not in sections:
            raise ConfigError(f"{key}: unknown section")
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a [{key}] table")
    built = {name: _build_section(name, cls, data.get(name, {}), env, base_dir) for name, cls in sections.items()}
    built["outbound"] = inherit_mailbox_oauth2(built["outbound"], built["mailbox"])
    config = Config(base_dir=base_dir, **built)
    _validate(config)
    return config
