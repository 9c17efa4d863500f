"""Everything both front ends (the daemon and its CLI, the workbench) know about a case.

- `queries`: the read model (lists, the case page, `find_case`); nothing there writes.
- `commands`: the writes (decisions, assignment, notes, new versions), in the caller's transaction.
- `outbox`: rendering replies and queueing them; sending them is the daemon's (`intake.sending`).
- `layout`: every path under the storage root.
- `company`, `tracking`, `retention`: the company record, tracking numbers, deleting after a decision.

The modules are imported by name, not re-exported here: the message parser needs `tracking` alone,
and importing this package must not load the database layer for it (see tests/test_cli_imports.py).
"""
