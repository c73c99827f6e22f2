"""One Docker engine, spoken to through the Engine API with the docker SDK.

The SDK is synchronous: every call runs in the runtime's thread pool, so the agent's event loop never
waits on a socket. Every failure becomes a RuntimeFailure that names the host; an engine that cannot
be reached at all is `Unreachable` (still a RuntimeFailure), which status() tells apart.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.tls
import requests

from turnout.errors import RuntimeFailure
from turnout.runtimes.docker.options import DockerHost
from turnout.runtimes.docker.spec import COLOR, INSTANCE, VERSION, ContainerSpec

T = TypeVar("T")
POOL_SIZE = 16  # calls in flight per engine, each on a connection of its own
SSH_POOL_SIZE = 4  # over ssh, each connection is a session: sshd allows 10 per login (MaxSessions)
API_VERSION = "1.41"  # Docker 20.10 and later; fixed, so making a client asks the engine nothing


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a call raises when the engine cannot be reached: the SDK's, requests', the OS's, and
    paramiko's for ssh:// (when installed)."""
    errors: list[type[BaseException]] = [docker.errors.DockerException, requests.exceptions.RequestException,
                                         OSError]
    try:
        from paramiko import SSHException

        errors.append(SSHException)
    except ImportError:
        pass
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()


class Unreachable(RuntimeFailure):
    """The engine did not answer at all (down, refused, timed out): nothing is known of what runs there."""


class PortBusy(RuntimeFailure):
    """The host port asked for is taken on that host: try another."""


@dataclass(frozen=True)
class Container:
    """One of turnout's containers as its engine describes it (`docker inspect`)."""

    id: str
    name: str
    engine: int  # its engine's position in runtime.options.hosts
    color: str
    index: int
    version: str
    created: float  # seconds since the epoch
    started_at: str
    status: str  # created, running, restarting, exited, dead, paused
    exit_code: int
    restarts: int
    health: str | None  # the image's HEALTHCHECK: starting, healthy, unhealthy; None without one
    health_log: str
    host_port: int | None

    @property
    def running(self) -> bool:
        return self.status == "running"

    @classmethod
    def parse(cls, data: dict[str, Any], engine: int, port: int) -> Container:
        state, labels = data.get("State") or {}, (data.get("Config") or {}).get("Labels") or {}
        bindings = ((data.get("HostConfig") or {}).get("PortBindings") or {}).get(f"{port}/tcp") or [{}]
        host_port = bindings[0].get("HostPort") or None
        health = state.get("Health") or {}
        log = health.get("Log") or [{}]
        index = labels.get(INSTANCE, "")
        return cls(
            id=data["Id"], name=data.get("Name", "").lstrip("/"), engine=engine, color=labels.get(COLOR, ""),
            index=int(index) if index.isdigit() else -1, version=labels.get(VERSION, ""),
            created=timestamp(data.get("Created", "")), started_at=state.get("StartedAt", ""),
            status=state.get("Status", ""),
            exit_code=int(state.get("ExitCode") or 0), restarts=int(data.get("RestartCount") or 0),
            health=health.get("Status"), health_log=str(log[-1].get("Output", "")).strip()[-300:],
            host_port=int(host_port) if host_port else None)


class Engine:
    def __init__(self, host: DockerHost, position: int, *, timeout: float, pool: Callable[[], ThreadPoolExecutor],
                 base_dir: Path) -> None:
        self.host, self.position, self.timeout, self._pool = host, position, timeout, pool
        self.tls_dir = (base_dir / host.tls).resolve() if host.tls else None
        self._api: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._size = SSH_POOL_SIZE if host.url.startswith("ssh://") else POOL_SIZE
        self._slots = threading.BoundedSemaphore(self._size)  # never more calls than pooled connections

    @property
    def name(self) -> str:
        return self.host.name

    async def call(self, what: str, fn: Callable[[docker.APIClient], T]) -> T:
        """`fn(api)` in a thread; its failure as a RuntimeFailure saying what was done on which host."""
        return await asyncio.get_running_loop().run_in_executor(self._pool(), self._run, what, fn)

    def _run(self, what: str, fn: Callable[[docker.APIClient], T]) -> T:
        try:
            with self._slots:
                return fn(self.api())
        except docker.errors.APIError as exc:
            text = exc.explanation or str(exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise PortBusy(f"{self.name}: {what}: {text}") from None
            raise RuntimeFailure(f"{self.name}: {what}: {text}") from None
        except TRANSPORT_ERRORS as exc:
            if "paramiko" in str(exc):  # the SDK's ssh:// transport imports it, even to run the ssh program
                raise RuntimeFailure(f"{self.name}: ssh:// hosts need paramiko",
                                     hint="pip install 'turnout[docker]' (it brings docker[ssh])") from None
            with self._lock:
                self._api = None  # a new client next time: the engine may be back, on another connection
            raise Unreachable(f"docker host {self.name} is unreachable ({what}): {_reason(exc)}",
                              hint="check that dockerd runs there and that this machine reaches it "
                                   "(runtime.options.hosts)") from None

    def api(self) -> docker.APIClient:
        """The SDK client, made on first use."""
        with self._lock:
            if self._api is None:
                self._api = docker.APIClient(base_url=self.host.url, version=API_VERSION,
                                             timeout=int(max(self.timeout, 1)),
                                             max_pool_size=self._size, use_ssh_client=self.host.ssh_client,
                                             tls=self._tls() or False)
                # Not from the environment: REQUESTS_CA_BUNDLE would replace the tls folder's ca.pem
                # (requests lets it win over the session's CA), and a web proxy has no business here.
                self._api.trust_env = False
            return self._api

    def _tls(self) -> docker.tls.TLSConfig | None:
        if self.tls_dir is None:
            return None
        files = {name: self.tls_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise RuntimeFailure(f"{self.name}: TLS files missing: {', '.join(missing)}",
                                 hint="runtime.options.hosts: tls names a folder with ca.pem, cert.pem and key.pem")
        return docker.tls.TLSConfig(client_cert=(str(files["cert"]), str(files["key"])), ca_cert=str(files["ca"]),
                                    verify=True)

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    # -- containers ----------------------------------------------------------------------------
    async def containers(self, labels: list[str], port: int) -> list[Container]:
        def read(api: docker.APIClient) -> list[Container]:
            found = []
            for summary in api.containers(all=True, filters={"label": labels}):
                try:
                    found.append(Container.parse(api.inspect_container(summary["Id"]), self.position, port))
                except docker.errors.NotFound:
                    continue  # removed between the list and the inspect
            return found

        return await self.call(f"list containers {' '.join(labels)}", read)

    async def inspect(self, container_id: str, port: int) -> Container | None:
        def read(api: docker.APIClient) -> Container | None:
            try:
                return Container.parse(api.inspect_container(container_id), self.position, port)
            except docker.errors.NotFound:
                return None

        return await self.call(f"inspect container {container_id[:12]}", read)

    async def run(self, spec: ContainerSpec, host_port: int) -> str:
        """Create and start the container with its port published on `host_port`; its id. PortBusy if
        that port is taken there (the container is removed again)."""

        def create(api: docker.APIClient) -> str:
            host_config = api.create_host_config(
                port_bindings={spec.port: (spec.publish, host_port)}, binds=spec.binds or None,
                restart_policy={"Name": spec.restart} if spec.restart != "no" else None, init=spec.init or None,
                network_mode=spec.network)
            made = api.create_container(spec.image, command=spec.command, name=spec.name, labels=spec.labels,
                                        environment=spec.env, ports=[spec.port], host_config=host_config,
                                        detach=True)
            try:
                api.start(made["Id"])
            except docker.errors.APIError:
                api.remove_container(made["Id"], v=True, force=True)
                raise
            return str(made["Id"])

        return await self.call(f"start {spec.name} ({spec.image}, port {spec.publish}:{host_port})", create)

    async def remove(self, container: Container, grace: float) -> None:
        """Stop it (the image's stop signal, then SIGKILL after `grace` seconds) and remove it with its
        anonymous volumes. Gone already is fine."""

        def stop(api: docker.APIClient) -> None:
            try:
                if container.running or container.status == "restarting":
                    api.stop(container.id, timeout=max(int(grace + 0.999), 0))  # the API takes whole seconds
                api.remove_container(container.id, v=True, force=True)
            except docker.errors.NotFound:
                pass

        await self.call(f"remove {container.name}", stop)

    async def logs(self, container_id: str, tail: int) -> bytes:
        return await self.call(f"logs of {container_id[:12]}",
                               lambda api: bytes(api.logs(container_id, stdout=True, stderr=True, tail=tail)))

    async def used_images(self) -> set[str]:
        """The image ids of every container on this host, running or not, turnout's or not."""
        return await self.call("list containers", lambda api: {c["ImageID"] for c in api.containers(all=True)})


def timestamp(text: str) -> float:
    """Seconds since the epoch of the engine's RFC 3339 times (nanoseconds, trailing zeros trimmed, so
    they do not sort as text); 0 when there is none."""
    head, dot, rest = text.rstrip("Z").partition(".")
    try:
        seconds = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    digits = "".join(ch for ch in rest if ch.isdigit())
    return seconds + (float(f"0.{digits}") if dot and digits else 0.0)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "No such file or directory", "timed out", "Name or service not known",
                   "Connection reset", "Connection aborted", "Permission denied"):
        if marker in text:
            return marker
    return f"{type(exc).__name__}: {text}"[:300]

