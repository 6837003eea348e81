"""Facts about hosts: each fact is an argv plus a pure parser (pyinfra-style).

Entry points: `gather.gather(lab, on=...)` (journaled, a DataFrame), `gather.host_facts`, and the
parsers in `parsers` (text in, values out).
"""
