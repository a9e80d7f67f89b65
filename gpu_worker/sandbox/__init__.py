"""Uploaded code runs contained: the worker (trusted, with the job's AWS access) starts the algorithm in
a process of its own (confined, unprivileged, with no credentials) and serves it over a channel.

No re-exports here: the algorithm's process imports this package before it confines itself, so
importing it must cost nothing. Import from the modules: `launchers`, `host` (worker side), `runner`
(the algorithm's side)."""
