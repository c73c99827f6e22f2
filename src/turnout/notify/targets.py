"""A notification target as the dispatcher uses it: URL and secret resolved, events filter ready.

Built from one [[notify]] entry (or one of the older `webhooks = [...]` URLs, a json target with
the defaults). A `url` or `secret` written as `${NAME}` is read from the environment here, once; a
variable that is not set is a config error with the entry's key, not a delivery failing later.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from turnout.config.schema import NotifyConfig
from turnout.errors import ConfigError
from turnout.notify import formats

ENV_VALUE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Target:
    url: str
    format: str = "json"
    name: str = ""
    template: str | None = None
    content_type: str = formats.JSON
    secret: bytes | None = None
    events: tuple[str, ...] = ("*",)
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    queue: int = 100

    def wants(self, event: str) -> bool:
        """Whether `event` (action:outcome) passes the filter; a bare action matches every outcome."""
        return any(fnmatch.fnmatchcase(event, p if ":" in p or p == "*" else f"{p}:*") for p in self.events)

    def render(self, payload: formats.Event) -> tuple[bytes, str]:
        if self.format == "template":
            return formats.template(payload, self.template or "", self.content_type)
        return formats.BUILDERS[self.format](payload)

    @property
    def where(self) -> str:
        """The URL without its path and query: Slack, Discord and Teams put the credential there."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_config(cls, entry: NotifyConfig, base_dir: Path) -> Target:
        url = _expand(entry.url, "url")
        secret = None
        if entry.secret is not None:
            secret = _expand(entry.secret, "secret").encode()
        elif entry.secret_file is not None:
            path = base_dir / entry.secret_file
            try:
                secret = path.read_text(encoding="utf-8").strip().encode()
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", key=("secret_file",)) from None
            if not secret:
                raise ConfigError(f"{path} is empty", key=("secret_file",))
        default = ("*",) if entry.format in ("json", "template") else formats.HEADLINES
        return cls(url=url, format=entry.format, name=entry.name or f"{entry.format}@{urlsplit(url).hostname}",
                   template=entry.template, content_type=entry.content_type, secret=secret,
                   events=tuple(entry.events) if entry.events is not None else default, timeout=entry.timeout,
                   retries=entry.retries, backoff=entry.backoff, max_backoff=entry.max_backoff, queue=entry.queue)


def _expand(value: str, key: str) -> str:
    """`${NAME}` (or `$NAME`) as the whole value reads the environment; anything else is literal, so a
    secret may contain a `$`."""
    m = ENV_VALUE.fullmatch(value)
    if m is None:
        return value
    name = m.group(1) or m.group(2)
    found = os.environ.get(name)
    if not found:
        raise ConfigError(f"the environment variable {name} is not set", key=(key,),
                          hint="export it where the agent starts")
    if key == "url" and not found.startswith(("http://", "https://")):
        raise ConfigError(f"{name} holds no http(s) URL", key=(key,))
    return found
