"""HTTP helpers the checks and the watch share: URL joining, instance URLs, JSON fetches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from turnout.model import Endpoint


def join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def instance_urls(url: str, endpoints: Sequence[Endpoint]) -> list[str]:
    """Each instance of the measured color when known, else the (test) endpoint `url` in front of them."""
    return [e.url for e in endpoints] or [url]


class Unreachable(Exception):
    """No usable answer: no connection (status None), or an answer without JSON (its status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


async def get_json(client: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    """(status, parsed JSON); raises Unreachable when there is no answer or no JSON in it."""
    try:
        resp = await client.get(url)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url} unreachable: {exc or type(exc).__name__}") from None
    try:
        return resp.status_code, resp.json()
    except ValueError:
        raise Unreachable(f"{url} answered HTTP {resp.status_code} without a JSON body", resp.status_code) from None
