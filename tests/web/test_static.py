"""Files every page asks for without a link of ours: they exist."""

from __future__ import annotations

import httpx


async def test_favicon_is_served(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory

    page = await client.get("/signin")
    for href in ("/static/favicon.svg", "/favicon.ico"):
        assert f'href="{href}"' in page.text
        assert (await client.get(href)).status_code == 200
