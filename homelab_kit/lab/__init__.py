"""The model: one validated inventory (lab.toml) as Lab, Host, Service and Backup objects.

Entry points: `model.load_lab(path)`, `Lab` (selectors, derived backup paths, frames, HTML),
`lint.lint_lab`, `schema.check_document`, `timespec.parse_duration`. Imports only errors and
journal; the Lab's convenience methods (`run`, `facts`, `deploy`, `runner`) reach up lazily.
"""
