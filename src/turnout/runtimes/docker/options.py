"""`[runtime.options]` of the Docker runtime, and the engines of `hosts`. Pure: nothing here talks to Docker."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from turnout.config import Duration
from turnout.errors import ConfigError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A repository as `docker tag` takes it: [registry[:port]/]path, lowercase path components, no tag or digest.
_PART = r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^(?:[A-Za-z0-9.-]+(?::\d+)?/)?{_PART}(?:/{_PART})*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class DockerHost(BaseModel):
    """One Docker engine that runs some of each color's containers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(description="the engine's API: unix:///path, tcp://host:port or ssh://user@host[:port]")
    publish: str = Field(default="127.0.0.1",
                         description="the IP address on that host the containers' ports are published on")
    address: str | None = Field(default=None,
                                description="where the router reaches that host's containers; default: `publish`, "
                                            "or the URL's host when `publish` is 0.0.0.0 or ::")
    ssh_client: bool = Field(default=True, description="ssh:// hosts: use the `ssh` program (~/.ssh/config, agent, "
                                                       "known_hosts); false: paramiko")
    tls: str | None = Field(default=None, description="tcp:// hosts: a folder with ca.pem, cert.pem and key.pem (as "
                                                      "DOCKER_CERT_PATH; relative to turnout.toml): TLS, the engine's "
                                                      "certificate checked against ca.pem, this client's shown")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme == "unix":
            if not parts.path.startswith("/"):
                raise ValueError(f"expected unix:///absolute/path, got {v!r}")
        elif parts.scheme in ("tcp", "ssh"):
            if not parts.hostname:
                raise ValueError(f"expected {parts.scheme}://host..., got {v!r}")
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        else:
            raise ValueError(f"expected a unix://, tcp:// or ssh:// URL, got {v!r}")
        return v

    @model_validator(mode="after")
    def _tls_over_tcp(self) -> DockerHost:
        if self.tls is not None and not self.url.startswith("tcp://"):
            raise ValueError(f"tls is for tcp:// hosts, not {self.url}")
        return self

    @field_validator("publish")
    @classmethod
    def _publish(cls, v: str) -> str:
        ipaddress.ip_address(v)  # ValueError names the value
        return v

    @property
    def name(self) -> str:
        """How errors and logs name this host: its URL."""
        return self.url

    @property
    def remote(self) -> bool:
        """Whether the engine runs on another machine than turnout's (a router here cannot reach its loopback)."""
        host = urlsplit(self.url).hostname
        if host is None:  # unix socket: this machine
            return False
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True

    @property
    def router_address(self) -> str:
        """The host part of the endpoints the router gets for containers on this engine."""
        if self.address:
            return self.address
        if not ipaddress.ip_address(self.publish).is_unspecified:
            return self.publish
        return urlsplit(self.url).hostname or "127.0.0.1"


def _as_host(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


class DockerRuntimeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    image: str = Field(description="the app's repository, [registry/]name without a tag: instances run "
                                   "`{image}:{version}` (a + in the version becomes _ in the tag)")
    hosts: list[Annotated[DockerHost, BeforeValidator(_as_host)]] = Field(
        default_factory=list,
        description="the engines a color's containers are spread over (instance i on host i mod n): URLs, or "
                    "tables {url, publish, address, ssh_client, tls}; default: $DOCKER_HOST, else " + DEFAULT_SOCKET)
    port: int = Field(default=8000, ge=1, le=65535,
                      description="the port the app listens on inside its container (PORT and {port})")
    host_ports: str = Field(default="20000-29999",
                            description="the range the published ports are picked from on each host (a busy "
                                        "one is skipped); fixed per container, so a restart keeps its port")
    pull: Literal["always", "missing", "never"] = Field(
        default="missing", description="pull the image before starting: always, when the host lacks it, or never; "
                                       "registry credentials come from the Docker config ($DOCKER_CONFIG or "
                                       "~/.docker/config.json) of the user running turnout")
    keep_images: int = Field(default=3, ge=1, description="after a deploy, keep this many newest images of the app "
                                                          "on each host and remove older ones (never one in use)")
    env_files: list[str] = Field(default_factory=list,
                                 description="files of KEY=VALUE lines (docker --env-file format), read at each "
                                             "start, relative to turnout.toml; never logged")
    secrets: dict[str, str] = Field(default_factory=dict,
                                    description="environment variable = file holding its value, read at each start "
                                                "(relative to turnout.toml); never logged nor audited")
    volumes: list[str] = Field(default_factory=list,
                               description="\"source:target[:ro]\" as docker -v takes it: a named volume or a path "
                                           "on the engine's host (./relative to turnout.toml)")
    labels: dict[str, str] = Field(default_factory=dict,
                                   description="extra container labels (turnout.* are set by turnout)")
    restart: Literal["no", "on-failure", "always", "unless-stopped"] | None = Field(
        default=None, description="the engine's restart policy; default from runtime.restart: unless-stopped or no")
    init: bool = Field(default=False, description="run an init as PID 1 (docker --init): forwards signals, reaps")
    network: str | None = Field(default=None, description="a Docker network to attach the containers to (it must "
                                                          "exist on every host); default: the bridge")
    api_timeout: Duration = Field(default=60.0, description="per Docker API call (a pull may take longer)")

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not REPOSITORY.match(v):
            raise ValueError(f"expected a repository such as registry.example.com/shop, without :tag, got {v!r}")
        return v

    @field_validator("host_ports")
    @classmethod
    def _host_ports(cls, v: str) -> str:
        m = re.fullmatch(r"(\d+)-(\d+)", v.strip())
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= 65535:
            raise ValueError(f"expected a port range such as 20000-29999, got {v!r}")
        return v

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return v

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, v: list[str]) -> list[str]:
        for spec in v:
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not all(parts[:2]) or not parts[1].startswith("/") or \
                    (len(parts) == 3 and parts[2] not in ("ro", "rw")):
                raise ValueError(f"expected source:/target or source:/target:ro, got {spec!r}")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key.startswith("turnout."):
                raise ValueError(f"{key!r}: labels turnout.* are turnout's own")
        return v

    def engines(self) -> list[DockerHost]:
        """The engines: `hosts`, or the environment's engine when none is listed. ConfigError for a list
        that names an engine twice, or a remote engine whose containers would publish on its loopback."""
        if not self.hosts:
            return [DockerHost(url=os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)]
        seen: set[str] = set()
        for i, host in enumerate(self.hosts):
            if host.url in seen:
                raise ConfigError(f"{host.url} is listed twice", key=("runtime", "options", "hosts", i))
            seen.add(host.url)
            if host.remote and "publish" not in host.model_fields_set:
                raise ConfigError(f"containers on {host.url} would publish their ports on its loopback "
                                  "(127.0.0.1), which a router on this machine cannot reach",
                                  key=("runtime", "options", "hosts", i, "publish"),
                                  hint="set publish to an address of that host the router reaches (or "
                                       "publish = \"0.0.0.0\" and address = its name)")
        return list(self.hosts)

    def port_range(self) -> range:
        low, high = (int(p) for p in self.host_ports.strip().split("-"))
        return range(low, high + 1)


def tag_of(version: str) -> str:
    """The image tag of a release: the version, with semver's `+` (not allowed in tags) as `_`."""
    tag = version.replace("+", "_")
    if not TAG.match(tag):
        raise ValueError(f"version {version!r} cannot be an image tag (letters, digits, _ . - and +, up to 128)")
    return tag
