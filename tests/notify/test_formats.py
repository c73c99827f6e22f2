"""Each notification format delivered to a local receiver and checked against what its service
documents (docs/operators.md cites the pages): field names, types and limits, for an ordinary
event and for one far past every limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from turnout.events import AuditEvent, Checked, SwitchTiming, TriggerFired, to_builtins
from turnout.model import Color, Measurement, Phase, Verdict
from turnout.notify import Notifier
from turnout.notify.targets import Target

from .receiver import receiver


def payload(event: AuditEvent, active: Color = Color.BLUE) -> dict[str, Any]:
    """What the journal hands the notifier for an audit entry."""
    return {"event": event.name, **to_builtins(event), "active": active.value}


def rollback_event(reason: str = "automatic: error_rate 0.31 > 0.05", checks: int = 3) -> dict[str, Any]:
    judgements = tuple(Measurement(f"check-{i}", Verdict.FAIL, 0.31 + i, f"window {i}: 31 of 100 failed")
                       for i in range(checks))
    return payload(AuditEvent(
        app="shop", action="rollback", outcome="ok", actor="alice", at=1767225600.5, from_color=Color.GREEN,
        to_color=Color.BLUE, versions={"blue": "1.0", "green": "2.0"}, phase=Phase.ROLLED_BACK, reason=reason,
        evidence=(SwitchTiming(ms=3.2, routed_at=1767225600.4),
                  TriggerFired(trigger="error_rate", reason="error rate 0.31", judgements=judgements),
                  Checked(measurement=Measurement("latency", Verdict.PASS, 0.012, "p99 12 ms"))), id=42))


HUGE = rollback_event(reason=("ünïcode \"quoted\" <@everyone> & more " * 4000), checks=400)


# -- the documented shapes --------------------------------------------------------------------------------

def slack_shape(body: dict[str, Any]) -> None:
    """Slack incoming webhooks: `text` (notification and fallback), optional Block Kit `blocks` (at most
    50); header plain_text <= 150; section text <= 3000; at most 10 section fields of <= 2000."""
    assert isinstance(body["text"], str) and 0 < len(body["text"]) <= 3000
    assert 0 < len(body["blocks"]) <= 50
    for block in body["blocks"]:
        assert block["type"] in {"header", "section", "context", "divider"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn" and 0 < len(block["text"]["text"]) <= 3000
            for f in block.get("fields", []):
                assert f["type"] == "mrkdwn" and 0 < len(f["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
    assert "<@everyone>" not in json.dumps(body)  # &, <, > escaped as Slack's mrkdwn asks


def teams_shape(body: dict[str, Any]) -> None:
    """Teams Workflows webhook: a message with an Adaptive Card attachment (not the retired
    MessageCard), at most 28 KB."""
    assert "@type" not in body and body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and re.fullmatch(r"1\.\d", card["version"])
    for element in card["body"]:
        assert element["type"] in {"TextBlock", "FactSet"}
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        else:
            assert all(set(f) == {"title", "value"} and f["value"] for f in element["facts"])


def discord_shape(body: dict[str, Any]) -> None:
    """Discord execute webhook: content <= 2000, at most 10 embeds; title 256, description 4096,
    25 fields (name 256, value 1024), footer 2048, 6000 over an embed; color an integer; timestamp
    ISO 8601."""
    assert 0 < len(body["content"]) <= 2000
    assert body["allowed_mentions"] == {"parse": []}
    assert 0 < len(body["embeds"]) <= 10
    for e in body["embeds"]:
        assert len(e["title"]) <= 256 and len(e.get("description", "")) <= 4096
        assert len(e["fields"]) <= 25
        assert all(0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in e["fields"])
        assert len(e["footer"]["text"]) <= 2048
        total = len(e["title"]) + len(e.get("description", "")) + len(e["footer"]["text"]) + sum(
            len(f["name"]) + len(f["value"]) for f in e["fields"])
        assert total <= 6000
        assert isinstance(e["color"], int) and 0 <= e["color"] <= 0xFFFFFF
        datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))


def googlechat_shape(body: dict[str, Any]) -> None:
    """Google Chat webhook: a text message; a message is at most 32,000 bytes."""
    assert set(body) == {"text"} and body["text"]


SHAPES: dict[str, tuple[Callable[[dict[str, Any]], None], str, int]] = {
    "slack": (slack_shape, "application/json", 40_000),
    "msteams": (teams_shape, "application/json", 28_000),
    "discord": (discord_shape, "application/json", 8_000 * 4),
    "googlechat": (googlechat_shape, "application/json; charset=UTF-8", 32_000),
}


@pytest.mark.parametrize("fmt", sorted(SHAPES))
@pytest.mark.parametrize("event", [rollback_event(), HUGE], ids=["ordinary", "past-every-limit"])
async def test_format_delivered_in_the_documented_shape(fmt: str, event: dict[str, Any]) -> None:
    shape, content_type, max_bytes = SHAPES[fmt]
    with receiver() as rec:
        notifier = Notifier([Target(rec.url, format=fmt, name=fmt)])
        notifier.event(event)
        await notifier.flush(10)
        [got] = rec.wait(1)
    assert got.headers["Content-Type"] == content_type
    assert got.headers["X-Turnout-Event"] == "rollback:ok" and re.fullmatch(r"[0-9a-f]{32}",
                                                                              got.headers["X-Turnout-Delivery"])
    assert len(got.body) <= max_bytes
    body = json.loads(got.body)
    shape(body)
    [record] = notifier.recent
    assert (record.outcome, record.status, record.attempts, record.audit_id) == ("delivered", 200, 1, 42)
    text = strings(body)
    assert "shop: rollback ok, green → blue (1.0)" in text
    if event is not HUGE:  # the values that drove the rollback are in the message (flagger#1810)
        assert "error_rate" in text and "check-0: fail 0.31" in text and "latency: pass 0.012" in text


def strings(value: Any) -> str:
    """Every string in a decoded body, one per line: what a person can end up reading."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(strings(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(strings(v) for v in value)
    return ""


async def test_json_format_is_the_audit_entry_and_templates_escape_their_values() -> None:
    event = rollback_event(reason='a "quoted" reason\nover two lines')
    template = '{"msg": "{text}", "who": "{actor}", "v": "{version}", "at": "{time}"}'
    with receiver() as rec:
        notifier = Notifier([Target(f"{rec.url}/json", name="json"),
                             Target(f"{rec.url}/tpl", format="template", template=template, name="tpl"),
                             Target(f"{rec.url}/text", format="template", template="{event} by {actor}",
                                    content_type="text/plain", name="text")])
        notifier.event(event)
        await notifier.flush(10)
        got = {r.path: r for r in rec.wait(3)}
    assert json.loads(got["/hook/json"].body) == json.loads(json.dumps(event))  # the journal's payload, as is
    assert json.loads(got["/hook/tpl"].body) == {
        "msg": 'shop: rollback ok, green → blue (1.0): a "quoted" reason\nover two lines', "who": "alice", "v": "1.0",
        "at": "2026-01-01T00:00:00Z"}
    assert (got["/hook/text"].body, got["/hook/text"].headers["Content-Type"]) == (b"rollback:ok by alice",
                                                                                   "text/plain")


def test_events_filter_matches_action_outcome_patterns() -> None:
    target = Target("http://x/", events=("deploy", "*:failed", "rollback:ok"))
    assert [target.wants(e) for e in ("deploy:started", "switch:failed", "rollback:ok", "rollback:started",
                                      "validate:ok")] == [True, True, True, False, False]
