"""The systems approved actions touch, one module per kind: `TRAITS` (what Deputy knows about the kind), `Values`
(its own settings), `build(values, redis)`, an optional `doctor(values)`, and the connector itself —
validate(fields), preview(fields), apply(fields, key), `resend_safe` and `unavailable()` (docs/connectors.md)."""
