"""Every error Deputy raises on purpose derives from `DeputyError`, so adapters can turn any of them into a
clear reply without catching bugs by accident.

    DeputyError
    ├── ConfigError          a setting is missing or wrong (exit 2 at start)
    ├── BadRequest           the operator's input cannot be used (empty, too long, bad address…)
    │   └── Ambiguous        it could mean several proposals: the operator is shown them to choose
    ├── NotFound             no task, proposal or memory record with that id
    ├── PolicyDenied         this actor may not do this
    ├── AlreadyDecided       the proposal was decided before (first decision wins)
    ├── StaleVersion         the decision names a version that was superseded
    ├── InvalidTransition    a state machine was asked for an illegal move (a bug, not user input)
    ├── Conflict             a concurrent writer changed the record first; reload and retry
    ├── ConnectorError       a connector could not do its job
    │   ├── TransientConnectorError   nothing was delivered; safe to retry with the same key
    │   │   └── CircuitOpen           the connector (or a model provider) is paused after repeated failures
    │   └── PermanentConnectorError   retrying will not help; the operator must act
    ├── ModelError           a model call failed
    │   ├── ModelTransient   worth retrying (429, 5xx, timeout); `retry_after` when the provider said
    │   │   ├── ModelUnreachable  nothing answered (refused, reset, dropped): the server may be restarting
    │   │   └── ModelTimeout      no answer in time: a local server may still be computing it
    │   ├── ModelPermanent   retrying won't help (bad key, unknown model, bad request)
    │   │   └── ModelRefused      the server can't take this shape of request (a response format, a system role)
    │   └── ModelUnavailable every model Deputy may use failed; the message is for the operator
    │       └── ModelPaused   its provider's breaker is open until `open_until`: the task waits, then drafts
    ├── BudgetExceeded       the next model call would pass today's cap: the task pauses and the operator is asked
    ├── DraftError           the agent can't produce a usable draft; the message is for the operator
    │   └── DraftInvalid     a model's answer doesn't fit the step's schema (sent back to the model for one repair)
    └── RecallError          the memory backend failed (e.g. Weaviate refused a batch)
"""

from __future__ import annotations


class DeputyError(Exception):
    """Base of every intended error; `str(err)` is a sentence fit to show the operator."""


class ConfigError(DeputyError):
    pass


class BadRequest(DeputyError):
    pass


class Ambiguous(BadRequest):
    """`choices`: the proposal ids it could mean; the bus shows them with their buttons."""

    def __init__(self, message: str, *, choices: list[str]) -> None:
        super().__init__(message)
        self.choices = choices


class NotFound(DeputyError):
    pass


class PolicyDenied(DeputyError):
    pass


class AlreadyDecided(DeputyError):
    pass


class StaleVersion(DeputyError):
    """`proposal_id`: the bus shows the current card with the refusal."""

    def __init__(self, message: str, *, proposal_id: str = "") -> None:
        super().__init__(message)
        self.proposal_id = proposal_id


class InvalidTransition(DeputyError):
    pass


class Conflict(DeputyError):
    pass


class ConnectorError(DeputyError):
    pass


class TransientConnectorError(ConnectorError):
    pass


class PermanentConnectorError(ConnectorError):
    pass


class CircuitOpen(TransientConnectorError):
    """`just_opened` is true for the one failure that opened the circuit: the operator is told then, once.
    `open_until` (a unix time) is when calls are let through again: work that meets the open circuit waits
    until then instead of failing (orchestrator/handlers/applying.py)."""

    def __init__(self, message: str, *, just_opened: bool = False, open_until: float | None = None) -> None:
        super().__init__(message)
        self.just_opened = just_opened
        self.open_until = open_until


class ModelError(DeputyError):
    pass


class ModelTransient(ModelError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelUnreachable(ModelTransient):
    pass


class ModelTimeout(ModelTransient):
    pass


class ModelPermanent(ModelError):
    pass


class ModelRefused(ModelPermanent):
    """`what`: "format" (a response format it does not take) or "system" (its chat template has no system role):
    a capability answer, so Deputy asks again in a shape it takes, never a reason to retry the same request."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


class ModelUnavailable(ModelError):
    pass


class ModelPaused(ModelUnavailable):
    """The model's provider is paused by its breaker until `open_until` (a unix time): the drafting waits until
    then and runs again (agents/jobs.py), a bounded number of times, rather than failing the task."""

    def __init__(self, message: str, open_until: float) -> None:
        super().__init__(message)
        self.open_until = open_until


class BudgetExceeded(DeputyError):
    def __init__(self, spent: float, cap: float, date: str) -> None:
        super().__init__(f"today's model budget is used up (${spent:.4f} of ${cap:.2f})")
        self.spent, self.cap, self.date = spent, cap, date


class DraftError(DeputyError):
    pass


class DraftInvalid(DraftError):
    pass


class RecallError(DeputyError):
    pass
