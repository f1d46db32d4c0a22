"""Unsubscribe tokens: round trip, forgeries, key rotation, dev-sink key."""

from __future__ import annotations

import base64
import dataclasses
import random
import string

import pytest

from newsletter.config import Config, Secret
from newsletter.mail.tokens import InvalidToken, TokenClaims, make_token, read_token
from newsletter.model import ConfigError


def _with(config: Config, *secrets: str) -> Config:
    return dataclasses.replace(
        config, secret=Secret(secrets[0]), old_secrets=tuple(Secret(s) for s in secrets[1:])
    )


def test_round_trip_is_url_safe_and_opaque(config: Config) -> None:
    cfg = _with(config, "k" * 40)
    token = make_token("anna.muster@example.org", "poland+usa", cfg)
    assert read_token(token, cfg) == TokenClaims("anna.muster@example.org", "poland+usa")
    assert set(token) <= set(string.ascii_letters + string.digits + "-_") and len(token) < 200
    assert b"muster" not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert make_token("anna.muster@example.org", "poland+usa", cfg) != token  # fresh IV each time


def test_random_and_bit_flipped_tokens_are_all_refused(config: Config) -> None:
    cfg = _with(config, "s3cret-key-for-tests")
    rng = random.Random(4)
    good = make_token("eve@example.org", "all", cfg)
    raw = bytearray(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    accepted = 0
    for i in range(10_000):
        if i % 2:
            forged = bytearray(raw)
            bit = rng.randrange(len(forged) * 8)
            forged[bit // 8] ^= 1 << (bit % 8)
            candidate = base64.urlsafe_b64encode(bytes(forged)).decode().rstrip("=")
        else:
            candidate = "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=len(good)))
        try:
            read_token(candidate, cfg)
            accepted += 1
        except InvalidToken:
            pass
    assert accepted == 0
    alphabet = string.ascii_letters + string.digits + "-_"
    for i, char in enumerate(good):  # every character changed at least once, the last one included
        for other in rng.sample([c for c in alphabet if c != char], 3):
            with pytest.raises(InvalidToken):
                read_token(good[:i] + other + good[i + 1 :], cfg)
    for junk in ("", "x", good + "A", good[:-1], " " + good, "+" + good[1:], good + "=", "a" * 5000):
        with pytest.raises(InvalidToken):
            read_token(junk, cfg)


def test_rotated_key_accepted_while_listed(config: Config) -> None:
    old = make_token("m@example.org", "usa", _with(config, "old-key"))
    rotated = _with(config, "new-key", "old-key")
    assert read_token(old, rotated).address == "m@example.org"
    assert read_token(make_token("m@example.org", "usa", rotated), _with(config, "new-key")).list_id == "usa"
    with pytest.raises(InvalidToken):
        read_token(old, _with(config, "new-key"))


def test_dev_key_only_for_the_dev_sink(config: Config) -> None:
    assert config.secret is None and config.smtp.is_dev_sink
    token = make_token("d@example.org", "general", config)
    assert read_token(token, config).address == "d@example.org"
    relay = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, host="smtp.example.org"))
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET"):
        make_token("d@example.org", "general", relay)
    with pytest.raises(InvalidToken):  # a dev-key token is worthless once a real secret is set
        read_token(token, _with(config, "real-secret"))
