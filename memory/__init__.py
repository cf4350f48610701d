"""Deputy's state in Redis: the ledger (a Redis Stream), tasks and proposals, idempotency records, event
dedupe keys; and (later) semantic recall behind one port."""
