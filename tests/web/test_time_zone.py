"""Times follow the reader's zone (a setting, else the browser's, else Seoul), whatever the
language, and name the zone where it matters; exam dates in the past are refused."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI

from certplatform.kernel.db import Database, utcnow
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, make_user
from tests.support.exams import blueprint_id, load


async def _signed_in(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    email = await make_user(db)
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"X-CSRF-Token": login.json()["csrf_token"]}


def _zone_shown(page: str) -> str:
    found = re.search(r"\(([A-Z]{3,4}|[+-]\d\d)\)", page)
    assert found, page
    return found[1]


async def test_times_follow_the_setting_then_the_browser_then_seoul(
    app: FastAPI, client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    csrf = await _signed_in(client, db)
    started = await client.post(
        "/api/v1/attempts",
        json={"blueprint_id": await blueprint_id(db, "KR-INFO-ENGINEER")},
        headers=csrf,
    )
    attempt = started.json()["id"]
    # The clock's end is shown in the reader's zone while the exam runs.
    client.cookies.set("lang", "en")
    assert _zone_shown((await client.get(f"/exam/{attempt}")).text) == "KST"
    assert (
        await client.post(f"/api/v1/attempts/{attempt}/submit", headers=csrf)
    ).status_code == 200
    result = f"/exam/{attempt}/result"

    # English no longer means UTC: with nothing known, Seoul.
    assert _zone_shown((await client.get(result)).text) == "KST"
    client.cookies.set("tz", "America/New_York")
    assert _zone_shown((await client.get(result)).text) in {"EST", "EDT"}
    client.cookies.set("tz", "Not/AZone")  # a forged cookie is ignored
    assert _zone_shown((await client.get(result)).text) == "KST"

    saved = await client.post(
        "/settings/zone", data={"time_zone": "Europe/Berlin", "csrf_token": csrf["X-CSRF-Token"]}
    )
    assert saved.status_code == 200
    assert _zone_shown((await client.get(result)).text) in {"CET", "CEST"}
    refused = await client.post(
        "/settings/zone", data={"time_zone": "Mars/Base", "csrf_token": csrf["X-CSRF-Token"]}
    )
    assert refused.status_code == 422
    assert "Choose a time zone from the list." in refused.text
    assert _zone_shown((await client.get(result)).text) in {"CET", "CEST"}

    # Back to the device's zone.
    await client.post("/settings/zone", data={"time_zone": "", "csrf_token": csrf["X-CSRF-Token"]})
    client.cookies.set("tz", "Asia/Tokyo")
    assert _zone_shown((await client.get(result)).text) == "JST"


async def test_an_exam_date_in_the_past_is_refused_with_a_reason(
    client: httpx.AsyncClient, db: Database, storage: LocalStorage
) -> None:
    await load(db, storage, "KR-INFO-ENGINEER")
    csrf = await _signed_in(client, db)
    client.cookies.set("lang", "en")
    token = csrf["X-CSRF-Token"]
    yesterday = (utcnow() - timedelta(days=2)).date().isoformat()
    later = (utcnow() + timedelta(days=30)).date().isoformat()

    refused = await client.post(
        "/settings", data={"csrf_token": token, "exam_KR-INFO-ENGINEER": yesterday}
    )
    assert refused.status_code == 422
    assert "That exam date has passed" in refused.text
    assert (await client.get("/api/v1/learning/settings", headers=csrf)).json()["exam_dates"] == {}

    saved = await client.post(
        "/settings", data={"csrf_token": token, "exam_KR-INFO-ENGINEER": later}
    )
    assert saved.status_code == 200
    dates = (await client.get("/api/v1/learning/settings", headers=csrf)).json()["exam_dates"]
    assert dates == {"KR-INFO-ENGINEER": later}
