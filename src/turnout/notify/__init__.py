"""Notifications: turnout's audit events to Slack, Teams, Discord, Google Chat, JSON receivers or a
template, signed, retried and recorded; and the hook executables.

notifier     the Notifier the journal calls for every audit entry; hooks
targets      one [[notify]] entry resolved (URL, secret, events filter)
formats      one event as each receiver documents its messages (pure)
signing      the HMAC-SHA256 signature headers, and how a receiver verifies them
delivery     the background worker per target: bounded queue, retries with backoff, records
deliverylog  the delivery records, one JSON line each, in the state folder

The Notifier is imported on first use, so `turnout notify log` (the log alone) loads no HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout.notify.notifier import HOOKS, Notifier

__all__ = ["HOOKS", "Notifier"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from turnout.notify import notifier

        return getattr(notifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
