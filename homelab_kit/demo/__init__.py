"""The demo lab: three hosts, eleven services, 90 days of real restic history, disk facts.

Entry point: `build.build_demo(dir)`. `data` says what the lab holds, `state` and `services` what
each day changes, `facts` the disk history, `key` the cheap KDF key of its throw-away repositories.
"""
