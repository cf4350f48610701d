"""The handlers: plain async functions `handler(command, core) -> Outcome | None`, grouped by what they are
about — tasks, decisions, applying, views (read-side texts), reminders, budget — and routed by the bus's one
table (orchestrator/coordinator.py). None of them calls the bus: follow-up work is returned as commands."""
