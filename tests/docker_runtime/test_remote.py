"""An ssh:// host: a real sshd on loopback, reached with the `ssh` program or paramiko, each with a config
of this test's own (key, known_hosts), and `docker system dial-stdio` on the far side, as turnout would
reach a remote engine."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_runtime.conftest import MakeRuntime
from tests.docker_runtime.engines import DockerEngine
from turnout.errors import RuntimeFailure
from turnout.infra.procs import free_port
from turnout.model import Color, EnvStatus, Release


@pytest.fixture
def ssh_host(tmp_path: Path, docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ssh://root@127.0.0.1:PORT, whose `docker` talks to the session's engine (sshd sets DOCKER_HOST).
    The `ssh` program reads this test's config through a wrapper first on PATH (the SDK runs plain
    `ssh`); paramiko reads ~/.ssh of a HOME of this test's own. MaxSessions 30, as docs/docker.md asks
    for paramiko: the SDK leaves sessions open on its one login (docker/compose#6463)."""
    sshd = Path("/usr/sbin/sshd")
    if not sshd.exists():
        pytest.fail("sshd not found: apt-get install openssh-server (scripts/install-servers.sh does)")
    if os.geteuid() != 0:
        pytest.fail("the ssh test logs in as root: run it as root")
    port = free_port()
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / key)], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    host_key = (tmp_path / "host.pub").read_text().split()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (tmp_path / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp_path / 'host'}
PidFile {tmp_path / 'sshd.pid'}
AuthorizedKeysFile {tmp_path / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv DOCKER_HOST={docker_engine.url}
MaxSessions 30
""")
    (tmp_path / "ssh_config").write_text(f"""Host 127.0.0.1
  IdentityFile {tmp_path / 'client'}
  IdentitiesOnly yes
  UserKnownHostsFile {tmp_path / 'known_hosts'}
  StrictHostKeyChecking yes
  BatchMode yes
""")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {tmp_path / 'client'}\n")
    (home / ".ssh" / "known_hosts").write_text((tmp_path / "known_hosts").read_text())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(f"#!/bin/sh\nexec /usr/bin/ssh -F {tmp_path / 'ssh_config'} \"$@\"\n")
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    with (tmp_path / "sshd.log").open("wb") as log:
        proc = subprocess.Popen([str(sshd), "-D", "-e", "-f", str(tmp_path / "sshd_config")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["ssh", "-p", str(port), "root@127.0.0.1", "true"], capture_output=True,
                             check=False).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "sshd.log").read_text()
            time.sleep(0.1)
        yield f"ssh://root@127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("ssh_client", [True, False], ids=["ssh-program", "paramiko"])
async def test_an_engine_over_ssh(docker_runtime: MakeRuntime, docker_engine: DockerEngine, ssh_host: str,
                                  tmp_path: Path, ssh_client: bool) -> None:
    rt = docker_runtime(hosts=[{"url": ssh_host, "ssh_client": ssh_client}])
    endpoints = await rt.start(Release("1.0"), Color.BLUE)
    status = await rt.status(Color.BLUE)
    assert status.healthy == 2 and status.endpoints == tuple(endpoints)
    api = docker_engine.api()  # the same containers, seen from the engine's own socket
    assert len(api.containers(filters={"label": [f"turnout.app={rt.app}", "turnout.color=blue"]})) == 2
    await rt.stop(Color.BLUE, drain=0)
    assert await rt.status(Color.BLUE) == EnvStatus(Color.BLUE, None)
    # a host key that does not match: refused, and the error names the host
    for known in (tmp_path / "known_hosts", tmp_path / "home" / ".ssh" / "known_hosts"):
        known.write_text(known.read_text().replace("[127.0.0.1]", "[nowhere]"))
    rt = docker_runtime(hosts=[{"url": ssh_host, "ssh_client": ssh_client}])
    with pytest.raises(RuntimeFailure, match=f"docker host {ssh_host} is unreachable"):
        await rt.start(Release("1.0"), Color.BLUE)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def certificate(folder: Path, ca: Path, name: str, cn: str, extensions: str) -> None:
    """`name`-key.pem and `name`-cert.pem signed by the CA in `ca` (EC keys: quick to make)."""
    (folder / f"{name}.ext").write_text(extensions)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=folder)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca-key.pem"),
            "-CAcreateserial", "-out", f"{name}-cert.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=folder)


@pytest.fixture
def tls_host(tmp_path: Path, docker_engine: DockerEngine) -> Iterator[str]:
    """The session's engine behind a TLS listener that verifies client certificates (socat with OpenSSL),
    as `dockerd --tlsverify -H tcp://...` is: tcp://127.0.0.1:PORT. Client files in tmp_path/client."""
    ca, client = tmp_path / "ca", tmp_path / "client"
    ca.mkdir()
    client.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=turnout test CA", cwd=ca)
    certificate(ca, ca, "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    certificate(client, ca, "client", "turnout", "extendedKeyUsage=clientAuth\n")
    (client / "client-cert.pem").rename(client / "cert.pem")
    (client / "client-key.pem").rename(client / "key.pem")
    (client / "ca.pem").write_text((ca / "ca.pem").read_text())
    port = free_port()
    sock = docker_engine.url.removeprefix("unix://")
    proc = subprocess.Popen(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={ca}/server-cert.pem,"
                             f"key={ca}/server-key.pem,cafile={ca}/ca.pem,verify=1", f"UNIX-CONNECT:{sock}"],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while subprocess.run(["socat", "-u", "/dev/null", f"TCP:127.0.0.1:{port}"], capture_output=True,
                             check=False).returncode != 0:
            assert time.monotonic() < deadline, "socat did not listen"
            time.sleep(0.05)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(5)


async def test_an_engine_over_tls(docker_runtime: MakeRuntime, docker_engine: DockerEngine, tls_host: str,
                                  tmp_path: Path) -> None:
    rt = docker_runtime(instances=1, hosts=[{"url": tls_host, "tls": "client"}])  # relative to turnout.toml
    [endpoint] = await rt.start(Release("1.0"), Color.GREEN)
    assert (await rt.status(Color.GREEN)).endpoints == (endpoint,)
    await rt.stop(Color.GREEN, drain=0)
    assert docker_engine.api().containers(all=True, filters={"label": [f"turnout.app={rt.app}"]}) == []
    # no client certificate the engine trusts: refused, the host named
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=stranger", cwd=stranger)
    (stranger / "ca.pem").write_text((tmp_path / "client" / "ca.pem").read_text())
    rt = docker_runtime(instances=1, hosts=[{"url": tls_host, "tls": "stranger"}])
    with pytest.raises(RuntimeFailure, match=f"docker host {tls_host} is unreachable"):
        await rt.start(Release("1.0"), Color.GREEN)
    rt = docker_runtime(instances=1, hosts=[{"url": tls_host, "tls": "nowhere"}])
    with pytest.raises(RuntimeFailure, match=f"{tls_host}: TLS files missing: .*nowhere/ca.pem"):
        await rt.start(Release("1.0"), Color.GREEN)
