"""The example app's image, built on this machine without pulling anything (`turnout demo --runtime docker`).

Base: a Debian root filesystem with python3 made by debootstrap (about a minute, once), loaded with
`docker import`, and cached as a gzipped `docker save` under ~/.cache/turnout, so the next engine
(or the next test session) loads it in seconds. App: `docker build` (classic builder) FROM that base,
adding the example app and the Python packages it imports, copied from the environment turnout runs
in (same versions as turnout's own tests; the base's Python must be the same minor version).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import docker
import docker.errors
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from turnout.errors import TurnoutError

SUITE = "bookworm"
BASE = f"turnout-demo/base:{SUITE}-python3-1"  # bump the last number when the recipe below changes
APP_REPOSITORY = "turnout-demo/app"
APP_DEPENDENCIES = ("aiohttp", "prometheus-client")  # what examples/app.py imports at its top (a test checks)
APP = Path(__file__).resolve().parents[1] / "examples" / "app.py"
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale",
        "usr/share/info")
HEALTHCHECK = ('HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["python3", "-c", "import os, urllib.request; '
               "urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/ready', "
               'timeout=2)"]')
Log = Callable[[str], object]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "turnout"


def connect(host: str) -> docker.APIClient:
    try:
        return docker.APIClient(base_url=host, timeout=120)
    except docker.errors.DockerException as exc:
        raise TurnoutError(f"no Docker engine answers at {host}: {exc}",
                           hint="start dockerd, or set DOCKER_HOST (docs/docker.md)") from None


def present(api: docker.APIClient, ref: str) -> bool:
    try:
        api.inspect_image(ref)  # type: ignore[no-untyped-call]
        return True
    except docker.errors.ImageNotFound:
        return False


def base_image(api: docker.APIClient, log: Log = print) -> str:
    """The base image on this engine: already there, loaded from the cache, or built (and cached)."""
    if present(api, BASE):
        return BASE
    tarball = cache_dir() / f"{BASE.replace('/', '_').replace(':', '_')}.tar.gz"
    if tarball.is_file():
        log(f"loading {BASE} from {tarball}")
        with tarball.open("rb") as f:
            api.load_image(f)  # type: ignore[no-untyped-call]  # the engine reads gzip itself
        if present(api, BASE):
            return BASE
    _build_base(api, log)
    log(f"caching {BASE} in {tarball}")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial")
    with gzip.open(partial, "wb", compresslevel=1) as out:
        for chunk in api.get_image(BASE):
            out.write(chunk)
    partial.replace(tarball)
    return BASE


def _build_base(api: docker.APIClient, log: Log) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists() or os.geteuid() != 0:
        raise TurnoutError(f"the image {BASE} is not on this engine, and building it needs debootstrap run as root",
                           hint="apt-get install debootstrap (scripts/install-servers.sh does), as root; or "
                                f"`docker load` a saved {BASE}")
    mirror = os.environ.get("TURNOUT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="turnout-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        log(f"building {BASE}: debootstrap {SUITE} with python3 (about a minute, once)")
        done = subprocess.run([debootstrap, "--variant=minbase", "--include=python3", SUITE, str(root), mirror],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TurnoutError(f"debootstrap failed (exit {done.returncode}): {done.stderr.strip()[-500:]}",
                               hint="set TURNOUT_DEBIAN_MIRROR to a reachable Debian mirror")
        python = subprocess.run(["chroot", str(root), "python3", "-c", "import sys; print(*sys.version_info[:2], "
                                 "sep='.')"], capture_output=True, text=True, check=True).stdout.strip()
        for trimmed in TRIM:
            shutil.rmtree(root / trimmed, ignore_errors=True)
        tar = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True)
        repository, _, tag = BASE.partition(":")
        api.import_image(src=str(tar), repository=repository, tag=tag, changes=[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"LABEL turnout.python={python}",
            'CMD ["python3"]'])


def app_image(api: docker.APIClient, tags: Iterable[str], *, repository: str = APP_REPOSITORY,
              healthcheck: bool = False, label: str = "", log: Log = print) -> str:
    """Build the example app's image FROM the base and tag it `repository:tag` for each tag; its id.
    `healthcheck` adds a HEALTHCHECK on the readiness path; `label` makes an image of its own (a new id)."""
    base = base_image(api, log)
    python = (api.inspect_image(base)["Config"].get("Labels") or {}).get("turnout.python")  # type: ignore[no-untyped-call]
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python != here:
        raise TurnoutError(f"{base} runs Python {python}, turnout runs on {here}: the app's compiled packages "
                           "copied from here would not load there", hint="run the demo on Python " + str(python))
    tags = list(tags)
    with tempfile.TemporaryDirectory(prefix="turnout-image-") as tmp:
        context = Path(tmp)
        shutil.copy(APP, context / "app.py")
        copy_distributions(APP_DEPENDENCIES, context / "deps")
        (context / "Dockerfile").write_text("\n".join([
            f"FROM {base}", "COPY deps /opt/turnout/deps", "COPY app.py /opt/turnout/app.py",
            "ENV PYTHONPATH=/opt/turnout/deps PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1", "EXPOSE 8000",
            *([HEALTHCHECK] if healthcheck else []), *([f"LABEL turnout.build={label}"] if label else []),
            'CMD ["python3", "/opt/turnout/app.py", "--host", "0.0.0.0"]', ""]))
        image_id = ""
        for event in api.build(path=str(context), tag=f"{repository}:{tags[0]}", rm=True, forcerm=True, pull=False,
                               decode=True):
            if "error" in event:
                raise TurnoutError(f"building {repository}:{tags[0]} failed: {event['error']}")
            image_id = event.get("aux", {}).get("ID", image_id)
    for tag in tags[1:]:
        api.tag(image_id, repository, tag)
    log(f"built {repository} ({image_id[7:19]}) tagged {', '.join(tags)}")
    return image_id


def requirement_closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `names` need, with their requirements (markers as here, no extras)."""
    env = {**{k: str(v) for k, v in default_environment().items()}, "extra": ""}
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise TurnoutError(f"the example app needs {name}, which is not installed here") from None
        seen[name] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return list(seen.values())


def copy_distributions(names: Iterable[str], target: Path) -> None:
    """Copy the installed files of `names` and their requirements into `target` (a site-packages)."""
    for dist in requirement_closure(names):
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # scripts outside site-packages, and bytecode the image's Python makes itself
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)
