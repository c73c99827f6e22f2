"""One audit event as each receiver documents its messages: the body bytes and their Content-Type.

Every builder is pure and keeps to the receiver's documented limits (cut with an ellipsis, never
rejected): Slack incoming webhooks, Microsoft Teams Workflows (an Adaptive Card in a message
envelope; the old Office 365 connector MessageCard is retired), Discord webhooks, Google Chat
webhooks. docs/operators.md names the pages each limit comes from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from turnout.config import templates

Event = Mapping[str, Any]
JSON = "application/json"

# Slack Block Kit: header text 150, section text 3000, 10 section fields of 2000, 10 context elements.
SLACK_HEADER, SLACK_TEXT, SLACK_FIELDS, SLACK_FIELD = 150, 3000, 10, 2000
# Teams: a message of at most 28 KB.
TEAMS_BYTES = 28_000
# Discord: content 2000; embed title 256, description 4096, 25 fields (name 256, value 1024),
# footer 2048, and 6000 characters over all of an embed's text.
DISCORD_CONTENT, DISCORD_TITLE, DISCORD_DESCRIPTION = 2000, 256, 4096
DISCORD_FIELDS, DISCORD_FIELD_NAME, DISCORD_FIELD_VALUE, DISCORD_FOOTER, DISCORD_TOTAL = 25, 256, 1024, 2048, 6000
# Google Chat: a message of at most 32,000 bytes.
GOOGLE_CHAT_BYTES = 32_000

BAD = frozenset({"failed", "refused", "aborted"})


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def when(ev: Event) -> str:
    """The event's time, ISO 8601 in UTC (what Discord's timestamp and people both read)."""
    at = float(ev.get("at") or time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def version(ev: Event) -> str:
    """The release the event is about: the one on the color traffic went to, else the live one."""
    versions = ev.get("versions") or {}
    return str(versions.get(ev.get("to") or "") or versions.get(ev.get("active") or "") or "")


def severity(ev: Event) -> str:
    """good, bad or warn: a rollback that worked is still an alarm."""
    outcome, action = ev.get("outcome", ""), ev.get("action", "")
    if outcome in BAD:
        return "bad"
    if action == "rollback" or (action == "stabilize" and outcome == "ended"):
        return "warn"
    return "good" if outcome == "ok" else "info"


def headline(ev: Event) -> str:
    """`shop: switch ok, blue → green (2.0)`: what happened, in one line."""
    line = f"{ev.get('app', '')}: {ev.get('action', '')} {ev.get('outcome', '')}"
    if ev.get("from") and ev.get("to"):
        line += f", {ev['from']} → {ev['to']}"
    elif ev.get("to"):
        line += f", {ev['to']}"
    return line + (f" ({version(ev)})" if version(ev) else "")


def summary(ev: Event) -> str:
    """The headline and the reason: the `{text}` of a template and every chat format's fallback."""
    return headline(ev) + (f": {ev['reason']}" if ev.get("reason") else "")


def facts(ev: Event) -> list[tuple[str, str]]:
    rows = [("event", str(ev.get("event", ""))), ("live color", str(ev.get("active") or "")),
            ("version", version(ev)), ("phase", str(ev.get("phase") or "")), ("by", str(ev.get("actor") or "")),
            ("at", when(ev))]
    return [(k, v) for k, v in rows if v]


def evidence(ev: Event) -> list[str]:
    """The measured values that drove the step, one line each (users ask to see them: flagger#1810)."""
    lines: list[str] = []
    for item in ev.get("evidence") or ():
        kind = item.get("kind")
        if kind == "measurement":
            lines.append(_measurement(item["measurement"]))
        elif kind == "trigger":
            lines.append(f"trigger {item.get('trigger')}: {item.get('reason')}")
            lines += [f"  {_measurement(m)}" for m in item.get("judgements") or ()]
        elif kind == "switch_timing":
            lines.append(f"switch served in {item.get('ms')} ms")
        elif kind == "rollback_timing":
            lines.append(f"first failure → traffic restored in {item.get('detect_to_restore_ms')} ms")
    return lines


def _measurement(m: Mapping[str, Any]) -> str:
    value = m.get("value")
    shown = f" {value:g}" if isinstance(value, float) else (f" {value}" if value not in (None, "") else "")
    return f"{m.get('check')}: {m.get('verdict')}{shown}" + (f" ({m['detail']})" if m.get("detail") else "")


# -- the formats --------------------------------------------------------------------------------------

def as_json(ev: Event) -> tuple[bytes, str]:
    """turnout's own event: every field of the audit entry, plus `event` and `active`."""
    return json.dumps(dict(ev)).encode(), JSON


def _mrkdwn(text: str) -> str:
    """Slack reads &, < and > as markup: escape them (its documented three)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(ev: Event) -> tuple[bytes, str]:
    """An incoming-webhook message: `text` (the notification and fallback) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(headline(ev), SLACK_HEADER)}}]
    if ev.get("reason"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(_mrkdwn(str(ev["reason"])),
                                                                                  SLACK_TEXT)}})
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": cut(f"*{k}*\n{_mrkdwn(v)}", SLACK_FIELD)} for k, v in facts(ev)[:SLACK_FIELDS]]})
    measured = evidence(ev)
    if measured:
        body = "\n".join(_mrkdwn(line) for line in measured)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(f"```{body}```", SLACK_TEXT)}})
    return json.dumps({"text": cut(_mrkdwn(summary(ev)), SLACK_TEXT), "blocks": blocks}).encode(), JSON


TEAMS_COLOR = {"good": "Good", "bad": "Attention", "warn": "Warning", "info": "Default"}


def msteams(ev: Event) -> tuple[bytes, str]:
    """What a Teams Workflows webhook ("When a Teams webhook request is received") posts: a message
    with one Adaptive Card attachment. Past 28 KB, evidence lines go first, then the reason is cut."""
    measured, reason = evidence(ev), str(ev.get("reason") or "")
    data = _teams_message(ev, reason, measured)
    while len(data) > TEAMS_BYTES and measured:
        measured = measured[:-1]
        data = _teams_message(ev, reason, measured)
    while len(data) > TEAMS_BYTES and reason:
        reason = cut(reason, len(reason) // 2)
        data = _teams_message(ev, reason, measured)
    return data, JSON


def _teams_message(ev: Event, reason: str, measured: list[str]) -> bytes:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": headline(ev), "weight": "Bolder", "size": "Medium", "wrap": True,
         "color": TEAMS_COLOR[severity(ev)]}]
    if reason:
        body.append({"type": "TextBlock", "text": reason, "wrap": True})
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts(ev)]})
    if measured:
        body.append({"type": "TextBlock", "text": "\n\n".join(measured), "wrap": True, "fontType": "Monospace",
                     "size": "Small"})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return json.dumps({"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}).encode()


DISCORD_COLOR = {"good": 0x2EA043, "bad": 0xD1242F, "warn": 0xD29922, "info": 0x3B82F6}


def discord(ev: Event) -> tuple[bytes, str]:
    """An execute-webhook body: `content` and one embed; `allowed_mentions` empty so an @everyone in a
    reason pings no one."""
    title = cut(headline(ev), DISCORD_TITLE)
    named = [(cut(k, DISCORD_FIELD_NAME), cut(v, DISCORD_FIELD_VALUE), True) for k, v in facts(ev)]
    measured = evidence(ev)
    if measured:
        named.append(("measured", cut("\n".join(measured), DISCORD_FIELD_VALUE), False))
    named = named[:DISCORD_FIELDS]
    fields = [{"name": n, "value": v, "inline": inline} for n, v, inline in named]
    footer = cut(f"turnout · {ev.get('app', '')}", DISCORD_FOOTER)
    used = len(title) + len(footer) + sum(len(n) + len(v) for n, v, _ in named)
    description = cut(str(ev.get("reason") or ""), min(DISCORD_DESCRIPTION, DISCORD_TOTAL - used))
    embed: dict[str, Any] = {"title": title, "color": DISCORD_COLOR[severity(ev)], "fields": fields,
                             "footer": {"text": footer}, "timestamp": when(ev)}
    if description:
        embed["description"] = description
    payload = {"content": cut(summary(ev), DISCORD_CONTENT), "embeds": [embed], "allowed_mentions": {"parse": []}}
    return json.dumps(payload).encode(), JSON


def googlechat(ev: Event) -> tuple[bytes, str]:
    """A Google Chat webhook text message (`*bold*` is Chat's own markup)."""
    lines = [f"*{headline(ev)}*", *([str(ev["reason"])] if ev.get("reason") else []),
             " · ".join(f"{k}: {v}" for k, v in facts(ev)), *evidence(ev)]
    text = "\n".join(lines)
    while len(json.dumps({"text": text}).encode()) > GOOGLE_CHAT_BYTES:
        text = text[:int(len(text) * 0.9)] + "…"
    return json.dumps({"text": text}).encode(), "application/json; charset=UTF-8"


def placeholders(ev: Event) -> dict[str, str]:
    """The values a template may name (config.schema.NOTIFY_FIELDS)."""
    values = {k: "" if ev.get(k) is None else str(ev.get(k)) for k in (
        "event", "app", "action", "outcome", "actor", "at", "from", "to", "active", "phase", "reason", "id")}
    return {**values, "time": when(ev), "version": version(ev), "text": summary(ev)}


def template(ev: Event, text: str, content_type: str) -> tuple[bytes, str]:
    """The operator's own body; in a JSON body every value is JSON-escaped (a quote in a reason
    cannot break it)."""
    values = placeholders(ev)
    if "json" in content_type:
        values = {k: json.dumps(v)[1:-1] for k, v in values.items()}
    return templates.fill(text, values).encode(), content_type


BUILDERS: dict[str, Callable[[Event], tuple[bytes, str]]] = {
    "json": as_json, "slack": slack, "msteams": msteams, "discord": discord, "googlechat": googlechat}
# Chat formats get the events a person wants to read by default, not every measurement.
HEADLINES = ("deploy:started", "deploy:failed", "validate:failed", "switch:ok", "switch:failed", "canary:shifted",
             "canary:promoted", "stabilize:ok", "stabilize:ended", "rollback:ok", "rollback:failed", "rollback:refused",
             "rollback:measured", "pause:ok", "resume:*",
             "reconcile:failed", "hook:failed")
