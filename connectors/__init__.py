"""The systems approved actions touch. Each connector: validate(fields), preview(fields), apply(fields, key),
plus `resend_safe` (does the far side dedupe on the key?) and `unavailable()` (why it can't run now)."""
