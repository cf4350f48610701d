"""The console channel: a terminal REPL (or piped lines) that doubles as the end-to-end test harness."""
