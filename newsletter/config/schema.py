"""The declared shape of ``newsletter.toml``: every table and key, its type, range and default.

``Checker(shown, lines, zone_problem).check(raw)`` returns every problem at once as
``newsletter.toml:LINE: message`` (lines from ``toml_lines.key_lines``; cross-key checks in
``rules``); ``with_defaults(raw)`` fills in the defaults. Types are
never coerced: ``resend_unknown = "false"`` is a string, not false (``bool("false")`` is True), so
it is refused. Adding a key to newsletter.toml means adding it here, or it is reported as unknown.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ..model import ALL, GENERAL, ConfigError, Problem

KeyPath = tuple[str | int, ...]
Rule = Callable[[Any], str | None]  # the requirement a value breaks ("must be at least 1"), or None


@dataclass(frozen=True)
class Kind:
    """What a value must be, as the editor reads it: ``must be a whole number, e.g. connections = 4``."""

    name: str
    accepts: Callable[[Any], bool]
    element: Kind | None = None  # for lists and tables of values: the kind of each element


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TEXT = Kind("text in quotes", lambda v: isinstance(v, str))
BOOLEAN = Kind("true or false without quotes", lambda v: isinstance(v, bool))
WHOLE = Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
NUMBER = Kind("a number", lambda v: _number(v) and math.isfinite(v))
TEXTS = Kind("a list of texts in quotes", lambda v: isinstance(v, list), TEXT)
NUMBERS = Kind("a list of numbers", lambda v: isinstance(v, list), NUMBER)
TEXT_PER_LANGUAGE = Kind("a table of texts per language", lambda v: isinstance(v, dict), TEXT)


@dataclass(frozen=True)
class Key:
    kind: Kind
    example: str  # a correct line, shown in messages: 'connections = 4'
    default: Any = None  # None: no default (absent stays absent)
    required: bool = False
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Table:
    keys: Mapping[str, Key]
    optional: bool = False  # absent means "not used" (None), not "all defaults"


@dataclass(frozen=True)
class Tables:
    """A table of tables named by the editor (``[footer.de]``), each of one shape."""

    each: Table


@dataclass(frozen=True)
class Entries:
    """An array of tables (``[[segments]]``)."""

    each: Table


@dataclass(frozen=True)
class Values:
    """A table of values named by the editor (``[fallback] pl = ["en", "de"]``)."""

    each: Key


def at_least(low: float, unit: str = "") -> Rule:
    return lambda v: None if v >= low else f"must be at least {low:g}{unit}"


def between(low: float, high: float) -> Rule:
    return lambda v: None if low <= v <= high else f"must be between {low:g} and {high:g}"


def more_than(low: float, unit: str = "") -> Rule:
    return lambda v: None if v > low else f"must be more than {low:g}{unit}"


def not_empty(what: str) -> Rule:
    return lambda v: None if v else f"must not be empty ({what})"


def one_line(value: str) -> str | None:
    return "must be one line (no line breaks)" if any(c in value for c in "\r\n\0") else None


def address(value: str) -> str | None:
    return None if "@" in value and not one_line(value) else "must be a mail address like info@example.org"


LANGUAGE_CODE = re.compile(r"[a-z]{2,3}\Z")
SEGMENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]*\Z", re.IGNORECASE)


def language_codes(value: list) -> str | None:
    bad = [v for v in value if not LANGUAGE_CODE.match(v)]
    return f'must list language codes like "de", "en", "pl"; not {bad[0]!r}' if bad else None


def segment_id(value: str) -> str | None:
    if value.lower() in (ALL, GENERAL):
        return f'must not be "{value}" (the tool uses it for every member / no segment)'
    if not SEGMENT_ID.match(value):
        return 'must be letters, digits, - or _ (it appears in file names and --to), e.g. id = "poland"'
    return None


RATE_RULE = more_than(0, " messages per second (leave rate out for no limit)")
CONNECTIONS_RULE = between(1, 100)
TIMEOUT_RULE = more_than(0, " seconds")

SCHEMA: dict[str, Table | Tables | Entries | Values] = {
    "newsletter": Table({
        "name": Key(TEXT, 'name = "AMZ-Newsletter"', "Newsletter",
                    rules=(not_empty("the newsletter's name"), one_line)),
        "from": Key(TEXT, 'from = "AMZ Netzwerk <newsletter@amz-sachsen.example>"', rules=(one_line,)),
        "reply_to": Key(TEXT, 'reply_to = "info@amz-sachsen.example"', rules=(address,)),
        "mail_domain": Key(TEXT, 'mail_domain = "amz-sachsen.example"', rules=(one_line,)),
        "languages": Key(TEXTS, 'languages = ["de", "en", "pl"]', ["de"],
                         rules=(not_empty("at least one language"), language_codes)),
        "default_language": Key(TEXT, 'default_language = "de"'),
        "require_approval": Key(BOOLEAN, "require_approval = false", False),
        "templates": Key(TEXT, 'templates = "templates"', "templates"),
        "issues": Key(TEXT, 'issues = "issues"', "issues"),
        "timezone": Key(TEXT, 'timezone = "Europe/Berlin"', "Europe/Berlin"),
        # inbound mail (issue 13): the envelope sender; default the From address
        "bounce_address": Key(TEXT, 'bounce_address = "bounces@amz-sachsen.example"', rules=(address,)),
        "verp": Key(BOOLEAN, "verp = true", False),
    }),
    "fallback": Values(Key(TEXTS, 'pl = ["en", "de"]')),
    "segments": Entries(Table({
        "id": Key(TEXT, 'id = "poland"', required=True, rules=(segment_id,)),
        "timezone": Key(TEXT, 'timezone = "Europe/Warsaw"'),  # default: [newsletter] timezone
        "names": Key(TEXT_PER_LANGUAGE, 'names = { de = "Polen-Fokus", en = "Poland focus" }', {}),
    })),
    "footer": Tables(Table({
        "text": Key(TEXT, 'text = "Sie erhalten diesen Newsletter als Mitglied …"', ""),
        "impressum": Key(TEXT, 'impressum = "Verein e. V. · Straße 1 · 09111 Chemnitz"', ""),
        # default "": the language's unsubscribe_text of templates/labels.toml
        "unsubscribe": Key(TEXT, 'unsubscribe = "Newsletter abbestellen"', "", rules=(one_line,)),
    })),
    "sending": Table({
        "connections": Key(WHOLE, "connections = 4", 4, rules=(CONNECTIONS_RULE,)),
        "rate": Key(NUMBER, "rate = 10", rules=(RATE_RULE,)),
        "per_connection": Key(WHOLE, "per_connection = 90", 90, rules=(at_least(1),)),
        "max_attempts": Key(WHOLE, "max_attempts = 5", 5, rules=(at_least(1, " (1 = no retries)"),)),
        "retry_backoff": Key(NUMBERS, "retry_backoff = [60, 300, 900, 3600]", [60, 300, 900, 3600],
                             rules=(not_empty("seconds before attempt 2, 3, …"),)),
        "error_budget": Key(WHOLE, "error_budget = 50", 50, rules=(at_least(1),)),
        "timeout": Key(NUMBER, "timeout = 30", 30, rules=(TIMEOUT_RULE,)),
        "resend_unknown": Key(BOOLEAN, "resend_unknown = false", False),
        "ca_file": Key(TEXT, 'ca_file = "relay-ca.pem"'),
    }),
    "scheduler": Table({
        "staleness_hours": Key(NUMBER, "staleness_hours = 6", 6, rules=(more_than(0, " hours"),)),
    }),
    "desk": Table({
        "idle_minutes": Key(NUMBER, "idle_minutes = 30", 30, rules=(more_than(0, " minutes"),)),
        "session_hours": Key(NUMBER, "session_hours = 12", 12, rules=(more_than(0, " hours"),)),
    }),
    # sign-ups through `newsletter serve` (/subscribe): the consent text each language shows, versioned
    # by its sha256; record_ip keeps the requester's address (truncated to /24 or /48) with the consent
    "consent": Table({
        "text": Key(TEXT_PER_LANGUAGE, 'text = { de = "Ja, ich möchte den Newsletter erhalten …" }', {}),
        "record_ip": Key(BOOLEAN, "record_ip = false", False),
        "per_ip_hour": Key(WHOLE, "per_ip_hour = 20", 20, rules=(at_least(1),)),
    }),
    # inbound mail (issue 13): `newsletter inbox` and the scheduler's inbox job
    "inbox": Table({
        "inbox_minutes": Key(NUMBER, "inbox_minutes = 15", 15, rules=(more_than(0, " minutes"),)),
        "soft_bounces": Key(WHOLE, "soft_bounces = 3", 3, rules=(at_least(1),)),
        "processed_folder": Key(TEXT, 'processed_folder = "INBOX/Processed"',
                                rules=(not_empty("the folder processed mail is moved to"), one_line)),
    }),
    "dkim": Table(optional=True, keys={
        "selector": Key(TEXT, 'selector = "nl2026"', required=True, rules=(not_empty("the DNS selector"),)),
        "domain": Key(TEXT, 'domain = "amz-sachsen.example"', required=True,
                      rules=(not_empty("the From domain"),)),
        "private_key": Key(TEXT, 'private_key = "dkim/nl2026.key"', required=True,
                           rules=(not_empty("the key file"),)),
    }),
}  # fmt: skip
ELEMENT_RULES: dict[tuple[str, str], Rule] = {("sending", "retry_backoff"): at_least(0, " seconds")}


class SettingsError(ConfigError):
    """Every problem of newsletter.toml and the environment, one line each."""

    def __init__(self, lines: list[str]):
        self.problem_lines = tuple(lines)
        super().__init__("\n".join(lines))

    def lines(self) -> list[str]:
        return list(self.problem_lines)


def with_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The document with every default filled in (``raw`` must have passed ``check``)."""
    filled: dict[str, Any] = {}
    for name, spec in SCHEMA.items():
        value = raw.get(name)
        if isinstance(spec, Table):
            filled[name] = None if value is None and spec.optional else _filled(spec, value or {})
        elif isinstance(spec, Entries):
            filled[name] = [_filled(spec.each, entry) for entry in value or []]
        elif isinstance(spec, Tables):
            filled[name] = {key: _filled(spec.each, table) for key, table in (value or {}).items()}
        else:
            filled[name] = dict(value or {})
    return filled


def _filled(table: Table, value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.get(key, spec.default) for key, spec in table.keys.items()}


@dataclass
class Checker:
    """Walks the parsed document along SCHEMA; collects ``Problem``s with the line of each key."""

    shown: str  # the file as shown in messages, e.g. "newsletter.toml"
    lines: Mapping[KeyPath, int]
    zone_problem: Callable[[str], str | None]
    sender_in_env: bool = False  # NEWSLETTER_FROM is set, so [newsletter] from may be missing
    problems: list[Problem] = field(default_factory=list)

    def report(self, path: KeyPath, message: str) -> None:
        line = 0
        for depth in range(len(path), 0, -1):  # the key, else the nearest table that holds it
            line = self.lines.get(path[:depth], 0)
            if line:
                break
        self.problems.append(Problem(self.shown, line, message))

    def check(self, raw: Mapping[str, Any]) -> list[Problem]:
        """Every problem, in line order. Keys across tables (languages, zones …) are checked on the
        values that passed, so one wrong type does not hide the other problems."""
        from .rules import cross_check

        clean: dict[str, Any] = {}
        for name, value in raw.items():
            spec = SCHEMA.get(name)
            if spec is None:
                self.report((name,), _unknown_table(name))
            elif isinstance(spec, Table):
                clean[name] = self.table((name,), f"[{name}]", spec, value)
            elif isinstance(spec, Entries):
                clean[name] = self.entries(name, spec, value)
            elif isinstance(spec, Tables):
                clean[name] = self.tables(name, spec, value)
            else:
                clean[name] = self.values(name, spec, value)
        cross_check(self, with_defaults(clean), sender_in_env=self.sender_in_env)
        return sorted(self.problems, key=lambda p: p.line)

    def table(self, path: KeyPath, label: str, spec: Table, value: Any) -> dict[str, Any]:
        """The keys of ``value`` that passed (an entry missing a required key keeps it as None)."""
        if not isinstance(value, dict):
            self.report(path, f"{label} must be a table (a line {label} with key = value lines below it)")
            return {}
        clean = {}
        for key, item in value.items():
            if key not in spec.keys:
                self.report((*path, key), _unknown_key(key, label, spec))
            elif self.value((*path, key), _key_label(label, key), spec.keys[key], item):
                clean[key] = item
        for key, wanted in spec.keys.items():
            if wanted.required and key not in value:
                self.report(path, f"{label} has no {key}; add {wanted.example}")
        return clean

    def entries(self, name: str, spec: Entries, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            self.report((name,), f"{name} must be written as [[{name}]] tables, one per entry")
            return []
        return [self.table((name, i), f"[[{name}]] entry {i + 1}", spec.each, e) for i, e in enumerate(value)]

    def tables(self, name: str, spec: Tables, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.report((name,), f"{name} must be written as tables like [{name}.de]")
            return {}
        return {key: self.table((name, key), f"[{name}.{key}]", spec.each, t) for key, t in value.items()}

    def values(self, name: str, spec: Values, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.report((name,), f"[{name}] must be a table with lines like {spec.each.example}")
            return {}
        return {k: v for k, v in value.items() if self.value((name, k), f"[{name}] {k}", spec.each, v)}

    def value(self, path: KeyPath, label: str, spec: Key, value: Any) -> bool:
        """Whether ``value`` has the kind and passes the rules of ``spec``; reports what it breaks."""
        if not spec.kind.accepts(value):
            self.report(path, f"{label} must be {spec.kind.name}, e.g. {spec.example}; not {describe(value)}")
            return False
        if spec.kind.element is not None and not self.elements(path, label, spec.kind.element, value):
            return False
        for rule in spec.rules:
            if broken := rule(value):
                self.report(path, f"{label} {broken}, not {describe(value)}")
                return False
        return True

    def elements(self, path: KeyPath, label: str, kind: Kind, value: list | dict) -> bool:
        rule = ELEMENT_RULES.get((str(path[0]), str(path[-1])))
        good = True
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            where = f"{label}.{key}" if isinstance(value, dict) else f"{label} element {key + 1}"
            broken = f"must be {kind.name}" if not kind.accepts(item) else rule(item) if rule else None
            if broken:
                self.report((*path, key), f"{where} {broken}, not {describe(item)}")
                good = False
        return good


def describe(value: Any) -> str:
    """A value as the editor wrote it: ``the string "false"``, ``-3``, ``a list``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return f'the string "{shown}"' if value else "an empty string"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"the date/time {value.isoformat()}"
    return repr(value)


def _key_label(table: str, key: str) -> str:
    """``[sending] rate``, ``[[segments]] entry 2: id``."""
    return f"{table}: {key}" if table.startswith("[[") else f"{table} {key}"


def _unknown_table(name: str) -> str:
    known = [f"[{n}]" for n in SCHEMA]
    close = difflib.get_close_matches(name, list(SCHEMA), n=1, cutoff=0.6)
    if close:
        return f"unknown table [{name}]; did you mean [{close[0]}]?"
    home = [table for table, spec in SCHEMA.items() if isinstance(spec, Table) and name in spec.keys]
    if home:
        return f"{name} belongs in the table [{home[0]}]: move the line below the [{home[0]}] line"
    return f"unknown table [{name}] (known: {', '.join(known)})"


def _unknown_key(key: str, label: str, spec: Table) -> str:
    close = difflib.get_close_matches(key, list(spec.keys), n=1, cutoff=0.6)
    if close:
        return f"unknown key {key} in {label}; did you mean {close[0]}?"
    home = [t for t, s in SCHEMA.items() if isinstance(s, Table) and s is not spec and key in s.keys]
    if home:
        return f"unknown key {key} in {label}; it belongs in [{home[0]}]"
    return f"unknown key {key} in {label} (known: {', '.join(spec.keys)})"


def env_problems(env: Mapping[str, str], place: Callable[[str], str]) -> list[str]:
    """The numeric environment variables, checked like their newsletter.toml keys; ``place(name)``
    says where a value was written (``.env:3: `` or nothing for the real environment)."""
    problems = []
    for name, kind, rule in ENV_NUMBERS:
        text = (env.get(name) or "").strip()
        if not text:
            continue
        try:
            value: float = int(text) if kind is WHOLE else float(text)
        except ValueError:
            value = math.nan
        broken = f"must be {kind.name}" if not math.isfinite(value) else rule(value)
        if broken:
            problems.append(f"{place(name)}{name} {broken}, not '{text}'")
    security = (env.get("NEWSLETTER_SMTP_SECURITY") or "").strip()
    if security and security.lower() not in SECURITY_MODES:
        name = "NEWSLETTER_SMTP_SECURITY"
        problems.append(f"{place(name)}{name} must be one of {', '.join(SECURITY_MODES)}, not '{security}'")
    return problems


SECURITY_MODES = ("starttls", "tls", "none")


ENV_NUMBERS: tuple[tuple[str, Kind, Rule], ...] = (
    ("NEWSLETTER_SMTP_PORT", WHOLE, between(1, 65535)),
    ("NEWSLETTER_SMTP_TIMEOUT", NUMBER, TIMEOUT_RULE),
    ("NEWSLETTER_CONNECTIONS", WHOLE, CONNECTIONS_RULE),
    ("NEWSLETTER_RATE", NUMBER, more_than(0, " messages per second (leave it empty for no limit)")),
)
