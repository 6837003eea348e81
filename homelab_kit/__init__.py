"""homelab_kit."""
