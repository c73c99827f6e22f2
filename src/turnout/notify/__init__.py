"""Notifications: turnout's audit events to Slack, Teams, Discord, Google Chat, JSON receivers or a
template, signed, retried and recorded; and the hook executables.

notifier     the Notifier the journal calls for every audit entry; hooks
targets      one [[notify]] entry resolved (URL, secret, events filter)
formats      one event as each receiver documents its messages (pure)
signing      the HMAC-SHA256 signature headers, and how a receiver verifies them
delivery     the background worker per target: bounded queue, retries with backoff, records
deliverylog  the delivery records, one JSON line each, in the state folder
"""

from turnout.notify.notifier import HOOKS, Notifier

__all__ = ["HOOKS", "Notifier"]
