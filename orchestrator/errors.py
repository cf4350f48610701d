"""Every error Deputy raises on purpose derives from `DeputyError`, so adapters can turn any of them into a
clear reply without catching bugs by accident.

    DeputyError
    ├── ConfigError          a setting is missing or wrong (exit 2 at start)
    ├── BadRequest           the operator's input cannot be used (empty, too long, bad address…)
    ├── NotFound             no task or proposal with that id
    ├── PolicyDenied         this actor may not do this
    ├── AlreadyDecided       the proposal was decided before (first decision wins)
    ├── StaleVersion         the decision names a version that was superseded
    ├── InvalidTransition    a state machine was asked for an illegal move (a bug, not user input)
    ├── Conflict             a concurrent writer changed the record first; reload and retry
    └── ConnectorError       a connector could not do its job
        ├── TransientConnectorError   nothing was delivered; safe to retry with the same key
        │   └── CircuitOpen           the connector is paused after repeated failures
        └── PermanentConnectorError   retrying will not help; the operator must act
"""

from __future__ import annotations


class DeputyError(Exception):
    """Base of every intended error; `str(err)` is a sentence fit to show the operator."""


class ConfigError(DeputyError):
    pass


class BadRequest(DeputyError):
    pass


class NotFound(DeputyError):
    pass


class PolicyDenied(DeputyError):
    pass


class AlreadyDecided(DeputyError):
    pass


class StaleVersion(DeputyError):
    pass


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
    """`just_opened` is true for the one failure that opened the circuit: the operator is told then, once."""

    def __init__(self, message: str, *, just_opened: bool = False) -> None:
        super().__init__(message)
        self.just_opened = just_opened
