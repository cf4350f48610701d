"""Each call a connector makes to the outside world has its own deadline, shorter than the job that makes it:
a stalled server fails the attempt (and the hand-over rule decides what the operator is told), never the job,
so the worker's process is never interrupted mid-call and keeps serving."""

from __future__ import annotations

SHARE_OF_JOB = 0.5
"""An attempt may take at most this share of DEPUTY_JOB_TIMEOUT_S, leaving the rest for recording its outcome."""


def deadline_s(job_timeout_s: float, cap_s: float) -> float:
    """The deadline of one call: the connector's own cap, or half the job's timeout when that is shorter."""
    return max(1.0, min(cap_s, job_timeout_s * SHARE_OF_JOB))
