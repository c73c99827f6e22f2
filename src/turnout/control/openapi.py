"""The OpenAPI 3.1 document of the HTTP API, built from the same msgspec types the agent encodes
(so the schemas cannot drift from what is served)."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from turnout.control import api
from turnout.events import AuditEvent

REF = "#/components/schemas/{name}"
BODIES: dict[str, type[api.Request]] = {"deploy": api.DeployArgs, "promote": api.PromoteArgs, "abort": api.AbortArgs,
                                        "rollback": api.RollbackArgs, "switch": api.SwitchArgs,
                                        "approve": api.ApproveArgs}
SUMMARIES = {
    "deploy": "Deploy a version to the idle color, validate it, switch (202: an operation; follow it with GET "
              "/api/v1/operations/{id})",
    "promote": "Continue a paused deploy (202: an operation)",
    "abort": "Stop what runs: before the switch the new color stops; in canary steps and during the watch, "
             "traffic goes back",
    "rollback": "Switch back to the previous color while it is warm",
    "switch": "Switch all traffic to the other (warm) color",
    "approve": "Open the approval gate the running operation waits at",
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "malformed request", 401: "no valid token", 403: "the token's role may not do this",
            404: "not found", 409: "refused in the current state (nothing changed)", 500: "a bug in the agent",
            503: "not available"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref": REF.format(
        name="OpError")}}}} for c in codes}


def _ok(schema: dict[str, Any], description: str = "ok", code: int = 200) -> dict[str, Any]:
    return {str(code): {"description": description, "content": {"application/json": {"schema": schema}}}}


def _ref(kind: type[Any]) -> dict[str, Any]:
    return {"$ref": REF.format(name=kind.__name__)}


@functools.cache
def document() -> dict[str, Any]:
    kinds: list[Any] = [api.StatusView, api.OperationView, AuditEvent, api.DeploymentView, api.Done, api.OpError,
                        api.AlertOutcome, api.Measurements, *BODIES.values()]
    _, components = msgspec.json.schema_components(kinds, ref_template=REF)
    read: dict[str, Any] = {"security": [{"bearer": []}, {"cookie": []}]}
    paths: dict[str, Any] = {
        "/api/v1/whoami": {"get": {**read, "summary": "The token's name and role",
                                   "responses": {**_ok({"type": "object", "required": ["name", "role"], "properties": {
                                       "name": {"type": "string"},
                                       "role": {"enum": ["viewer", "operator"]}}}), **_errors(401)}}},
        "/api/v1/status": {"get": {**read, "summary": "Desired and observed state",
                                   "responses": {**_ok(_ref(api.StatusView)), **_errors(401)}}},
        "/api/v1/history": {"get": {**read, "summary": "The audit log, oldest first (filters: action, outcome, "
                                                         "actor, operation, since)",
                                    "parameters": [
                                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                                    "maximum": 10000}},
                                        {"name": "since", "in": "query", "schema": {"type": "number"}},
                                        *({"name": k, "in": "query", "schema": {"type": "string"}}
                                          for k in ("action", "outcome", "actor", "operation"))],
                                    "responses": {**_ok({"type": "array", "items": _ref(AuditEvent)}),
                                                  **_errors(400, 401)}}},
        "/api/v1/operations": {"get": {**read, "summary": "Recent operations, newest first",
                                       "responses": {**_ok({"type": "array", "items": _ref(api.OperationView)}),
                                                     **_errors(401)}}},
        "/api/v1/operations/{id}": {"get": {**read, "summary": "One operation",
                                            "parameters": [{"name": "id", "in": "path", "required": True,
                                                            "schema": {"type": "string"}}],
                                            "responses": {**_ok(_ref(api.OperationView)), **_errors(401, 404)}}},
        "/api/v1/traffic": {"get": {**read, "summary": "Per-color traffic points, one a second (router counters)",
                                    "parameters": [{"name": "since", "in": "query", "schema": {"type": "number"}}],
                                    "responses": {**_ok({"type": "array", "items": {"$ref": REF.format(
                                        name="TrafficPoint")}}), **_errors(400, 401)}}},
        "/api/v1/events": {"get": {**read, "summary": "Server-sent events: status and traffic every second, audit "
                                                        "entries as written",
                                   "responses": {"200": {"description": "an event stream; `data` is JSON: a "
                                                                        "StatusView, a list of TrafficPoint, or an "
                                                                        "AuditEvent",
                                                         "content": {"text/event-stream": {"schema": {
                                                             "type": "object", "required": ["event", "data"],
                                                             "properties": {
                                                                 "event": {"enum": ["status", "traffic", "audit"]},
                                                                 "data": {"type": "string"}}}}}}, **_errors(401)}}},
    }
    for name, body in BODIES.items():
        answer = _ok({"type": "object", "required": ["operation", "kind"], "properties": {
            "operation": {"type": "string"}, "kind": {"type": "string"}}}, "accepted", 202) \
            if name in ("deploy", "promote") else _ok(_ref(api.Done if name == "approve" else api.DeploymentView))
        paths[f"/api/v1/{name}"] = {"post": {
            **read, "summary": SUMMARIES[name], "description": "Operator tokens only. The actor in the audit log is "
                                                               "the token's name.",
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ref(body)}}},
            "responses": {**answer, **_errors(400, 401, 403, 409, 500)}}}
    alert_body = {"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array", "items": {
        "type": "object", "properties": {"status": {"enum": ["firing", "resolved"]},
                                         "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                         "annotations": {"type": "object",
                                                         "additionalProperties": {"type": "string"}}}}}}}
    generic = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "status": {"enum": ["firing", "resolved"]}, "summary": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}
    for path, schema, what in (("alertmanager", alert_body, "Prometheus Alertmanager's webhook payload"),
                               ("generic", generic, "one generic JSON alert")):
        paths[f"/api/v1/alerts/{path}"] = {"post": {
            **read, "summary": f"Roll back on a firing alert for this app ({what})",
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {**_ok(_ref(api.AlertOutcome)), **_errors(400, 401, 403)}}}
    components["TrafficPoint"] = {"type": "object", "required": ["at", "color", "seconds", "requests", "errors",
                                                                 "p99", "weight"], "properties": {
        "at": {"type": "number"}, "color": {"enum": ["blue", "green"]}, "seconds": {"type": "number"},
        "requests": {"type": "integer"}, "errors": {"type": "integer"},
        "p99": {"anyOf": [{"type": "number"}, {"type": "null"}]}, "weight": {"type": "integer"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "turnout agent API", "version": "1",
                 "description": "Blue-green deployments: status, history, operations, and the commands that act. "
                                "Bearer tokens: `turnout token create --role viewer|operator`."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "turnout_session"}}},
    }
