"""Kubernetes runtime: each color is a Deployment (`<app>-blue`, `<app>-green`) labelled with its color.

start() patches the color's Deployment: the image from `runtime.options.image` ("registry/app:{version}"),
the version as a pod template annotation (and label, when it is a valid label value), and replicas: a
full-size color starts at runtime.instances or at the other color's current replicas if that is more
(follow_live_size: the live color may have been autoscaled well above `instances`, and the new one is
about to take all its traffic). It then waits, within runtime.ready_timeout, as `kubectl rollout
status` does: the controller has seen the change (observedGeneration >= generation), every pod is of
the new template and every one of them is available (`availableReplicas`, so minReadySeconds
counts). The size waited for is the Deployment's own `spec.replicas`, which an HPA may change
meanwhile (kube_autoscale.py). A rollout stuck past its progressDeadlineSeconds fails at once; every
failure quotes the Deployment's conditions.

The cluster is the state: status() reads the Deployment and its pods every time, recover() adopts
nothing. Instances are the color's pods (IP and the container port) when turnout may list pods; else one
synthetic instance per replica at `<deployment>.<namespace>.svc:<port>` (resolvable only if you run a
per-color Service of that name), ready ones healthy, so counts stay right without the pods permission.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Self

from pydantic import Field, field_validator

from turnout.config import DriverEnv, RuntimeConfig, templates
from turnout.errors import RuntimeFailure
from turnout.infra.kube import NAME, ClientOptions, Kube
from turnout.model import Color, Endpoint, EnvStatus, InstanceStatus, Release
from turnout.runtimes.kube_autoscale import hpa_of, keep_minimum

VERSION_ANNOTATION = "turnout/version"
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
POLL = 0.2  # seconds between readiness reads: one GET each


class KubernetesRuntimeOptions(ClientOptions):
    namespace: str = Field(default="default", pattern=NAME, description="the namespace of both Deployments")
    image: str = Field(description="\"registry/app:{version}\"; also {color} and {app}")
    deployment: str = Field(default="{app}-{color}", description="the Deployment of each color")
    container: str | None = Field(default=None, description="the container that gets the image; default: the first")
    selector_key: str = Field(default="color", description="the pod label whose value is the color")
    labels: dict[str, str] | None = Field(default=None,
                                          description="the app's pod labels; default {\"app\": <app name>}")
    version_label: str | None = Field(default="version",
                                      description="pod label with the version (annotation turnout/version always)")
    port: int | None = Field(default=None, ge=1, le=65535, description="instances' port; default: first containerPort")
    manage_deployments: bool = Field(default=False,
                                     description="start() creates a missing Deployment from a minimal template")
    follow_live_size: bool = Field(default=True,
                                   description="start a full-size color at the other color's replicas when that "
                                               "is more than runtime.instances (its autoscaled size)")
    autoscaling: bool = Field(default=True,
                              description="look for an HPA on each color's Deployment and leave replicas to it "
                                          "(needs list and patch on horizontalpodautoscalers)")

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return templates.check(v, {"version", "color", "app"})

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, v: str) -> str:
        if "{color}" not in v:
            raise ValueError("must contain {color}: each color has a Deployment of its own")
        return templates.check(v, {"color", "app"})


class KubernetesRuntime:
    kind = "kubernetes"
    Options = KubernetesRuntimeOptions

    def __init__(self, options: KubernetesRuntimeOptions, kube: Kube, *, app: str, instances: int,
                 ready_timeout: float, health_path: str) -> None:
        self.options, self.kube, self.app = options, kube, app
        self.instances, self.ready_timeout, self.health_path = instances, ready_timeout, health_path
        self.namespace, self.key = options.namespace, options.selector_key
        self.labels = options.labels if options.labels is not None else {"app": app}

    @classmethod
    def from_options(cls, section: RuntimeConfig, options: KubernetesRuntimeOptions, env: DriverEnv) -> Self:
        kube = Kube(options, env.base_dir, error=RuntimeFailure, section="runtime",
                    not_found_hint="check runtime.options.namespace and deployment")
        return cls(options, kube, app=env.app, instances=section.instances,
                   ready_timeout=section.ready_timeout, health_path=env.health.path)

    def name(self, color: Color) -> str:
        slug = self.app.lower().replace("_", "-").replace(".", "-")
        return self.options.deployment.format(app=slug, color=color.value)

    # -- the protocol --------------------------------------------------------------------------
    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        name = self.name(color)
        count = await self._size(color, instances)
        await self._autoscaler_minimum(name, count)
        for _ in range(3):  # a 409 means someone changed it between our read and our patch: read again
            dep = await self._read(name)
            if dep is None:
                if not self.options.manage_deployments:
                    raise RuntimeFailure(f"Deployment {self.namespace}/{name} not found",
                                         hint="create it (docs/kubernetes.md) or set "
                                              "runtime.options.manage_deployments = true")
                await self.kube.call(f"create Deployment {self.namespace}/{name}", "AppsV1Api",
                                     "create_namespaced_deployment", self.namespace,
                                     self._template(name, color, release, count))
                break
            done = await self.kube.patch(f"patch Deployment {self.namespace}/{name}", "AppsV1Api",
                                         "patch_namespaced_deployment", name, self.namespace,
                                         self._rollout(dep, color, release, count), none_on=(409,))
            if done is not None:
                break
        else:
            raise RuntimeFailure(f"Deployment {self.namespace}/{name} kept changing under turnout (409 three times)")
        return self._ready(await self._instances(await self._wait(name, count)))

    async def stop(self, color: Color, drain: float | None = None) -> None:
        """Scale to 0. Draining is the pods' business: preStop hooks and terminationGracePeriodSeconds."""
        name = self.name(color)
        if await self._read(name) is not None:
            await self._replicas(name, 0)

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        name = self.name(color)
        dep = await self._read(name)
        if dep is None or self._version(dep) is None:
            raise RuntimeFailure(f"nothing was started on {color.value} (Deployment {self.namespace}/{name}): "
                                 "start a release there before scaling it")
        if count == 0:
            await self.stop(color)
            return []
        count = await self._size(color, count)
        await self._autoscaler_minimum(name, count)
        await self._replicas(name, count)
        return self._ready(await self._instances(await self._wait(name, count)))

    async def status(self, color: Color) -> EnvStatus:
        dep = await self._read(self.name(color))
        if dep is None or dep["spec"].get("replicas", 1) == 0:  # scaled to 0: nothing runs there
            return EnvStatus(color, None)
        return EnvStatus(color, self._version(dep), tuple(await self._instances(dep)))

    async def recover(self) -> None:
        """Nothing to adopt: the cluster keeps the Deployments, status() reads them."""

    async def close(self) -> None:
        self.kube.close()

    # -- helpers -------------------------------------------------------------------------------
    async def _size(self, color: Color, asked: int | None) -> int:
        """How many replicas to ask for: a full-size color (runtime.instances or more) at least as many
        as the other color has now; a preview or idle size exactly as asked."""
        count = asked or self.instances
        if count < self.instances or not self.options.follow_live_size:
            return count
        other = await self._read(self.name(color.other))
        return max(count, int((other or {}).get("spec", {}).get("replicas", 0) or 0))

    async def _autoscaler_minimum(self, name: str, count: int) -> None:
        """An idle or preview size becomes the HPA's minimum; a full size gives it its own back."""
        if self.options.autoscaling and (hpa := await hpa_of(self.kube, self.namespace, name)) is not None:
            await keep_minimum(self.kube, self.namespace, hpa, count if count < self.instances else None)

    async def _read(self, name: str) -> Any:
        return await self.kube.call(f"read Deployment {self.namespace}/{name}", "AppsV1Api",
                                    "read_namespaced_deployment", name, self.namespace, none_on=(404,))

    async def _replicas(self, name: str, count: int) -> None:
        await self.kube.patch(f"scale Deployment {self.namespace}/{name}", "AppsV1Api",
                              "patch_namespaced_deployment", name, self.namespace, {"spec": {"replicas": count}})

    def _version(self, dep: Any) -> str | None:
        meta = dep["spec"]["template"].get("metadata") or {}
        version = (meta.get("annotations") or {}).get(VERSION_ANNOTATION)
        if version is None and self.options.version_label:
            version = (meta.get("labels") or {}).get(self.options.version_label)
        return str(version) if version is not None else None

    def _version_meta(self, version: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"annotations": {VERSION_ANNOTATION: version}}
        if label := self.options.version_label:  # an invalid label value removes a stale label (null)
            meta["labels"] = {label: version if LABEL_VALUE.match(version) else None}
        return meta

    def _image(self, color: Color, release: Release) -> str:
        return self.options.image.format(version=release.version, color=color.value, app=self.app)

    def _rollout(self, dep: Any, color: Color, release: Release, count: int) -> dict[str, Any]:
        """The merge patch that puts `release` on the Deployment. Merge patches replace lists whole,
        so the containers go back as read, with one image changed."""
        name, template = dep["metadata"]["name"], dep["spec"]["template"]
        if ((template.get("metadata") or {}).get("labels") or {}).get(self.key) != color.value:
            raise RuntimeFailure(f"Deployment {self.namespace}/{name}: its pods are not labelled "
                                 f"{self.key}={color.value}, so the router's Services cannot select them")
        containers = [dict(c) for c in template["spec"]["containers"]]
        names = [c.get("name") for c in containers]
        want = self.options.container or names[0]
        if want not in names:
            raise RuntimeFailure(f"Deployment {self.namespace}/{name} has no container {want!r} (it has {names})",
                                 hint="set runtime.options.container")
        containers[names.index(want)]["image"] = self._image(color, release)
        meta: dict[str, Any] = {"annotations": {VERSION_ANNOTATION: release.version}}
        if rv := dep["metadata"].get("resourceVersion"):
            meta["resourceVersion"] = rv  # optimistic concurrency: a 409 if it changed since our read
        return {"metadata": meta, "spec": {"replicas": count, "template": {
            "metadata": self._version_meta(release.version), "spec": {"containers": containers}}}}

    def _template(self, name: str, color: Color, release: Release, count: int) -> dict[str, Any]:
        labels = {**self.labels, self.key: color.value}
        port = self.options.port or 8080
        pod_meta = self._version_meta(release.version)
        pod_meta["labels"] = {**labels, **{k: v for k, v in pod_meta.get("labels", {}).items() if v is not None}}
        container = {"name": self.options.container or "app", "image": self._image(color, release),
                     "ports": [{"containerPort": port}],
                     "readinessProbe": {"httpGet": {"path": self.health_path, "port": port}}}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                # namespace in the body too: the real API server fills it in, kmock does not
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels,
                             "annotations": {VERSION_ANNOTATION: release.version}},
                "spec": {"replicas": count, "selector": {"matchLabels": labels},
                         "template": {"metadata": pod_meta, "spec": {"containers": [container]}}}}

    async def _wait(self, name: str, count: int) -> Any:
        """The Deployment once its controller rolled out the current template, every pod available.

        As `kubectl rollout status`: updatedReplicas >= spec.replicas, no older pod left (replicas <=
        updatedReplicas) and availableReplicas >= updatedReplicas. spec.replicas is read each time: an
        HPA may change it; a Deployment scaled to 0 meanwhile (a re-applied manifest) is a failure.
        """
        deadline = time.monotonic() + self.ready_timeout
        while True:
            dep = await self._read(name)
            if dep is None:
                raise RuntimeFailure(f"Deployment {self.namespace}/{name} was deleted while turnout waited for it")
            st, gen = dep.get("status") or {}, dep["metadata"].get("generation", 0)
            seen = st.get("observedGeneration", 0) >= gen
            want = int(dep["spec"].get("replicas", 1))
            if want == 0 and count > 0:
                raise RuntimeFailure(f"Deployment {self.namespace}/{name} was scaled to 0 while turnout waited for "
                                     f"{count} replicas", hint="something else sets its replicas: a re-applied "
                                     "manifest (GitOps, kubectl apply) with `replicas`? docs/kubernetes.md")
            updated, available = st.get("updatedReplicas", 0), st.get("availableReplicas", 0)
            if seen and updated >= want and st.get("replicas", 0) <= updated and available >= updated:
                return dep
            conditions = st.get("conditions") or []
            stuck = seen and any(c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
                                 for c in conditions)
            if stuck or time.monotonic() >= deadline:
                why = "its progress deadline passed" if stuck else f"not ready after {self.ready_timeout:g}s"
                said = "; ".join(f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
                                 for c in conditions) or "none"
                raise RuntimeFailure(
                    f"Deployment {self.namespace}/{name} {why}: {available}/{want} available, {updated} updated, "
                    f"{st.get('readyReplicas', 0)} ready, observedGeneration {st.get('observedGeneration', 0)}"
                    f"/{gen}; conditions: {said}", hint=f"kubectl -n {self.namespace} describe deployment {name}")
            await asyncio.sleep(POLL)

    def _port(self, dep: Any) -> int:
        if self.options.port:
            return self.options.port
        containers = dep["spec"]["template"]["spec"].get("containers") or [{}]
        chosen = next((c for c in containers if c.get("name") == self.options.container), containers[0])
        return int(((chosen.get("ports") or [{}])[0]).get("containerPort", 8080))

    async def _instances(self, dep: Any) -> list[InstanceStatus]:
        name, port, version = dep["metadata"]["name"], self._port(dep), self._version(dep)
        match = (dep["spec"].get("selector") or {}).get("matchLabels") or {}
        found = await self.kube.call(f"list pods of {self.namespace}/{name}", "CoreV1Api", "list_namespaced_pod",
                                     self.namespace, label_selector=",".join(f"{k}={v}" for k, v in match.items()),
                                     none_on=(403,))  # no permission: counts from the Deployment's status below
        out = []
        for pod in (found or {}).get("items", []):
            meta, st = pod.get("metadata") or {}, pod.get("status") or {}
            labels = meta.get("labels") or {}
            # filtered here too: an emulator (kmock) ignores labelSelector
            if any(labels.get(k) != v for k, v in match.items()) or meta.get("deletionTimestamp") or \
                    not st.get("podIP") or st.get("phase") in {"Succeeded", "Failed"}:
                continue
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
            current = (meta.get("annotations") or {}).get(VERSION_ANNOTATION) == version  # not a pod of the old one
            out.append(InstanceStatus(Endpoint(st["podIP"], port), ready and current))
        if out:
            return sorted(out, key=lambda i: (i.endpoint.host, i.endpoint.port))
        ready = (dep.get("status") or {}).get("availableReplicas", 0)
        synthetic = Endpoint(f"{name}.{self.namespace}.svc", port)
        return [InstanceStatus(synthetic, i < ready) for i in range(max(ready, dep["spec"].get("replicas", 1)))]

    @staticmethod
    def _ready(instances: list[InstanceStatus]) -> list[Endpoint]:
        return [i.endpoint for i in instances if i.healthy]
