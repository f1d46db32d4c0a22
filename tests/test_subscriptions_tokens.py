"""The sealed tokens of the subscription pages: forged, expired, bit-flipped or of another purpose → refused."""

# ruff: noqa: F811  (pytest fixtures imported from smtp_sink)
from __future__ import annotations

import base64
import random
import secrets
import time

import httpx
import pytest
from smtp_sink import smtp_sink  # noqa: F401  (fixture)
from sqlalchemy import func, select
from subscription_rig import subscription_service

from newsletter.config import load_config
from newsletter.mail import tokens
from newsletter.store.db import engine_for
from newsletter.store.tables import consents, preferences, suppressions

SECRET = "subscription-token-secret-0123456789"
WEEK = tokens.CONFIRM_DAYS * 86400


@pytest.fixture
def config(project):  # noqa: ANN001, ANN201
    return load_config(project, {"NEWSLETTER_SECRET": SECRET, "NEWSLETTER_DATABASE": "sqlite://"})


def accepted(token: str, purpose: str, config, max_age: float | None = WEEK) -> bool:  # noqa: ANN001
    try:
        tokens.unseal(purpose, token, config, max_age=max_age)
    except tokens.InvalidToken:
        return False
    return True


def flip(token: str, rng: random.Random) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    i = rng.randrange(len(raw))
    raw[i] ^= 1 << rng.randrange(8)
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_ten_thousand_forged_expired_or_bit_flipped_tokens_are_refused(config):
    rng = random.Random(14)
    good = {p: tokens.seal(p, ["anna@example.org", "x"], config) for p in tokens.PURPOSES}
    old = tokens.seal("confirm", ["anna@example.org"], config, at=int(time.time()) - WEEK - 60)
    other_key = load_config(config.root, {"NEWSLETTER_SECRET": "another-installation-key-0123456789"})
    tries = 0
    taken = 0
    for i in range(10_000):
        purpose = tokens.PURPOSES[i % 3]
        kind = i % 4
        if kind == 0:
            token = flip(good[purpose], rng)
        elif kind == 1:
            token = base64.urlsafe_b64encode(secrets.token_bytes(rng.randrange(60, 300))).decode().rstrip("=")
        elif kind == 2:
            token = tokens.seal(purpose, ["anna@example.org"], other_key)
        else:
            token = (
                old if purpose == "confirm" else good[tokens.PURPOSES[(i + 1) % 3]]
            )  # expired / another kind
        tries += 1
        taken += accepted(token, purpose, config)
    assert tries == 10_000 and taken == 0
    assert all(accepted(t, p, config) for p, t in good.items())  # the genuine ones still work


def test_an_unsubscribe_token_is_never_a_confirmation_or_preference_token_and_back(config):
    unsubscribe = tokens.make_token("anna@example.org", "poland", config)
    assert not accepted(unsubscribe, "confirm", config) and not accepted(unsubscribe, "preferences", config)
    confirm = tokens.seal("confirm", ["anna@example.org"], config)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(confirm, config, dev_key=False)


def test_a_confirmation_link_expires_after_seven_days(config):
    fresh = tokens.seal("confirm", ["a@example.org"], config, at=int(time.time()) - WEEK + 120)
    stale = tokens.seal("confirm", ["a@example.org"], config, at=int(time.time()) - WEEK - 120)
    assert accepted(fresh, "confirm", config) and not accepted(stale, "confirm", config)


def test_bad_tokens_over_http_change_nothing(project, project_env, smtp_sink):
    rng = random.Random(7)
    with subscription_service(project, project_env, smtp_sink) as svc, httpx.Client() as client:
        good = tokens.seal("preferences", ["m0@example.org"], svc.config)
        codes = set()
        for i in range(300):
            token = flip(good, rng) if i % 2 else secrets.token_urlsafe(rng.randrange(40, 200))
            path = ("confirm", "p")[i % 2]
            codes.add(
                client.post(
                    f"{svc.url}/{path}/{token}", data={"confirm": "yes", "language": "en"}
                ).status_code
            )
            codes.add(client.get(f"{svc.url}/{path}/{token}").status_code)
        with engine_for(svc.config.database_url).connect() as conn:
            stored = [conn.execute(select(func.count()).select_from(t)).scalar_one()
                      for t in (consents, preferences, suppressions)]  # fmt: skip
    assert codes == {400} and stored == [0, 0, 0]
