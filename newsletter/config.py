"""``.env`` + ``newsletter.toml`` → one frozen ``Config``. The only reader of the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from .model import ConfigError, Segment
from .zones import did_you_mean

DEV_SINK_HOST = "127.0.0.1"
DEV_SINK_PORT = 1025
SECURITY_MODES = ("starttls", "tls", "none")


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
class Footer:
    text: str
    impressum: str
    unsubscribe_label: str


@dataclass(frozen=True)
class DkimSettings:
    selector: str
    domain: str
    private_key: Path


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
    env: Mapping[str, str] = field(repr=False, default_factory=dict)

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
    for folder in (here, *here.parents):
        if (folder / "newsletter.toml").is_file():
            return folder
    return here


def load_config(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``.env`` (the environment wins) and ``newsletter.toml`` into one ``Config``."""
    root = find_root(root)
    env_file = root / ".env"
    env: dict[str, str] = {}
    if env_file.is_file():
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    config_path = Path(env.get("NEWSLETTER_CONFIG") or root / "newsletter.toml")
    if not config_path.is_absolute():
        config_path = root / config_path
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: not found; copy newsletter.toml from the project") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None
    return _build(root, config_path, raw, env)


def _build(root: Path, path: Path, raw: dict, env: Mapping[str, str]) -> Config:
    main = raw.get("newsletter", {})
    languages = tuple(main.get("languages", ["de"]))
    default_language = main.get("default_language", languages[0])
    if default_language not in languages:
        raise ConfigError(f"{path}: default_language '{default_language}' is not in languages")

    fallback = {lang: tuple(chain) for lang, chain in raw.get("fallback", {}).items()}
    for lang, chain in fallback.items():
        unknown = [c for c in (lang, *chain) if c not in languages]
        if unknown:
            raise ConfigError(f"{path}: fallback names unknown language(s) {', '.join(unknown)}")

    segments: dict[str, Segment] = {}
    for entry in raw.get("segments", []):
        seg_id = str(entry["id"]).lower()
        tz = entry.get("timezone", "Europe/Berlin")
        _check_zone(path, tz)
        segments[seg_id] = Segment(id=seg_id, names=dict(entry.get("names", {})), timezone=tz)

    footers = {
        lang: Footer(
            text=f.get("text", ""),
            impressum=f.get("impressum", ""),
            unsubscribe_label=f.get("unsubscribe", "Unsubscribe"),
        )
        for lang, f in raw.get("footer", {}).items()
    }

    sender_name, sender_address = _sender(path, env.get("NEWSLETTER_FROM") or main.get("from", ""))
    smtp = _smtp(raw.get("sending", {}), env)
    dkim_raw = raw.get("dkim")
    dkim = None
    if dkim_raw and dkim_raw.get("private_key"):
        dkim = DkimSettings(
            selector=dkim_raw["selector"],
            domain=dkim_raw["domain"],
            private_key=root / dkim_raw["private_key"],
        )

    secrets = [s.strip() for s in env.get("NEWSLETTER_SECRET", "").split(",") if s.strip()]
    return Config(
        root=root,
        name=main.get("name", "Newsletter"),
        sender_name=sender_name,
        sender_address=sender_address,
        reply_to=main.get("reply_to"),
        mail_domain=main.get("mail_domain") or sender_address.rpartition("@")[2],
        default_language=default_language,
        languages=languages,
        fallback=fallback,
        segments=segments,
        footers=footers,
        smtp=smtp,
        subscribers=_path(root, env.get("NEWSLETTER_SUBSCRIBERS", "subscribers.csv")),
        database_url=_database_url(root, env.get("NEWSLETTER_DATABASE", "sqlite:///newsletter.db")),
        secret=Secret(secrets[0]) if secrets else None,
        old_secrets=tuple(Secret(s) for s in secrets[1:]),
        public_url=(env.get("NEWSLETTER_PUBLIC_URL") or "").rstrip("/") or None,
        require_approval=bool(main.get("require_approval", False)),
        staleness_hours=float(raw.get("scheduler", {}).get("staleness_hours", 6)),
        dkim=dkim,
        templates=root / main.get("templates", "templates"),
        issues_dir=root / main.get("issues", "issues"),
        outbox=_path(root, env.get("NEWSLETTER_OUTBOX", "outbox")),
        env={
            k: v
            for k, v in env.items()
            if k.startswith("NEWSLETTER_") and "PASSWORD" not in k and "SECRET" not in k
        },
    )


def _smtp(sending: dict, env: Mapping[str, str]) -> SmtpSettings:
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
    rate_text = env.get("NEWSLETTER_RATE") or str(sending.get("rate", "") or "")
    try:
        rate = float(rate_text) if rate_text else None
    except ValueError:
        raise ConfigError(
            f"NEWSLETTER_RATE must be a number of messages per second, not '{rate_text}'"
        ) from None
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        timeout=float(env.get("NEWSLETTER_SMTP_TIMEOUT") or sending.get("timeout", 30)),
        ca_file=env.get("NEWSLETTER_SMTP_CA_FILE") or sending.get("ca_file"),
        connections=_int(env, "NEWSLETTER_CONNECTIONS", int(sending.get("connections", 4))),
        rate=rate if rate and rate > 0 else None,
        per_connection=int(sending.get("per_connection", 90)),
        max_attempts=int(sending.get("max_attempts", 5)),
        retry_backoff=tuple(float(s) for s in sending.get("retry_backoff", [60, 300, 900, 3600])),
        error_budget=int(sending.get("error_budget", 50)),
        resend_unknown=bool(sending.get("resend_unknown", False)),
    )


def _sender(path: Path, value: str) -> tuple[str, str]:
    name, _, rest = value.rpartition("<")
    address = rest.rstrip(">").strip()
    if "@" not in address or any(c in value for c in "\r\n\0"):
        raise ConfigError(
            f"{path}: sender must look like 'Name <address@example.org>' (NEWSLETTER_FROM or [newsletter] from)"
        )
    return name.strip().strip('"'), address


def _check_zone(path: Path, tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: unknown time zone '{tz}'{did_you_mean(tz)}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
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
