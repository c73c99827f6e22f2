"""A HorizontalPodAutoscaler on a color's Deployment, as the Kubernetes runtime lives with it.

The HPA owns `spec.replicas` while the Deployment runs: turnout sets a size when it starts or
scales a color, then accepts whatever the HPA makes of it. The idle color keeps an HPA minimum (the
seed's "HPA minimum on the idle environment"): scaling it down to `runtime.idle_instances` (or
starting it at a preview size) lowers the HPA's `minReplicas` to that count, remembering the value
it had in an annotation, and a color started or scaled to full size again gets it back. Without
that the HPA would scale the retired color straight back up and turnout's scale-down would fight
it forever. At 0 replicas an HPA stops acting on its own ("implicit maintenance-mode
deactivation"), so stopping a color needs nothing.
"""

from __future__ import annotations

from typing import Any

from turnout.infra.kube import Kube

MIN_ANNOTATION = "turnout/hpa-min-replicas"  # the minReplicas an HPA had before turnout lowered it


async def hpa_of(kube: Kube, namespace: str, deployment: str) -> Any:
    """The HPA whose scaleTargetRef is this Deployment, or None (also when autoscaling/v2 is not served)."""
    found = await kube.call(
        f"list HorizontalPodAutoscalers in {namespace}", "AutoscalingV2Api",
        "list_namespaced_horizontal_pod_autoscaler", namespace, none_on=(404,),
        hints={403: "grant list and patch on horizontalpodautoscalers (docs/kubernetes.md, RBAC), or set "
                    "runtime.options.autoscaling = false if no HPA targets the color Deployments"})
    for hpa in (found or {}).get("items", []):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == deployment and \
                (hpa.get("metadata") or {}).get("namespace", namespace) == namespace:
            return hpa
    return None


def original_minimum(hpa: Any) -> int:
    """The HPA's own minReplicas: what turnout remembered, else what it has now (Kubernetes' default 1)."""
    remembered = ((hpa.get("metadata") or {}).get("annotations") or {}).get(MIN_ANNOTATION)
    return int(remembered) if remembered else int((hpa.get("spec") or {}).get("minReplicas", 1))


async def keep_minimum(kube: Kube, namespace: str, hpa: Any, lowered: int | None) -> None:
    """Lower the HPA's minimum to `lowered` (an idle or preview size), or give it its own back (None)."""
    name, own = hpa["metadata"]["name"], original_minimum(hpa)
    current = int((hpa.get("spec") or {}).get("minReplicas", 1))
    remembered = MIN_ANNOTATION in ((hpa.get("metadata") or {}).get("annotations") or {})
    if lowered is not None and lowered < own:
        if current == lowered and remembered:
            return
        patch: dict[str, Any] = {"metadata": {"annotations": {MIN_ANNOTATION: str(own)}},
                                 "spec": {"minReplicas": max(lowered, 1)}}
    elif remembered or current != own:
        patch = {"metadata": {"annotations": {MIN_ANNOTATION: None}}, "spec": {"minReplicas": own}}
    else:
        return
    await kube.patch(f"patch HorizontalPodAutoscaler {namespace}/{name}", "AutoscalingV2Api",
                     "patch_namespaced_horizontal_pod_autoscaler", name, namespace, patch)
