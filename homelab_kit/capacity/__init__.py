"""Capacity planning: when does each filesystem, pool and backup repository fill up?

Entry points: `forecast.forecast(lab)`, `forecast.alerts`, `whatif.what_if` with scenarios
(`add_service`, `bigger_disk`, `retention_change`); `fit` (Theil–Sen), `sizes` (pure sizes),
`sources` (the only I/O: journal and restic).
"""
