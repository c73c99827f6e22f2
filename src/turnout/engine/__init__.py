"""The engine: the only place that knows the order of steps.

orchestrator  deploy, validate, switch, rollback, resume, retire: the seed's lifecycle in order
journal       the only writer of state: phase table check, compare-and-swap save, audit, notify
phases        the legal phase transitions, one table
gate          checks before the switch, measured on a schedule and judged (Argo's analysis)
watch         the live color after the switch; a trigger that fires rolls back
"""
