"""The ICE servers a study room's call uses (ADR 0030): STUN, and TURN with time-limited
credentials from a secret shared with the TURN server.

coturn's REST scheme (`use-auth-secret`, `static-auth-secret`; the IETF draft "A REST API
for access to TURN services"): the username is `<expiry unix time>:<user id>` and the
credential is base64(HMAC-SHA1(secret, username)). The TURN server checks the HMAC and the
expiry itself, so no credential is stored anywhere and a leaked one expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from certplatform.kernel.settings import Settings, split_urls


def turn_credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def servers_for(
    settings: Settings, user_id: str, now: float | None = None
) -> list[dict[str, object]]:
    """`iceServers` for RTCPeerConnection: STUN as configured, and TURN with a credential
    for this user that expires after TURN_TTL_SECONDS."""
    servers: list[dict[str, object]] = []
    stun = split_urls(settings.stun_urls)
    if stun:
        servers.append({"urls": stun})
    turn = split_urls(settings.turn_urls)
    if turn:
        expiry = int(now if now is not None else time.time()) + settings.turn_ttl_seconds
        username = f"{expiry}:{user_id}"
        servers.append(
            {
                "urls": turn,
                "username": username,
                "credential": turn_credential(settings.turn_secret, username),
            }
        )
    return servers
