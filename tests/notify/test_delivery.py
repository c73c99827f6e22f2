"""Deliveries: signed (verified by recomputing the HMAC), retried on 5xx/429 with backoff, not retried
on other 4xx, bounded in time against dead receivers, bounded in memory, and every one recorded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path

from turnout.notify import Notifier, signing
from turnout.notify.deliverylog import DeliveryLog
from turnout.notify.targets import Target

from .receiver import black_hole, receiver, refused_url
from .test_formats import rollback_event

EVENT = rollback_event()


async def test_signature_is_hmac_sha256_of_timestamp_and_body_and_verifies() -> None:
    secret = b"s3cret-\xe2\x9c\x93"
    with receiver() as rec:
        notifier = Notifier([Target(rec.url, secret=secret, name="signed")])
        notifier.event(EVENT)
        await notifier.flush(10)
        [got] = rec.wait(1)
    ts, signed = got.headers["X-Turnout-Timestamp"], got.headers["X-Turnout-Signature"]
    assert abs(int(ts) - time.time()) < 10
    expected = hmac.new(secret, ts.encode() + b"." + got.body, hashlib.sha256).hexdigest()  # recomputed here
    assert signed == f"sha256={expected}"
    assert signing.verify(secret, got.body, ts, signed)
    assert not signing.verify(secret, got.body + b" ", ts, signed)  # a changed body
    assert not signing.verify(b"other", got.body, ts, signed)  # another secret
    assert not signing.verify(secret, got.body, ts, signed, now=int(ts) + 301)  # replayed six minutes later
    assert not signing.verify(secret, got.body, str(int(ts) + 1), signed)  # a timestamp swapped in


async def test_unsigned_targets_send_no_signature() -> None:
    with receiver() as rec:
        notifier = Notifier([Target(rec.url)])
        notifier.event(EVENT)
        await notifier.flush(10)
        [got] = rec.wait(1)
    assert "X-Turnout-Signature" not in got.headers and "X-Turnout-Timestamp" not in got.headers


async def test_5xx_is_retried_with_doubling_backoff_and_signed_again_each_time() -> None:
    with receiver(statuses=[503, 500, 200]) as rec:
        notifier = Notifier([Target(rec.url, secret=b"k", retries=3, backoff=0.2, name="flaky")])
        notifier.event(EVENT)
        await notifier.flush(10)
        got = rec.wait(3)
    assert len(got) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert 0.2 <= gaps[0] < 0.2 + 0.35 and 0.4 <= gaps[1] < 0.4 + 0.35, gaps  # 0.2 s, then 0.4 s
    assert len({r.headers["X-Turnout-Delivery"] for r in got}) == 1  # one delivery id: receivers can dedupe
    assert all(signing.verify(b"k", r.body, r.headers["X-Turnout-Timestamp"], r.headers["X-Turnout-Signature"])
               for r in got)
    [record] = notifier.recent
    assert (record.outcome, record.status, record.attempts) == ("delivered", 200, 3)
    assert record.latency_ms >= 600


async def test_retries_are_bounded_and_4xx_is_not_retried() -> None:
    with receiver(statuses=[502] * 10) as down, receiver(statuses=[400]) as bad:
        notifier = Notifier([Target(down.url, retries=2, backoff=0.05, name="down"),
                             Target(bad.url, retries=2, backoff=0.05, name="bad")])
        notifier.event(EVENT)
        await notifier.flush(10)
        assert len(down.wait(3)) == 3 and len(bad.wait(1, timeout=0.3)) == 1
    records = {r.target: r for r in notifier.recent}
    assert (records["down"].outcome, records["down"].status, records["down"].attempts) == ("failed", 502, 3)
    assert records["down"].error.startswith("HTTP 502")
    assert (records["bad"].outcome, records["bad"].status, records["bad"].attempts) == ("failed", 400, 1)


async def test_429_waits_for_retry_after_capped_by_max_backoff() -> None:
    with receiver(statuses=[429, 200], headers={"Retry-After": "1"}) as slow, \
            receiver(statuses=[429, 200], headers={"Retry-After": "3600"}) as greedy:
        notifier = Notifier([Target(slow.url, backoff=0.01, name="slow"),
                             Target(greedy.url, backoff=0.01, max_backoff=0.3, name="greedy")])
        notifier.event(EVENT)
        await notifier.flush(10)
        s, g = slow.wait(2), greedy.wait(2)
    assert 1.0 <= s[1].at - s[0].at < 1.4
    assert 0.3 <= g[1].at - g[0].at < 0.7  # an hour asked, max_backoff given
    assert all(r.outcome == "delivered" for r in notifier.recent)


async def test_dead_receivers_cost_their_timeout_budget_in_the_background_only() -> None:
    with black_hole() as hang:
        notifier = Notifier([Target(hang, timeout=0.4, retries=1, backoff=0.1, name="hang"),
                             Target(refused_url(), timeout=0.4, retries=1, backoff=0.1, name="refused")])
        started = time.monotonic()
        for _ in range(4):
            notifier.event(EVENT)
        queued = time.monotonic() - started
        await notifier.flush(30)
    assert queued < 0.05  # eight deliveries queued at once: the journal never waits for a receiver
    by = {t: [r for r in notifier.recent if r.target == t] for t in ("hang", "refused")}
    assert len(by["hang"]) == len(by["refused"]) == 4
    first = by["hang"][0]
    assert (first.outcome, first.attempts, first.status) == ("failed", 2, None)
    assert first.error == "no answer within 0.4s"
    assert 900 <= first.latency_ms < 900 + 400  # 0.4 s + 0.1 s + 0.4 s: the timeout budget, no more
    assert all(r.outcome == "failed" and r.attempts == 2 and "Connect" in r.error for r in by["refused"])


async def test_a_full_queue_drops_new_events_and_records_each_drop() -> None:
    with black_hole() as hang:
        notifier = Notifier([Target(hang, timeout=5, retries=0, queue=3, name="hang")])
        for _ in range(10):
            notifier.event(EVENT)
        await asyncio.sleep(0)
        dropped = [r for r in notifier.recent if r.outcome == "dropped"]
        assert len(dropped) == 7 and dropped[0].error == "queue full (3 events waiting)"
        await notifier.flush(0.2)  # the agent stops: what is still queued is recorded as dropped too
    outcomes = [r.outcome for r in notifier.recent]
    assert len(outcomes) == 10 and outcomes.count("dropped") == 10
    assert "the agent stopped before it was delivered" in {r.error for r in notifier.recent}


async def test_every_delivery_is_written_to_the_delivery_log(tmp_path: Path) -> None:
    log = DeliveryLog(tmp_path / "logs" / "notify.jsonl", max_bytes=2_000)
    with receiver(statuses=[200, 500]) as rec:
        notifier = Notifier([Target(rec.url, retries=0, name="r")], deliveries=log)
        for _ in range(30):
            notifier.event(EVENT)
        await notifier.flush(10)
    records = log.read(1000)
    assert (tmp_path / "logs" / "notify.jsonl.1").exists()  # rotated past max_bytes; both are read
    assert 10 < len(records) <= 30 and records == [r.as_dict() for r in list(notifier.recent)[-len(records):]]
    assert {r["outcome"] for r in records} <= {"delivered", "failed"}
    assert set(records[0]) == {"at", "target", "where", "event", "audit_id", "delivery", "outcome", "status",
                               "attempts", "latency_ms", "queued_ms", "error"}
    assert records[0]["where"] == rec.url.rsplit("/", 1)[0] and json.dumps(records)


def test_an_event_without_an_event_loop_is_recorded_not_raised() -> None:
    notifier = Notifier([Target("http://127.0.0.1:9/hook", name="t")])
    notifier.event(EVENT)  # a synchronous caller: nothing to deliver from, and the caller goes on
    [record] = notifier.recent
    assert (record.outcome, record.error) == ("dropped", "no event loop to deliver from")
