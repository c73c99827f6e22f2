"""Real Docker engines for the tests: the one already running (DOCKER_HOST or the default socket), or a
private `dockerd` started here with its own data root, socket, pid file and bridge, stopped afterwards.

A private engine never touches the machine's firewall (--iptables=false: published ports go through
docker-proxy, which is all loopback needs) nor another engine's bridge, so two can run side by side and
beside a system engine. Missing binaries or no root FAIL the tests with the reason (they never skip):
scripts/install-servers.sh installs docker.io.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


@dataclass
class DockerEngine:
    url: str
    root: Path | None = None  # private engines only: what to stop and remove afterwards
    bridge: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    def api(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, timeout=60)


def running_engine() -> DockerEngine | None:
    """The engine this machine already runs, if one answers."""
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
        return None
    try:
        docker.APIClient(base_url=url, timeout=3).ping()
    except (docker.errors.DockerException, OSError, Exception):  # any failure: none runs
        return None
    return DockerEngine(url)


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24")
        if f"inet {net.network_address + 1}/" not in used:
            return net
    raise AssertionError("no free 10.x subnet for a test bridge")


def start_dockerd(name: str) -> DockerEngine:
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not Path(dockerd).exists():
        pytest.fail("dockerd not found: install docker.io (scripts/install-servers.sh does)")
    if os.geteuid() != 0:
        pytest.fail("no Docker engine answers (DOCKER_HOST or /var/run/docker.sock) and starting one needs root")
    root = Path(tempfile.mkdtemp(prefix=f"tnt-{name}-", dir="/tmp"))  # short: containerd's sockets live under it
    bridge = f"tnt{os.getpid() % 100000}{name}"[:15]
    net = _free_subnet()
    for cmd in (["ip", "link", "add", bridge, "type", "bridge"],
                ["ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", bridge],
                ["ip", "link", "set", bridge, "up"]):
        subprocess.run(cmd, check=True, capture_output=True)
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [dockerd, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile",
         str(root / "docker.pid"), "-H", f"unix://{root}/docker.sock", "--bridge", bridge, "--iptables=false",
         "--ip-masq=false", "--log-level", "warn"], stdout=log, stderr=log, start_new_session=True)
    engine = DockerEngine(f"unix://{root}/docker.sock", root, bridge, proc)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(Exception):
            if (root / "docker.sock").exists() and docker.APIClient(base_url=engine.url, timeout=2).ping():
                return engine
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
            stop_dockerd(engine)
            pytest.fail(f"dockerd ({name}) did not come up: exit {proc.poll()}; its log:\n{tail}")
        time.sleep(0.1)


def stop_dockerd(engine: DockerEngine) -> None:
    """Remove every container (their shims would outlive the daemon), stop the daemon, remove its bridge
    and its folder: nothing of it is left."""
    if engine.proc is None or engine.root is None:
        return
    if engine.proc.poll() is None:
        with contextlib.suppress(Exception):
            api = docker.APIClient(base_url=engine.url, timeout=30)
            for c in api.containers(all=True):
                api.remove_container(c["Id"], force=True, v=True)
        engine.proc.send_signal(signal.SIGTERM)
        try:
            engine.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(engine.proc.pid, signal.SIGKILL)
            engine.proc.wait(5)
    if engine.bridge:
        subprocess.run(["ip", "link", "del", engine.bridge], check=False, capture_output=True)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(str(engine.root))]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(engine.root, ignore_errors=True)
