"""The official `kubernetes` client for the Kubernetes router and runtime: built on first use, called
off the event loop.

The client blocks, so every call runs in a worker thread. Answers are read as plain JSON
(`_preload_content=False`): turnout needs a few fields, and the generated models' strict validation
rejects objects an API server of another version (or an emulator) may return. Building the client is
deferred to the first call so `turnout check-config` works without cluster credentials.
Routers and runtimes never import each other, so this shared client lives below both; each passes
the error class it raises and the config section its hints name.

Reads (`read_*`, `list_*`, `get_*`) answered with 429 or 5xx are tried again, after the server's
Retry-After or a doubling pause: API Priority and Fairness answers overload with 429 and expects
clients to back off, and a managed control plane returns 5xx while it rolls its API servers. One
such answer must not fail a switch. urllib3 already retries a refused connection; a timeout is not
repeated (it already waited); writes are never repeated here: their callers read again and decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from turnout.config import Duration
from turnout.errors import TurnoutError

MERGE_PATCH = "application/merge-patch+json"  # RFC 7386: maps merge, lists are replaced, null deletes
NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # DNS-1123 label: Service, Deployment and namespace names
USER_AGENT = "turnout"
TRANSIENT = frozenset({429, 500, 502, 503, 504})
READ_ATTEMPTS = 4  # a read answered with a transient status is tried this often in all
BACKOFF = (0.2, 2.0)  # seconds before the next try, doubling; Retry-After is honoured up to the cap


class ClientOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kubeconfig: str | None = Field(default=None,
                                   description="default: in-cluster config, else ~/.kube/config (as kubectl does)")
    context: str | None = Field(default=None, description="the kubeconfig context; default: its current one")
    host: str | None = Field(default=None, description="API server URL without credentials (`kubectl proxy`, tests)")
    timeout: Duration = Field(default=10.0, gt=0, description="per API request")


class Kube:
    def __init__(self, opts: ClientOptions, base_dir: Path, *, error: type[TurnoutError], section: str,
                 not_found_hint: str) -> None:
        self.opts = opts
        self.error, self.section, self.not_found_hint = error, section, not_found_hint
        self.kubeconfig = str(base_dir / opts.kubeconfig) if opts.kubeconfig else None
        self._client: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        from kubernetes import client
        from kubernetes import config as kubeconfig

        config: Any = kubeconfig  # its loaders are untyped
        with self._lock:
            if self._client is None:
                conf = client.Configuration()
                if self.kubeconfig or self.opts.context:
                    config.load_kube_config(config_file=self.kubeconfig, context=self.opts.context,
                                            client_configuration=conf, persist_config=False)
                elif not self.opts.host:
                    try:
                        config.load_incluster_config(client_configuration=conf)
                    except config.ConfigException:
                        config.load_kube_config(client_configuration=conf, persist_config=False)
                if self.opts.host:
                    conf.host = self.opts.host
                self._client = client.ApiClient(conf)
                self._client.user_agent = USER_AGENT  # the API server's audit log names turnout
            return self._client

    def _call(self, api: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from kubernetes import client

        stub = getattr(client, api)(self._build())
        resp = getattr(stub, method)(*args, _preload_content=False, _request_timeout=self.opts.timeout, **kwargs)
        return json.loads(resp.data or b"{}")

    async def call(self, what: str, api: str, method: str, *args: Any, none_on: Collection[int] = (),
                   hints: Mapping[int, str] | None = None, **kwargs: Any) -> Any:
        """`client.<api>(...).<method>(*args)` as a dict; None for an HTTP status in `none_on`, else self.error
        (with the hint `hints` names for its status, if any)."""
        from kubernetes.client import ApiException
        from kubernetes.config import ConfigException
        from urllib3.exceptions import HTTPError

        attempts = READ_ATTEMPTS if method.startswith(("read_", "list_", "get_")) else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return await asyncio.to_thread(self._call, api, method, args, kwargs)
            except ApiException as exc:
                if exc.status in none_on:
                    return None
                if not last and exc.status in TRANSIENT:
                    await asyncio.sleep(_pause(attempt, exc))
                    continue
                hint = (hints or {}).get(exc.status or 0) or self._hint(exc.status)
                raise self.error(f"{what}: {api_message(exc)}", hint=hint) from None
            except ConfigException as exc:
                raise self.error(f"{what}: no cluster credentials: {exc}",
                                 hint=f"set {self.section}.options.kubeconfig / context / host") from None
            except json.JSONDecodeError as exc:  # a proxy's HTML error page, say
                raise self.error(f"{what}: the API server's answer is not JSON: {exc}") from None
            except (HTTPError, OSError) as exc:  # urllib3 has already retried the connection itself
                raise self.error(f"{what}: the Kubernetes API server did not answer: {exc}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def patch(self, what: str, api: str, method: str, *args: Any, none_on: Collection[int] = ()) -> Any:
        return await self.call(what, api, method, *args, none_on=none_on, _content_type=MERGE_PATCH)

    def _hint(self, status: int | None) -> str:
        if status == 403:
            return "the service account lacks a permission; docs/kubernetes.md lists the RBAC turnout needs"
        return self.not_found_hint if status == 404 else ""

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _pause(attempt: int, exc: Any) -> float:
    """Seconds before trying a read again: the server's Retry-After if it sent one, else a doubling backoff."""
    pause: float = BACKOFF[0] * 2 ** attempt
    headers = getattr(exc, "headers", None) or {}
    with contextlib.suppress(TypeError, ValueError):  # an HTTP-date or garbage: keep the backoff
        pause = float(headers.get("Retry-After", pause))
    return min(max(pause, 0.0), BACKOFF[1])


def api_message(exc: Any) -> str:
    """`403 Forbidden: services "shop" is forbidden: ...` from the Status object the server returned."""
    try:
        message = json.loads(exc.body).get("message", "")
    except (TypeError, ValueError, AttributeError):
        message = ""
    return f"{exc.status} {exc.reason}" + (f": {message}" if message else "")

