"""ICE servers for the room's call (ADR 0030): TURN credentials by coturn's REST scheme,
and no development TURN secret in production."""

from __future__ import annotations

import base64
import hmac

import pytest
from pydantic import ValidationError

from certplatform.community.ice import servers_for
from certplatform.kernel.settings import Settings

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "s" * 40, "AUDIT_KEY": "a" * 40}


def test_turn_credentials_are_the_hmac_of_an_expiring_username() -> None:
    settings = Settings(
        STUN_URLS="stun:turn.example.org:3478",
        TURN_URLS="turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349",
        TURN_SECRET="a-shared-secret-of-the-turn-server",
        TURN_TTL_SECONDS=600,
    )
    stun, turn = servers_for(settings, "user42", now=1_700_000_000.5)
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:5349",
    ]
    assert turn["username"] == "1700000600:user42"  # expiry (unix time) : user
    # What coturn computes with use-auth-secret: base64(HMAC-SHA1(secret, username)).
    expected = hmac.new(b"a-shared-secret-of-the-turn-server", b"1700000600:user42", "sha1")
    assert turn["credential"] == base64.b64encode(expected.digest()).decode()
    other = servers_for(settings, "user43", now=1_700_000_000)[1]
    assert other["credential"] != turn["credential"]


def test_without_urls_there_are_no_ice_servers() -> None:
    assert servers_for(Settings(), "user42") == []


def test_production_refuses_the_development_or_a_short_turn_secret() -> None:
    turn = {"TURN_URLS": "turn:turn.example.org:3478"}
    with pytest.raises(ValidationError, match="TURN_SECRET must be set"):
        Settings(**PRODUCTION, **turn)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(**PRODUCTION, **turn, TURN_SECRET="short")
    assert Settings(**PRODUCTION, **turn, TURN_SECRET="t" * 40).turn_secret == "t" * 40
    assert Settings(**PRODUCTION).turn_urls == ""  # no TURN: no secret needed


def test_a_url_that_is_not_stun_or_turn_is_refused() -> None:
    for bad in ("http://turn.example.org", "turn:host name", "javascript:alert(1)"):
        with pytest.raises(ValidationError, match="not a stun"):
            Settings(TURN_URLS=bad)
