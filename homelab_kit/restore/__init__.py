"""Restore tests that prove the data comes back and the applications open it; drills that prove a
host comes back; the guarded in-place restore.

Entry points: `scratch.restore_test`, `scratch.verify_restore`, `drill.drill` (a whole host onto a
spare one, timed), `inplace.restore_in_place`, `history.restore_history` / `drill_history`,
`report.RestoreReport`, `drill_report.DrillReport`. `session` opens a snapshot for all of them;
`verify`, `compare`, `tree` and `dump_hash` do the node-by-node and byte-by-byte checking;
`appcheck` runs `probe` (the host side) and `apps` judges what it found.
"""
