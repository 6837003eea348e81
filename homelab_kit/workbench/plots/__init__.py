"""Charts as functions returning a matplotlib Figure: `backups`, `capacity`, `restore`, `deploys`;
`common` holds the shared figure helpers and `each` (one chart per frame)."""
