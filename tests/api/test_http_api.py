"""The HTTP API on the real agent: tokens and roles, the actor is the token, cookies need the CSRF
header, alert-driven rollback (Alertmanager and generic payloads) with its time to restore."""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..agent_helpers import history, load, status, turnout, version_at, wait_for
from .conftest import ApiStack


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alertmanager(status_: str = "firing", **labels: str) -> dict[str, Any]:
    """An Alertmanager webhook body (version 4), as its docs show it."""
    alert = {"status": status_, "labels": {"alertname": "HighErrorRate", **labels},
             "annotations": {"summary": "5xx above 5% for 1m"}, "startsAt": "2026-11-30T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "abc"}
    return {"version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0, "status": status_,
            "receiver": "turnout", "groupLabels": {"alertname": "HighErrorRate"}, "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager", "alerts": [alert]}


def test_tokens_roles_and_the_actor(api_stack: ApiStack) -> None:
    with httpx.Client(base_url=api_stack.url, timeout=30) as c:
        assert c.get("/api/v1/status").status_code == 401
        assert c.get("/api/v1/status", headers=auth("tok_not-a-real-one")).status_code == 401
        assert c.get("/api/v1/openapi.json").status_code == 200  # the description is public
        assert c.get("/api/v1/whoami", headers=auth(api_stack.viewer)).json() == {"name": "board", "role": "viewer"}
        refused = c.post("/api/v1/deploy", json={"version": "2.0"}, headers=auth(api_stack.viewer))
        assert refused.status_code == 403 and refused.json()["exit_code"] == 16
        started = c.post("/api/v1/deploy", json={"version": "2.0", "actor": "someone else"},
                         headers=auth(api_stack.operator))
        assert started.status_code == 202, started.text
        op = started.json()["operation"]
        wait_for("the deploy to end", lambda: c.get(f"/api/v1/operations/{op}",
                                                    headers=auth(api_stack.viewer)).json()["state"] != "running")
        assert c.get(f"/api/v1/operations/{op}", headers=auth(api_stack.viewer)).json()["state"] == "succeeded"
        actors = {e["actor"] for e in c.get("/api/v1/history", params={"action": "switch"},
                                            headers=auth(api_stack.viewer)).json()}
        assert actors == {"ci (API token)"}  # the token named who acted, not the body
        busy = c.post("/api/v1/promote", headers=auth(api_stack.operator))
        assert busy.status_code == 409 and busy.json()["type"] == "NotReady"  # refused: nothing paused
        assert c.get("/api/v1/nowhere", headers=auth(api_stack.viewer)).status_code == 404
        assert c.post("/api/v1/nowhere", headers=auth(api_stack.viewer)).status_code == 404
        assert c.request("TRACE", "/api/v1/status", headers=auth(api_stack.viewer)).status_code == 405
        assert c.head("/api/v1/status", headers=auth(api_stack.viewer)).status_code == 200  # a read, not an act
        bad = c.post("/api/v1/rollback", content=b"{not json", headers=auth(api_stack.operator))
        assert bad.status_code == 400 and bad.json()["exit_code"] == 2
        for query in ("since=1&since=2", "since=nan", "since=inf", "limit=1&limit=2"):  # one finite value each
            for path in ("/api/v1/history", "/api/v1/traffic"):
                odd = c.get(f"{path}?{query}", headers=auth(api_stack.viewer))
                assert odd.status_code == 400 and odd.json()["exit_code"] == 2, (path, query, odd.text)
    assert turnout(api_stack.folder, "token", "revoke", "board").returncode == 0
    time.sleep(2.2)  # the token list is trusted for two seconds
    assert httpx.get(api_stack.url + "/api/v1/status", headers=auth(api_stack.viewer)).status_code == 401


def test_the_session_cookie_needs_the_csrf_header_to_act(api_stack: ApiStack) -> None:
    assert turnout(api_stack.folder, "deploy", "2.0").returncode == 0
    with httpx.Client(base_url=api_stack.url, timeout=30) as c:
        assert c.post("/api/v1/session", json={"token": "tok_wrong"}).status_code == 401
        login = c.post("/api/v1/session", json={"token": api_stack.operator})
        assert login.status_code == 200 and "HttpOnly" in login.headers["set-cookie"]
        assert "SameSite=Strict" in login.headers["set-cookie"]
        assert c.get("/api/v1/status").status_code == 200  # the cookie reads
        for header in ("Basic b3A6cHc=", "Bearer", "tok_" + api_stack.operator):  # not a bearer token: no fall-back
            assert c.get("/api/v1/status", headers={"Authorization": header}).status_code == 401, header
        assert c.get("/api/v1/status", headers={"Authorization": f"bearer {api_stack.viewer}"}).status_code == 200
        forged = c.post("/api/v1/rollback")  # what a cross-site form could send
        assert forged.status_code == 403 and status(api_stack.folder)["active"] == "green"
        assert c.post("/api/v1/rollback", headers={"X-Turnout-Request": "1"}).status_code == 200
    assert status(api_stack.folder)["active"] == "blue"


def test_a_firing_alertmanager_alert_rolls_back_and_is_recorded(api_stack: ApiStack) -> None:
    assert turnout(api_stack.folder, "deploy", "2.0").returncode == 0
    prod = api_stack.production()
    with load(prod) as users, httpx.Client(base_url=api_stack.url, timeout=30) as c:
        other = c.post("/api/v1/alerts/alertmanager", json=alertmanager(app="checkout", severity="page"),
                       headers=auth(api_stack.operator))
        assert other.json()["matched"] == 0 and version_at(prod) == "2.0"  # another app's alert
        resolved = c.post("/api/v1/alerts/alertmanager", json=alertmanager("resolved", app="shop", severity="page"),
                          headers=auth(api_stack.operator))
        assert resolved.json()["action"] == "none" and version_at(prod) == "2.0"
        sent = time.time()
        fired = c.post("/api/v1/alerts/alertmanager", json=alertmanager(app="shop", severity="page"),
                       headers=auth(api_stack.operator))
        answered = time.time()
    body = fired.json()
    assert fired.status_code == 200 and body["action"] == "rolled_back" and body["active"] == "blue", body
    assert 0 < body["restored_ms"] < (answered - sent) * 1000 + 1
    assert version_at(prod) == "1.0" and users.failed == []
    recorded = [e for e in history(api_stack.folder) if e["action"] == "alert"]
    assert [e["outcome"] for e in recorded] == ["resolved", "rolled_back"]
    evidence = recorded[-1]["evidence"][0]
    assert (evidence["kind"], evidence["name"], evidence["labels"]["severity"]) == ("alert", "HighErrorRate", "page")
    print(f"alert arrival -> traffic restored: {body['restored_ms']} ms")


def test_an_alert_with_nothing_to_roll_back_is_recorded_not_lost(api_stack: ApiStack) -> None:
    with httpx.Client(base_url=api_stack.url, timeout=30) as c:
        r = c.post("/api/v1/alerts/generic", json={"name": "DiskFull", "labels": {"app": "shop", "severity": "page"},
                                                   "summary": "disk 95%"}, headers=auth(api_stack.operator))
        assert r.json()["action"] == "ignored"
        assert c.post("/api/v1/alerts/generic", json={"status": "maybe", "name": "x"},
                      headers=auth(api_stack.operator)).status_code == 400
        assert c.post("/api/v1/alerts/generic", json={"name": "x"}, headers=auth(api_stack.viewer)).status_code == 403
    assert [e["outcome"] for e in history(api_stack.folder) if e["action"] == "alert"] == ["ignored"]
