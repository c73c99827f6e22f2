"""What one container is made of, from the config: image, name, labels, environment, ports and mounts.

Secrets and env files are read here, at each start (so a rotated secret reaches the next release), and
go only into the container's environment: nothing in this module logs or formats their values.
"""

from __future__ import annotations

import os
import secrets as _random
from dataclasses import dataclass, field
from pathlib import Path

from turnout.config import RuntimeConfig, templates
from turnout.errors import RuntimeFailure
from turnout.model import Color
from turnout.runtimes.docker.options import DockerRuntimeOptions, tag_of

APP, COLOR, VERSION, INSTANCE = "turnout.app", "turnout.color", "turnout.version", "turnout.instance"


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    name: str
    labels: dict[str, str]
    env: dict[str, str] = field(repr=False)  # may hold secrets: never in a repr, a log line or an error
    command: list[str] | None
    port: int  # inside the container
    publish: str  # host IP the port is published on
    binds: list[str]
    restart: str
    init: bool
    network: str | None


def image_ref(options: DockerRuntimeOptions, version: str) -> str:
    try:
        return f"{options.image}:{tag_of(version)}"
    except ValueError as exc:
        raise RuntimeFailure(str(exc), hint="use versions that are valid image tags") from None


def selector(app: str, color: Color | None = None) -> list[str]:
    """The label filter of this app's containers (of one color): all turnout ever lists or removes."""
    return [f"{APP}={app}", *([f"{COLOR}={color.value}"] if color else [])]


class SpecBuilder:
    def __init__(self, app: str, section: RuntimeConfig, options: DockerRuntimeOptions, base_dir: Path) -> None:
        self.app, self.section, self.options, self.base_dir = app, section, options, base_dir

    def build(self, color: Color, version: str, index: int, publish: str) -> ContainerSpec:
        opts, port = self.options, self.options.port
        values = {"version": version, "color": color.value, "port": str(port), "instance": str(index)}
        env = {**self._env_files(), **{k: templates.fill(v, values) for k, v in self.section.env.items()},
               **self._secrets(), "PORT": str(port), "TURNOUT_VERSION": version, "TURNOUT_COLOR": color.value,
               "TURNOUT_INSTANCE": str(index)}
        labels = {**opts.labels, APP: self.app, COLOR: color.value, VERSION: version, INSTANCE: str(index)}
        command = [templates.fill(part, values) for part in self.section.command] or None
        restart = opts.restart or ("unless-stopped" if self.section.restart else "no")
        name = f"{self.app}-{color.value}-{index}-{_random.token_hex(3)}"  # unique: a leftover never blocks a start
        return ContainerSpec(image_ref(opts, version), name, labels, env, command, port, publish,
                             [self._bind(v) for v in opts.volumes], restart, opts.init, opts.network)

    def _path(self, text: str) -> Path:
        return (self.base_dir / os.path.expanduser(text)).resolve()

    def _bind(self, volume: str) -> str:
        source, _, rest = volume.partition(":")
        if source.startswith((".", "~")):  # a relative path: relative to turnout.toml, like every path in it
            source = str(self._path(source))
        return f"{source}:{rest}"

    def _env_files(self) -> dict[str, str]:
        """docker --env-file semantics: KEY=VALUE taken literally, a bare KEY from turnout's own
        environment (skipped when unset), # comments and blank lines ignored."""
        env: dict[str, str] = {}
        for i, name in enumerate(self.options.env_files):
            text = self._read(name, f"env_files[{i}]")
            for number, raw in enumerate(text.splitlines(), 1):
                line = raw.lstrip()
                if not line or line.startswith("#"):
                    continue
                key, sep, value = line.partition("=")
                if not key or any(c.isspace() for c in key):
                    raise RuntimeFailure(f"runtime.options.env_files[{i}]: {self._path(name)} line {number} is not "
                                         "KEY=VALUE")  # the line itself is not quoted: it may hold a secret
                if sep:
                    env[key] = value
                elif key in os.environ:
                    env[key] = os.environ[key]
        return env

    def _secrets(self) -> dict[str, str]:
        return {key: self._read(path, f"secrets.{key}").rstrip("\r\n") for key, path in self.options.secrets.items()}

    def _read(self, name: str, key: str) -> str:
        path = self._path(name)
        try:
            return path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise RuntimeFailure(f"runtime.options.{key}: cannot read {path}: {why}",
                                 hint="the file is read at each start, on the machine running turnout") from None
