"""In-memory fakes of every port, used by the core's unit tests and handy in a REPL. They keep the same promises
as the Redis adapters: revision checks on commit, first-claim-wins, hand-over/outcome records. `fake_core`
(`orchestrator.fakes.core`) builds a `Core` on them, any port replaced by keyword."""
