"""Restore tests that prove the data comes back, and the guarded in-place restore.

Entry points: `scratch.restore_test`, `scratch.verify_restore`, `inplace.restore_in_place`,
`history.restore_history`, `report.RestoreReport`. `session` opens a snapshot for all of them;
`verify`, `compare`, `tree` and `dump_hash` do the node-by-node and byte-by-byte checking.
"""
