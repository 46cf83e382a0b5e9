"""Time zones a person may choose: the IANA names this Python knows (tzdata)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DEFAULT_ZONE = "Asia/Seoul"  # most candidates sit Korean exams; the browser's zone wins when known
MAX_ZONE_LENGTH = 64


@cache
def zone_names() -> tuple[str, ...]:
    # "localtime", "Factory" and the like are not places a person lives in.
    return tuple(sorted(n for n in available_timezones() if "/" in n or n == "UTC"))


def known_zone(name: str | None) -> str | None:
    """The name when it is a zone a person may choose, else None (never raises)."""
    if not name or len(name) > MAX_ZONE_LENGTH:
        return None
    return name if name in _names_set() else None


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(known_zone(name) or DEFAULT_ZONE)


@cache
def _names_set() -> frozenset[str]:
    return frozenset(zone_names())
