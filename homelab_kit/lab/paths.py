"""Host paths as the lab writes them (absolute, normalised strings): is one inside another?

Plain string logic, so it works the same for paths on any host and costs nothing per call."""

from __future__ import annotations


def within(path: str, root: str) -> bool:
    """`path` is `root` or below it ("/" holds every path)."""
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")
