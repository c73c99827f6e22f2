"""The files of an owned Envoy: a bootstrap pointing at file-based LDS and CDS, clusters fed by EDS
files, listeners fed by RDS files. Each file is one DiscoveryResponse in JSON (Envoy picks the
format by extension); turnout writes it beside the target and renames it into place (inotify)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from turnout.model import Color, Endpoint, Weights

LISTENERS = ("production", "test")
_T = "type.googleapis.com/envoy."


def _source(path: Path) -> dict[str, Any]:
    return {"resource_api_version": "V3", "path_config_source": {"path": str(path)}}


def _address(hostport: str) -> dict[str, Any]:
    if hostport.startswith("unix:"):
        return {"pipe": {"path": hostport.removeprefix("unix:")}}
    host, _, port = hostport.rpartition(":")
    return {"socket_address": {"address": host, "port_value": int(port)}}


def response(version: str, *resources: dict[str, Any]) -> str:
    return json.dumps({"version_info": version, "resources": list(resources)}, indent=1) + "\n"


def cluster_name(color: Color, listener: str = "production") -> str:
    """Production's cluster is named by the color; the test listener has its own (same endpoints,
    one EDS file), so its requests never count in the color's production statistics."""
    return color.value if listener == "production" else f"test-{color.value}"


def bootstrap(folder: Path, admin: str) -> str:
    return json.dumps({
        "node": {"id": "turnout", "cluster": "turnout"},
        "admin": {"address": _address(admin)},
        # Histograms are merged on a flush; flushing when the admin API is read keeps the latency
        # histogram the watch reads current (no timer; counters are always current).
        "stats_flush_on_admin": True,
        "dynamic_resources": {"lds_config": _source(folder / "lds.json"), "cds_config": _source(folder / "cds.json")},
    }, indent=1) + "\n"


def listeners(folder: Path, production: str, test: str) -> str:
    def listener(name: str, hostport: str) -> dict[str, Any]:
        hcm = {
            "@type": _T + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": name,
            "codec_type": "AUTO",
            "rds": {"route_config_name": name, "config_source": _source(folder / f"rds-{name}.json")},
            "http_filters": [{"name": "envoy.filters.http.router",
                              "typed_config": {"@type": _T + "extensions.filters.http.router.v3.Router"}}],
        }
        return {"@type": _T + "config.listener.v3.Listener", "name": name, "address": _address(hostport),
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                "typed_config": hcm}]}]}

    return response("1", listener("production", production), listener("test", test))


def clusters(folder: Path) -> str:
    return response("1", *({
        "@type": _T + "config.cluster.v3.Cluster", "name": cluster_name(color, listener), "type": "EDS",
        "connect_timeout": "2s", "lb_policy": "ROUND_ROBIN",
        "eds_cluster_config": {"service_name": color.value, "eds_config": _source(folder / f"eds-{color}.json")},
    } for color in Color for listener in LISTENERS))


def endpoints(version: str, color: Color, instances: tuple[Endpoint, ...]) -> str:
    lb = [{"endpoint": {"address": {"socket_address": {"address": e.host, "port_value": e.port}}}}
          for e in instances]
    return response(version, {"@type": _T + "config.endpoint.v3.ClusterLoadAssignment",
                              "cluster_name": color.value, "endpoints": [{"lb_endpoints": lb}] if lb else []})


def route_action(weights: Weights, timeout: float, listener: str = "production") -> dict[str, Any]:
    action: dict[str, Any] = {"timeout": f"{timeout:g}s"}
    if weights.blue and weights.green:
        action["weighted_clusters"] = {"clusters": [{"name": cluster_name(c, listener), "weight": weights.of(c)}
                                                    for c in Color]}
    else:
        action["cluster"] = cluster_name(weights.dominant, listener)
    return action


def color_of(cluster: str) -> Color:
    return Color(cluster.removeprefix("test-"))


def routes(version: str, name: str, action: dict[str, Any]) -> str:
    # validate_clusters: a route to a cluster Envoy does not have is rejected, not served as 503s.
    # The route's name carries the version: Envoy ignores an update whose content hash is unchanged
    # (and then keeps reporting the old version_info), so an unchanged split would never show up.
    route = {"name": f"turnout-{version}", "match": {"prefix": "/"}, "route": action}
    return response(version, {
        "@type": _T + "config.route.v3.RouteConfiguration", "name": name, "validate_clusters": True,
        "virtual_hosts": [{"name": name, "domains": ["*"], "routes": [route]}],
    })


def read_action(route: dict[str, Any]) -> Weights | None:
    """Weights from a route action as Envoy reports it in /config_dump."""
    if "cluster" in route:
        return Weights.all_to(color_of(route["cluster"]))
    if "weighted_clusters" in route:
        got = {color_of(c["name"]): int(c.get("weight", 0)) for c in route["weighted_clusters"]["clusters"]}
        return Weights(got.get(Color.BLUE, 0), got.get(Color.GREEN, 0))
    return None
