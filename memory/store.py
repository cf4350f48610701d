"""Tasks, proposals and the ledger in Redis. One Lua script commits records and ledger events together,
checking each record's revision first, so concurrent writers (50 simultaneous clicks) resolve to one."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from memory import codec, faults, keys
from orchestrator.errors import Conflict
from orchestrator.events import Event
from orchestrator.model import Proposal, Task
from orchestrator.ports import Record
from orchestrator.statuses import TASK_TO_SHOW

# A Lua function for scripts that append ledger events: ARGV from `pos` to the end are events, each its field
# count, then field, value, … (`events_args`); each counted in the metrics as it is appended.
APPEND_EVENTS = """
local function append_events(ledger, pos)
  while pos <= #ARGV do
    local count = tonumber(ARGV[pos])
    local entry = {}
    for j = 1, count * 2 do entry[j] = ARGV[pos + j] end
    redis.call('XADD', ledger, '*', unpack(entry))
    redis.call('HINCRBY', 'deputy:metrics:events', entry[2], 1)
    for j = 1, #entry - 1, 2 do
      if entry[j] == 'kind' and entry[j + 1] ~= '' then
        redis.call('HINCRBY', 'deputy:metrics:actions', entry[2] .. '|' .. entry[j + 1], 1)
      end
    end
    pos = pos + 1 + count * 2
  end
end
"""

# KEYS: record keys…, ledger.  ARGV: n, then per record (rev, data, kind, id, status),
# then per event (field count, field, value, …). Returns 0 and the first stale key on a conflict (nothing
# written), else 1.
COMMIT = (
    APPEND_EVENTS
    + """
local TO_SHOW = {"""
    + ", ".join(f"{s.value} = true" for s in sorted(TASK_TO_SHOW))
    + """}
local n = tonumber(ARGV[1])
for i = 1, n do
  local rev = redis.call('HGET', KEYS[i], 'rev') or '0'
  if rev ~= ARGV[2 + (i - 1) * 5] then return {0, KEYS[i]} end
end
for i = 1, n do
  local base = 2 + (i - 1) * 5
  local kind, id, status = ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
  local old = redis.call('HGET', KEYS[i], 'status')
  redis.call('HSET', KEYS[i], 'data', ARGV[base + 1], 'rev', tonumber(ARGV[base]) + 1, 'status', status)
  if old ~= status then
    if old then redis.call('SREM', 'deputy:idx:' .. kind .. ':' .. old, id) end
    redis.call('SADD', 'deputy:idx:' .. kind .. ':' .. status, id)
    if kind == 'task' then
      if TO_SHOW[status] then
        local t = redis.call('TIME')
        redis.call('ZADD', 'deputy:unshown', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), id)
      else
        redis.call('ZREM', 'deputy:unshown', id)
      end
    end
  end
end
append_events(KEYS[n + 1], 2 + n * 5)
return {1, ''}
"""
)

# KEYS: the ledger, a guard key. ARGV: the guard's value, then events as COMMIT takes them. The events are appended
# only by the call that sets the guard: {1, ''}, else {0, ''} and nothing written.
ONCE = (
    """
if not redis.call('SET', KEYS[2], ARGV[1], 'NX') then return {0, ''} end
ARGV[1] = '0'
"""
    + COMMIT
)

# KEYS: the task's record, the unshown set. ARGV: the status shown, the message's reference ('' to keep), the
# task id. The task leaves the unshown set only if the status shown is still its status.
SHOWN = """
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'ref', ARGV[2]) end
if redis.call('HGET', KEYS[1], 'status') == ARGV[1] then redis.call('ZREM', KEYS[2], ARGV[3]) end
return 1
"""

# KEYS: the claim. ARGV: owner, ttl. 1 when the claim is new or already this owner's (a redelivery of the same
# stored delivery, after a crash), else 0.
CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

# A Lua function: the id `map_key` maps to, or `candidate` (unless it was issued before). {0, id}: mapped
# before; {1, id}: the candidate, now issued and mapped for `ttl` s; {2, ''}: issued before (draw another).
ID_FOR_FN = """
local function id_for(map_key, issued_key, candidate, ttl)
  local have = redis.call('GET', map_key)
  if have then return {0, have} end
  if not redis.call('SET', issued_key, '1', 'NX') then return {2, ''} end
  redis.call('SET', map_key, candidate, 'EX', ttl)
  return {1, candidate}
end
"""

# KEYS: the id a key maps to, the candidate's issued-id key. ARGV: candidate, ttl.
ID_FOR = ID_FOR_FN + "return id_for(KEYS[1], KEYS[2], ARGV[1], ARGV[2])\n"

# KEYS: the claim, then ID_FOR's. ARGV: ID_FOR's, then the claim's owner (not ''). {-1, ''}: claimed by another;
# else ID_FOR's answer: the claim (CLAIM's rule, its ttl the id's) and the id in one write.
CLAIM_WITH_ID = (
    ID_FOR_FN
    + """
if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[2]) and redis.call('GET', KEYS[1]) ~= ARGV[3] then
  return {-1, ''}
end
return id_for(KEYS[2], KEYS[3], ARGV[1], ARGV[2])
"""
)

log = logging.getLogger("deputy.ledger")
DATA_OF = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 'data') end
return out
"""
DATA_OF_KEYS = 1000
"""Records read per call of DATA_OF: a thousand HGETs hold Redis well under a millisecond."""


async def record_data(redis: Redis, names: Sequence[bytes | str]) -> list[str | None]:
    """The `data` of each named record (None where there is none), a thousand to a call: `deputy replay` reads
    every record, and a pipelined HGET per key cost redis-py a packed command, a timeout and a parsed reply each
    (a quarter more time for 20k records)."""
    script, found = redis.register_script(DATA_OF), []
    for start in range(0, len(names), DATA_OF_KEYS):
        found += await script(keys=list(names[start : start + DATA_OF_KEYS]))
    return [codec.text(data) if data else None for data in found]


STEP_TTL_S = 3600
"""A running task's step outlives no task (a job's time limit is 10 minutes by default)."""
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 7


def new_candidate(prefix: str) -> str:
    """A short, typeable id (`t4k9x2mq`); the store makes sure it was never handed out before."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def events_args(events: Sequence[Event]) -> list[str | int]:
    """The events as the scripts take them (APPEND_EVENTS): per event its field count, then field, value, …."""
    args: list[str | int] = []
    for event in events:
        fields = codec.event_fields(event)
        args += [len(fields), *(item for pair in fields.items() for item in pair)]
    return args


def _kind(record: Record) -> str:
    return "task" if isinstance(record, Task) else "proposal"


class RedisStore:
    """Serves three of the core's ports over one Redis: `TaskStore` (records and ledger, committed together),
    `Ids` (never-reused ids) and `Claims` (dedupe, leases, counts)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._commit = redis.register_script(COMMIT)
        self._claim = redis.register_script(CLAIM)
        self._id_for = redis.register_script(ID_FOR)
        self._claim_with_id = redis.register_script(CLAIM_WITH_ID)
        self._shown = redis.register_script(SHOWN)
        self._once = redis.register_script(ONCE)

    async def get_task(self, task_id: str) -> Task | None:
        found = await self._load("task", task_id)
        return found if isinstance(found, Task) else None

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        found = await self._load("proposal", proposal_id)
        return found if isinstance(found, Proposal) else None

    async def _load(self, kind: str, record_id: str) -> Record | None:
        """The record with `rev` from the hash: the JSON blob was written before the script bumped it."""
        raw, rev, ref = await self.redis.hmget(keys.record(kind, record_id), ["data", "rev", "ref"])
        if raw is None:
            return None
        record = codec.load_record(kind, raw)
        record.rev = int(codec.text(rev) or 0)
        if isinstance(record, Task) and ref and not record.message_ref:
            record.message_ref = codec.text(ref)  # posted after the commit, kept beside the record (`shown`)
        return record

    async def shown(self, task_id: str, status: str, ref: str = "") -> None:
        """The chat has the task's message for `status` (posted at `ref` when new): it leaves the unshown set,
        unless the task moved on meanwhile, and a later re-show edits that message instead of posting again."""
        await self._shown(keys=[keys.record("task", task_id), keys.UNSHOWN], args=[status, ref, task_id])

    async def keep_ref(self, task_id: str, ref: str) -> None:
        """`HSETNX` beside the record (read back by `_load`): a few bytes in the AOF, where a commit of the task
        wrote all of its JSON again, and no revision to lose to a worker that took the task meanwhile."""
        await self.redis.hsetnx(keys.record("task", task_id), "ref", ref)

    async def set_step(self, task_id: str, step: str) -> None:
        await self.redis.set(keys.step(task_id), step, ex=STEP_TTL_S)

    async def steps(self, task_ids: Sequence[str]) -> dict[str, str]:
        found = await self.redis.mget([keys.step(t) for t in task_ids]) if task_ids else []
        return {t: codec.text(v) for t, v in zip(task_ids, found, strict=True) if v is not None}

    async def unshown(self, older_than_s: float = 0) -> list[str]:
        """Tasks whose committed state (a card, an outcome) the chat may not have yet, oldest first."""
        seconds, micros = await self.redis.time()  # Redis's clock, the one the commit stamped them with
        found = await self.redis.zrangebyscore(keys.UNSHOWN, 0, seconds * 1000 + micros // 1000 - older_than_s * 1000)
        return [codec.text(t) for t in found if isinstance(t, str | bytes)]

    def append_on(self, client: Any, events: Sequence[Event]) -> Any:
        """Queue ledger events (no records) on a pipeline that carries other writes for one round trip."""
        return self._commit(keys=[keys.LEDGER], args=[0, *events_args(events)], client=client)

    async def append_once(self, guard: str, value: str, events: Sequence[Event]) -> bool:
        """Set `guard` to `value` and append the events, in one step, unless `guard` exists (then nothing is
        written, False): what is recorded once per item, however often the item is handled."""
        written, _ = await self._once(keys=[keys.LEDGER, guard], args=[value, *events_args(events)])
        return bool(int(written))

    async def commit(self, records: Sequence[Record], events: Sequence[Event]) -> None:
        """Write the records and append the events, all or nothing. The store owns revisions: each record's
        `rev` must match what is stored (else `Conflict`, nothing written) and is bumped once written."""
        args: list[str | int] = [len(records)]
        for r in records:
            args += [str(r.rev), codec.dump(r), _kind(r), r.id, r.status.value]
        args += events_args(events)
        record_keys = [keys.record(_kind(r), r.id) for r in records]
        written, stale = await self._commit(keys=[*record_keys, keys.LEDGER], args=args)
        if not int(written):
            raise Conflict(f"{codec.text(stale)} was changed by someone else first")
        for record in records:
            record.rev += 1
        self._log(events)
        for event in events:
            faults.point(event.type)

    @staticmethod
    def _log(events: Sequence[Event]) -> None:
        for event in events:
            log.info(
                "%s task=%s proposal=%s %s",
                event.type,
                event.task_id,
                event.proposal_id or "-",
                event.summary,
                extra={"event": event.type, "task": event.task_id, "proposal": event.proposal_id, "actor": event.actor},
            )

    async def new_id(self, prefix: str) -> str:
        while True:
            candidate = new_candidate(prefix)
            if await self.redis.set(keys.issued_id(candidate), 1, nx=True):
                return candidate

    async def id_for(self, key: str, prefix: str, ttl_seconds: int) -> tuple[str, bool]:
        """The id `key` maps to, and whether it is new: the same delivery handled twice gets the same id."""
        code, found = await self._mapped(self._id_for, key, prefix, ttl_seconds)
        return found, code == 1

    async def _mapped(
        self, script: Any, key: str, prefix: str, ttl_seconds: int, head: Sequence[str] = (), tail: Sequence[str] = ()
    ) -> tuple[int, str]:
        """A script built on ID_FOR_FN (its own keys and arguments around ID_FOR's), called until the candidate
        drawn was never issued before; its code and id."""
        while True:
            candidate = new_candidate(prefix)
            names = [*head, keys.id_for(key), keys.issued_id(candidate)]
            code, found = await script(keys=names, args=[candidate, ttl_seconds, *tail])
            if int(code) != 2:
                return int(code), codec.text(found)

    async def claim(self, key: str, ttl_seconds: int, owner: str = "") -> bool:
        return bool(await self._claim(keys=[keys.claim(key)], args=[owner, ttl_seconds]))

    async def claim_with_id(self, key: str, ttl_seconds: int, owner: str, id_key: str) -> tuple[bool, str]:
        if not owner:
            raise ValueError("a claim that reserves an id needs its owner, to be granted again when an id is drawn")
        code, found = await self._mapped(self._claim_with_id, id_key, "t", ttl_seconds, [keys.claim(key)], [owner])
        return code != -1, found

    async def tally(self, key: str, ttl_seconds: int) -> int:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.claim(key), 0, ex=ttl_seconds, nx=True)  # the window opens with the first (no EXPIRE NX in 6)
        pipe.incr(keys.claim(key))
        _, count = await pipe.execute()
        return int(count)

    async def release(self, key: str) -> None:
        await self.redis.delete(keys.claim(key))

    async def ids(self, kind: str, status: str) -> list[str]:
        members = await self.redis.smembers(keys.index(kind, status))
        return sorted(str(m) for m in members)
