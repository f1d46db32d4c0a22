"""The desk's people: names, roles and argon2id password hashes in the ``users`` table.

Names are one line, trimmed, and unique whatever their case (``name_key`` is the casefolded
name, held unique by the database, so two ``users add`` racing cannot both win). A password is
stored only as an argon2id hash (argon2-cffi); :meth:`Users.verify` checks it in the same time
for an unknown name as for a wrong password (it verifies against a dummy hash), and rehashes a
correct password whose hash was made with older parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..model import NewsletterError
from .db import utcnow
from .tables import users

ROLES = ("editor", "approver")  # an approver may also edit; an editor may not approve
MIN_PASSWORD = 10  # characters
MAX_NAME = 100


class UserError(NewsletterError):
    """Bad input to ``newsletter users`` (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime
    last_sign_in: datetime | None

    @property
    def may_approve(self) -> bool:
        return self.role == "approver"


def clean_name(raw: str) -> str:
    """The name as stored: trimmed, inner spaces kept single; UserError when it cannot be one."""
    if any(c in raw for c in "\r\n\0"):
        raise UserError("the name must be one line")
    name = " ".join(raw.split())
    if not name:
        raise UserError("give the person's name, e.g. newsletter users add 'Anna Schmidt' --role editor")
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise UserError(f"the name must be at most {MAX_NAME} printable characters")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if password != password.strip() or any(c in password for c in "\r\n\0"):
        raise UserError("the password must be one line without leading or trailing spaces")


class Users:
    """The users table of one state database."""

    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None):
        self.engine = engine
        self.hasher = hasher or PasswordHasher()  # argon2id with argon2-cffi's current parameters

    @functools.cached_property
    def _dummy(self) -> str:
        """What an unknown name is checked against (the same time as a known one); made the
        first time it is needed, not for every ``Users()`` (tens of ms and 64 MiB)."""
        return self.hasher.hash("not a password of anybody")

    def add(self, raw_name: str, role: str, password: str) -> User:
        name = clean_name(raw_name)
        if role not in ROLES:
            raise UserError(f"--role must be one of {', '.join(ROLES)}, not '{role}'")
        check_password(password)
        now = utcnow()
        row = {"name": name, "name_key": name.casefold(), "role": role, "created_at": now,
               "password_hash": self.hasher.hash(password)}  # fmt: skip
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(**row))
        except IntegrityError:
            other = self.get(name)
            raise UserError(f"a user named '{other.name if other else name}' exists already; "
                            "choose another name or remove that one first") from None  # fmt: skip
        return User(name, role, now, None)

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.name_key == " ".join(name.split()).casefold())
            ).first()
        return _user(row) if row is not None else None

    def all(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name_key)).all()
        return [_user(r) for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def remove(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise UserError(f"no user named '{' '.join(name.split())}'; see `newsletter users list`")
        with self.engine.begin() as conn:
            conn.execute(delete(users).where(users.c.name_key == user.name.casefold()))
        return user

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs (and their sign-in time set), else None. An unknown
        name costs one argon2 verification too, so the answer time does not tell names apart."""
        key = " ".join(name.split()).casefold()
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name_key == key)).first()
        stored = row._mapping["password_hash"] if row is not None else self._dummy
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        values: dict[str, object] = {"last_sign_in": utcnow()}
        if self.hasher.check_needs_rehash(stored):  # parameters changed since the hash was made
            values["password_hash"] = self.hasher.hash(password)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.name_key == key).values(**values))
        return _user(row)

    def stored_hash(self, name: str) -> str | None:
        """The hash as stored (tests: it is argon2id and changes on rehash)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users.c.password_hash).where(users.c.name_key == name.casefold())
            ).first()
        return row[0] if row is not None else None


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(m["name"], m["role"], m["created_at"], m["last_sign_in"])


__all__ = ["MIN_PASSWORD", "ROLES", "User", "UserError", "Users", "check_password", "clean_name"]
