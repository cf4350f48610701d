"""The domain model in one import: tasks (`orchestrator.tasks`, the aggregate that owns its proposal),
proposals (`orchestrator.proposals`), their states (`orchestrator.statuses`), staged actions, actors and
drafts. Many modules name these together; each lives in the module named after it."""

from __future__ import annotations

from orchestrator.actions import ActionStatus as ActionStatus
from orchestrator.actions import StagedAction as StagedAction
from orchestrator.actors import Actor as Actor
from orchestrator.actors import ChatRef as ChatRef
from orchestrator.actors import Decision as Decision
from orchestrator.actors import MemoryAsk as MemoryAsk
from orchestrator.actors import Revising as Revising
from orchestrator.actors import Verdict as Verdict
from orchestrator.drafts import Draft as Draft
from orchestrator.drafts import ProposalDraft as ProposalDraft
from orchestrator.drafts import Reply as Reply
from orchestrator.proposals import Proposal as Proposal
from orchestrator.proposals import retitled as retitled
from orchestrator.statuses import PROPOSAL_MOVES as PROPOSAL_MOVES
from orchestrator.statuses import SUMMARY_CHARS as SUMMARY_CHARS
from orchestrator.statuses import TASK_MOVES as TASK_MOVES
from orchestrator.statuses import TASK_TERMINAL as TASK_TERMINAL
from orchestrator.statuses import ProposalStatus as ProposalStatus
from orchestrator.statuses import TaskStatus as TaskStatus
from orchestrator.tasks import Task as Task
