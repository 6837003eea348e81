"""Export: `ansible.ansible_yaml`, `prometheus` (pure metric renderers), `sources.write_textfiles`
(gathers from the capability rooms, one atomic file per source)."""
