"""docker compose files: `parse.load_compose/parse_compose`, `parts` (mounts, ports, env),
`toml.propose_toml` (proposed `[services.*]` tables)."""
