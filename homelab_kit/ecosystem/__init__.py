"""Meeting the ecosystem: import from compose files and Nix, export to Ansible and Prometheus.

Rooms: `compose` (parse real compose files, propose lab.toml tables), `nix` (the real nix
evaluator → lab.toml), `export` (Ansible inventory, Prometheus textfiles).
"""
