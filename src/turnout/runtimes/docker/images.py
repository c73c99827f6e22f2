"""The app's images on each engine: pulled as `runtime.options.pull` says, and the old ones pruned.

Pulls authenticate with the Docker config of the user running turnout ($DOCKER_CONFIG/config.json, else
~/.docker/config.json: `docker login` writes it; credential helpers work as for the docker CLI). The SDK
sends those credentials to the engine with each pull, so remote engines need no login of their own.
"""

from __future__ import annotations

import logging
from typing import Any

import docker
import docker.errors

from turnout.errors import RuntimeFailure
from turnout.runtimes.docker.engine import Engine, timestamp

log = logging.getLogger(__name__)


async def ensure(engine: Engine, ref: str, policy: str) -> None:
    """The image `ref` on the engine, pulled when the policy says so; RuntimeFailure naming the host if not."""

    def present(api: docker.APIClient) -> bool:
        try:
            api.inspect_image(ref)  # type: ignore[no-untyped-call]  # (types-docker leaves it untyped)
            return True
        except docker.errors.ImageNotFound:
            return False

    if policy != "always" and await engine.call(f"inspect image {ref}", present):
        return
    if policy == "never":
        raise RuntimeFailure(f"{engine.name}: image {ref} is not there and runtime.options.pull is \"never\"",
                             hint="build or load it on that host, or set pull = \"missing\"")

    def pull(api: docker.APIClient) -> None:
        repository, _, tag = ref.rpartition(":")
        # Credentials: the SDK looks the registry up in the Docker config it loaded (auth_config=None).
        # Streamed, so the API timeout bounds the wait for each progress event, not the whole pull.
        for event in api.pull(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise RuntimeFailure(f"{engine.name}: cannot pull {ref}: {event['error']}", hint=_PULL_HINT)

    log.info("pulling %s on %s", ref, engine.name)
    try:
        await engine.call(f"pull {ref}", pull)
    except RuntimeFailure as exc:
        if exc.hint:
            raise
        raise RuntimeFailure(str(exc), hint=_PULL_HINT) from None


_PULL_HINT = ("is the image pushed? Registry credentials come from the Docker config of the user running turnout "
              "($DOCKER_CONFIG or ~/.docker/config.json, written by `docker login REGISTRY`)")


async def prune(engine: Engine, repository: str, keep: int) -> list[str]:
    """Remove the tags of `repository` on the engine beyond the `keep` newest images, never one that a
    container (any, running or not) uses; the removed tags. Best effort: a failure is logged."""
    def newest_first(api: docker.APIClient) -> list[dict[str, Any]]:
        # The list says when each was made to the second; inspect, to the nanosecond (builds come fast).
        found = [api.inspect_image(i["Id"]) for i in api.images(name=repository)]  # type: ignore[no-untyped-call]
        return sorted(found, key=lambda i: timestamp(i.get("Created", "")), reverse=True)

    try:
        used = await engine.used_images()
        images = await engine.call(f"list images {repository}", newest_first)
    except RuntimeFailure as exc:
        log.warning("not pruning images of %s: %s", repository, exc)
        return []
    removed = []
    for image in images[keep:]:
        if image["Id"] in used:
            continue
        for tag in image.get("RepoTags") or []:
            if tag.rpartition(":")[0] != repository:
                continue  # the same image under another name is not ours to remove
            def remove(api: docker.APIClient, tag: str = tag) -> None:
                api.remove_image(tag, noprune=False)

            try:
                await engine.call(f"remove image {tag}", remove)
                removed.append(tag)
            except RuntimeFailure as exc:  # in use since we looked, or another problem: next prune
                log.info("not pruning %s: %s", tag, exc)
    if removed:
        log.info("%s: pruned %s", engine.name, ", ".join(removed))
    return removed
