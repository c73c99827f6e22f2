"""What the measuring checks share: option validation with key paths, URLs, JSON fetches."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from turnout.config import CheckConfig, Config, parse_options
from turnout.errors import ConfigError
from turnout.protocols import Target

M = TypeVar("M", bound=BaseModel)


class Options(BaseModel):
    """A check's own keys beside `kind`/`name`/`path`/`timeout` in its [[checks]] entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def where(cc: CheckConfig, cfg: Config) -> str:
    """`checks[2]`: the entry's place in turnout.toml, for error messages."""
    for i, entry in enumerate(cfg.checks):
        if entry is cc or entry == cc:
            return f"checks[{i}]"
    return f"checks.{cc.label}"


def options(model: type[M], cc: CheckConfig, cfg: Config, defaults: dict[str, Any] | None = None) -> M:
    """The entry's own keys validated by `model`; `defaults` fill in what the entry leaves out."""
    try:
        return parse_options(model, {**(defaults or {}), **(cc.model_extra or {})}, where(cc, cfg))
    except ConfigError as exc:
        raise ConfigError(str(exc), hint=f"see the {cc.kind!r} check's options in the docs") from None


def check_timeout(cc: CheckConfig, cfg: Config, needs: float) -> float:
    """The time the runner may give this check: its own `timeout` if set (and long enough), else
    the default stretched to fit a check that runs for `needs` seconds by design."""
    if "timeout" in cc.model_fields_set:
        if cc.timeout < needs:
            raise ConfigError(f"{where(cc, cfg)}.timeout: {cc.timeout:g}s is shorter than the check's "
                              f"own run of {needs:g}s")
        return cc.timeout
    return max(cc.timeout, needs * 1.2 + 10)


def join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def instance_urls(target: Target) -> list[str]:
    """Each instance of the measured color when known, else the (test) endpoint in front of them."""
    return [e.url for e in target.endpoints] or [target.url]


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
