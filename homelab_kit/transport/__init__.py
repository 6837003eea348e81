"""Transport: one `run(argv)` for every way of reaching a host, and many hosts at once.

Entry points: `runner.Result`, `runner.Runner`, `runner.LocalRunner`, `ssh.SshRunner` (fabric,
pinned or known host keys only: `hostkeys`), `fanout.run_on` (one result per host), and
`fake.FakeRunner` for pure step-builder tests.
"""
