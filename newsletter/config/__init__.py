"""Configuration: ``.env`` + the environment + ``newsletter.toml`` in, one frozen, checked ``Config`` out.

The only reader of the environment. ``load_config`` checks the file against ``schema`` (types,
ranges, defaults; cross-key rules in ``rules``, line numbers from ``toml_lines``) and reports every
problem at once as ``newsletter.toml:LINE: message``; the typed ``Config`` (with ``SmtpSettings``,
``Secret``, ``DkimSettings`` …) is then passed down to every stage.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..model import ConfigError, Segment
from ..zones import did_you_mean
from .schema import SECURITY_MODES, Checker, SettingsError, env_problems, with_defaults
from .toml_lines import key_lines

DEV_SINK_HOST = "127.0.0.1"
DEV_SINK_PORT = 1025


class Secret:
    """A string that never shows itself in repr(), str(), logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | tls | none
    username: str | None
    password: Secret | None
    timeout: float  # seconds, connect and per command
    ca_file: str | None  # extra CA bundle for private relays
    connections: int
    rate: float | None  # messages per second, at most
    per_connection: int  # recycle a connection after this many messages
    max_attempts: int  # per member, 4xx retries included
    retry_backoff: tuple[float, ...]  # seconds before attempt 2, 3, …
    error_budget: int  # consecutive failures that pause a send
    resend_unknown: bool  # policy for messages whose 250 was lost

    @property
    def is_dev_sink(self) -> bool:
        """The embedded ``newsletter dev-smtp`` sink (loopback, its port, no TLS, no login).

        Only there may mail go out without NEWSLETTER_SECRET (tokens then use a public dev key);
        a local Postfix on 127.0.0.1:25 that relays to the internet is a real relay."""
        return (
            self.host in ("127.0.0.1", "localhost", "::1")
            and self.port == DEV_SINK_PORT
            and self.security == "none"
            and self.username is None
        )


@dataclass(frozen=True)
class InboxSettings:
    """Where bounces, complaints and mailto: unsubscribes arrive (``newsletter inbox``, issue 13)."""

    url: str | None  # NEWSLETTER_INBOX: imaps://USER@HOST[:PORT]/FOLDER or a Maildir path; None: not set
    password: Secret | None  # NEWSLETTER_INBOX_PASSWORD
    ca_file: str | None  # NEWSLETTER_INBOX_CA_FILE: CA of a private IMAP server (added to the system's)
    minutes: float  # [inbox] inbox_minutes: how often a running `inbox` / scheduler reads the mailbox
    soft_bounces: int  # [inbox] soft_bounces: soft bounces over different issues that suppress
    processed_folder: str | None  # [inbox] processed_folder; None: <FOLDER>/Processed (Maildir: .Processed)


@dataclass(frozen=True)
class Footer:
    text: str
    impressum: str
    unsubscribe_label: str


@dataclass(frozen=True)
class ConsentSettings:
    """``[consent]``: the sign-up's consent text per language and the sign-up limits."""

    texts: Mapping[str, str] = field(default_factory=dict)
    record_ip: bool = False
    per_ip_hour: int = 20  # sign-up requests per client address and hour

    def text(self, chain: tuple[str, ...]) -> tuple[str, str] | None:
        """(language, text) of the first language of ``chain`` with a consent text, or None."""
        return next(((lang, self.texts[lang]) for lang in chain if self.texts.get(lang)), None)


@dataclass(frozen=True)
class DkimSettings:
    selector: str
    domain: str
    private_key: Path


@dataclass(frozen=True)
class DeskSettings:
    """``[desk]``: how long a sign-in to ``newsletter desk`` lasts."""

    idle_minutes: float = 30  # signed out after this long without a request
    session_hours: float = 12  # signed out this long after signing in, however busy


@dataclass(frozen=True)
class Config:
    root: Path
    name: str  # newsletter name, e.g. "AMZ-Newsletter"
    sender_name: str
    sender_address: str
    reply_to: str | None
    mail_domain: str  # for Message-ID and List-Id
    default_language: str
    languages: tuple[str, ...]
    fallback: Mapping[str, tuple[str, ...]]  # language → languages to try next, in order
    segments: Mapping[str, Segment]
    footers: Mapping[str, Footer]
    smtp: SmtpSettings
    subscribers: Path
    database_url: str
    secret: Secret | None
    old_secrets: tuple[Secret, ...]  # rotated-out keys still accepted for unsubscribe tokens
    public_url: str | None
    require_approval: bool
    staleness_hours: float
    dkim: DkimSettings | None
    templates: Path
    issues_dir: Path
    outbox: Path  # Maildir of the embedded dev SMTP sink
    timezone: str = "Europe/Berlin"  # [newsletter] timezone: the default zone (schedule --to all)
    desk: DeskSettings = field(default_factory=DeskSettings)
    consent: ConsentSettings = field(default_factory=ConsentSettings)
    bounce_address: str = ""  # [newsletter] bounce_address: the envelope sender ("" → sender_address)
    verp: bool = False  # [newsletter] verp: MAIL FROM local+TOKEN@domain, the token naming the ledger row
    inbox: InboxSettings | None = None  # None only for Configs built by hand (tests)
    env: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def envelope_sender(self) -> str:
        """MAIL FROM of every mail (without VERP): ``[newsletter] bounce_address``, else the From address."""
        return self.bounce_address or self.sender_address

    def language_chain(self, language: str) -> tuple[str, ...]:
        """The language itself followed by its fallbacks, e.g. pl → (pl, en, de)."""
        chain = [language, *self.fallback.get(language, ())]
        if self.default_language not in chain:
            chain.append(self.default_language)
        return tuple(dict.fromkeys(chain))

    def segment(self, segment_id: str) -> Segment:
        try:
            return self.segments[segment_id.lower()]
        except KeyError:
            known = ", ".join(sorted(self.segments))
            raise ConfigError(f"unknown segment '{segment_id}' (known: {known})") from None


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder upwards holding newsletter.toml, else the cwd."""
    here = (start or Path.cwd()).resolve()
    return _project_folder(here) or here


def _project_folder(here: Path) -> Path | None:
    return next((f for f in (here, *here.parents) if (f / "newsletter.toml").is_file()), None)


def load_config(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``.env`` (the environment wins) and ``newsletter.toml`` into one ``Config``.

    The file and the numeric environment variables are checked against ``config.schema``
    first; every problem is reported at once (``SettingsError``, exit 2) before a command runs."""
    here = (root or Path.cwd()).resolve()
    environ = os.environ if environ is None else environ
    project = _project_folder(here)
    env, env_places = _environment(project or here, environ)
    named = env.get("NEWSLETTER_CONFIG")
    if project is None and named and Path(named).is_absolute():
        project = Path(named).parent  # run from elsewhere: NEWSLETTER_CONFIG names the project
        env, env_places = _environment(project, environ)
    root = project or here
    config_path = Path(named or root / "newsletter.toml")
    if not config_path.is_absolute():
        config_path = root / config_path
    shown = _shown(config_path, root)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _not_found(config_path, here, named) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot be read ({exc}); save it as UTF-8 text") from None
    raw = _parse(text, shown)
    checker = Checker(shown, key_lines(text), _zone_problem, sender_in_env=bool(env.get("NEWSLETTER_FROM")))
    problems = [str(p) for p in checker.check(raw)]
    problems += env_problems(env, env_places)
    if problems:
        raise SettingsError(problems)
    return _build(root, config_path, with_defaults(raw), env)


def _environment(folder: Path, environ: Mapping[str, str]) -> tuple[dict[str, str], Callable[[str], str]]:
    """``folder/.env`` overlaid by the real environment, and where each variable was written."""
    env_file = folder / ".env"
    env: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values  # only a project with a .env pays for python-dotenv

        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    from_file = set(env) - set(environ)
    env.update(environ)

    def place(name: str) -> str:
        if name not in from_file:
            return ""
        text = env_file.read_text(encoding="utf-8", errors="replace")
        match = re.search(rf"(?m)^[ \t]*(?:export[ \t]+)?{re.escape(name)}[ \t]*=", text)
        line = text.count("\n", 0, match.start()) + 1 if match else 0
        return f"{_shown(env_file, folder)}:{line}: " if line else f"{_shown(env_file, folder)}: "

    return env, place


def _not_found(config_path: Path, here: Path, named: str | None) -> ConfigError:
    if named:
        return ConfigError(
            f"NEWSLETTER_CONFIG names {config_path}, which does not exist; set it to the project's newsletter.toml"
        )
    searched = ", ".join(str(folder) for folder in (here, *here.parents))
    return ConfigError(
        f"no newsletter.toml in {here} or any folder above it (looked in {searched}); run newsletter "
        "in the project folder (the one holding newsletter.toml), or set NEWSLETTER_CONFIG to that file"
    )


def _parse(text: str, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if where:
            line, column = where.groups()
            message = f"{message[: where.start()]} (column {column})"
            raise ConfigError(f"{shown}:{line}: {message[:1].lower()}{message[1:]}") from None
        raise ConfigError(f"{shown}: {message}") from None


def _shown(path: Path, root: Path) -> str:
    """A file as messages name it: relative to the project when inside it (``newsletter.toml``)."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return str(path)


def _build(root: Path, path: Path, settings: dict[str, Any], env: Mapping[str, str]) -> Config:
    main = settings["newsletter"]
    languages = tuple(main["languages"])
    default_language = main["default_language"] or languages[0]
    fallback = {lang: tuple(chain) for lang, chain in settings["fallback"].items()}
    timezone = main["timezone"]  # of `schedule --to all|general`, and of segments without a zone
    segments = {
        entry["id"].lower(): Segment(
            id=entry["id"].lower(), names=dict(entry["names"]), timezone=entry["timezone"] or timezone
        )
        for entry in settings["segments"]
    }
    footers = {
        lang: Footer(text=f["text"], impressum=f["impressum"], unsubscribe_label=f["unsubscribe"])
        for lang, f in settings["footer"].items()
    }
    sender_name, sender_address = _sender(path, env.get("NEWSLETTER_FROM") or main["from"] or "")
    dkim_raw = settings["dkim"]
    dkim = None
    if dkim_raw:
        dkim = DkimSettings(
            selector=dkim_raw["selector"],
            domain=dkim_raw["domain"],
            private_key=root / dkim_raw["private_key"],
        )
    secrets = [s.strip() for s in env.get("NEWSLETTER_SECRET", "").split(",") if s.strip()]
    return Config(
        root=root,
        name=main["name"],
        sender_name=sender_name,
        sender_address=sender_address,
        reply_to=main["reply_to"],
        mail_domain=main["mail_domain"] or sender_address.rpartition("@")[2],
        default_language=default_language,
        languages=languages,
        fallback=fallback,
        segments=segments,
        footers=footers,
        smtp=_smtp(settings["sending"], env),
        subscribers=_path(root, env.get("NEWSLETTER_SUBSCRIBERS", "subscribers.csv")),
        database_url=_database_url(root, env.get("NEWSLETTER_DATABASE", "sqlite:///newsletter.db")),
        secret=Secret(secrets[0]) if secrets else None,
        old_secrets=tuple(Secret(s) for s in secrets[1:]),
        public_url=(env.get("NEWSLETTER_PUBLIC_URL") or "").rstrip("/") or None,
        require_approval=main["require_approval"],
        staleness_hours=float(settings["scheduler"]["staleness_hours"]),
        dkim=dkim,
        templates=root / main["templates"],
        issues_dir=root / main["issues"],
        outbox=_path(root, env.get("NEWSLETTER_OUTBOX", "outbox")),
        timezone=timezone,
        desk=DeskSettings(float(settings["desk"]["idle_minutes"]), float(settings["desk"]["session_hours"])),
        consent=ConsentSettings(
            texts=dict(settings["consent"]["text"]),
            record_ip=settings["consent"]["record_ip"],
            per_ip_hour=settings["consent"]["per_ip_hour"],
        ),
        bounce_address=main["bounce_address"] or sender_address,
        verp=main["verp"],
        inbox=_inbox(settings["inbox"], env),
        env={
            k: v
            for k, v in env.items()
            if k.startswith("NEWSLETTER_") and "PASSWORD" not in k and "SECRET" not in k
        },
    )


def _smtp(sending: dict[str, Any], env: Mapping[str, str]) -> SmtpSettings:
    """The relay and sending limits; values were checked by config.schema (file and environment)."""
    host = env.get("NEWSLETTER_SMTP_HOST", DEV_SINK_HOST)
    port = _int(env, "NEWSLETTER_SMTP_PORT", DEV_SINK_PORT)
    username = env.get("NEWSLETTER_SMTP_USERNAME") or None
    password = Secret(env["NEWSLETTER_SMTP_PASSWORD"]) if env.get("NEWSLETTER_SMTP_PASSWORD") else None
    loopback_default = host == DEV_SINK_HOST and port == DEV_SINK_PORT
    security = env.get("NEWSLETTER_SMTP_SECURITY") or ("none" if loopback_default else "starttls")
    security = security.lower()
    if security not in SECURITY_MODES:
        raise ConfigError(
            f"NEWSLETTER_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, not '{security}'"
        )
    if security == "none" and password:
        raise ConfigError(
            "NEWSLETTER_SMTP_SECURITY=none with a password would send it in clear text; use starttls or tls"
        )
    rate = env.get("NEWSLETTER_RATE", "").strip() or sending["rate"]
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        timeout=float(env.get("NEWSLETTER_SMTP_TIMEOUT", "").strip() or sending["timeout"]),
        ca_file=env.get("NEWSLETTER_SMTP_CA_FILE") or sending["ca_file"],
        connections=_int(env, "NEWSLETTER_CONNECTIONS", sending["connections"]),
        rate=float(rate) if rate is not None else None,
        per_connection=sending["per_connection"],
        max_attempts=sending["max_attempts"],
        retry_backoff=tuple(float(s) for s in sending["retry_backoff"]),
        error_budget=sending["error_budget"],
        resend_unknown=sending["resend_unknown"],
    )


def _inbox(inbox: dict[str, Any], env: Mapping[str, str]) -> InboxSettings:
    password = env.get("NEWSLETTER_INBOX_PASSWORD")
    return InboxSettings(
        url=(env.get("NEWSLETTER_INBOX") or "").strip() or None,
        password=Secret(password) if password else None,
        ca_file=env.get("NEWSLETTER_INBOX_CA_FILE") or None,
        minutes=float(inbox["inbox_minutes"]),
        soft_bounces=inbox["soft_bounces"],
        processed_folder=inbox["processed_folder"],
    )


def _sender(path: Path, value: str) -> tuple[str, str]:
    name, _, rest = value.rpartition("<")
    address = rest.rstrip(">").strip()
    if "@" not in address or any(c in value for c in "\r\n\0"):
        raise ConfigError(
            f"{path}: sender must look like 'Name <address@example.org>' (NEWSLETTER_FROM or [newsletter] from)"
        )
    return name.strip().strip('"'), address


def _zone_problem(tz: str) -> str | None:
    """``_check_zone``'s message without its file prefix: the schema adds the file and the line."""
    try:
        _check_zone(_CONFIG_NAME, tz)
    except ConfigError as exc:
        return str(exc).removeprefix(f"{_CONFIG_NAME}: ")
    return None


_CONFIG_NAME = Path("newsletter.toml")


def _check_zone(path: Path, tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: unknown time zone '{tz}'{did_you_mean(tz)}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not '{value}'") from None


def _path(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else root / p


def _database_url(root: Path, url: str) -> str:
    # Relative SQLite paths are relative to the project root, not to the cwd.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str(root / url[len(prefix) :])
    return url
