"""Nix import: `evaluate.import_nix` (the real nix evaluator), `mapping` and `options` (evaluated
data → lab.toml entries), `toml.to_toml/merge_toml` (render or merge keeping comments)."""
