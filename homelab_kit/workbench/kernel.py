"""Kernels for headless notebook runs: private sockets, and a shutdown that does not interrupt.

Two things jupyter_client does by default make every timer's log noisy, and both are fixed here at
their cause rather than by muting a logger:

- it talks to the kernel over loopback TCP, which any local user can connect to; ipykernel rightly
  warns "Kernel is running over TCP without encryption" on every start. `headless_kernel()` puts
  ZeroMQ on Unix sockets in a private (0700), short-lived folder instead;
- it sends SIGINT before every shutdown, in case the kernel is busy. When the signal lands while
  the kernel is still finishing a message, the kernel logs "KeyboardInterrupt caught in kernel."
  and ignores the shutdown request, so the run waits for SIGTERM (about 3 s). A headless run shuts
  the kernel down only after its cells are done or timed out, so `HeadlessKernelManager` asks it
  to shut down without the interrupt (a kernel that does not answer still gets SIGTERM, then
  SIGKILL, from `finish_shutdown`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from jupyter_client.manager import AsyncKernelManager

if TYPE_CHECKING:
    from traitlets.config import Config


class HeadlessKernelManager(AsyncKernelManager):
    """AsyncKernelManager whose graceful shutdown does not SIGINT the kernel first."""

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        if now or not self.owns_kernel:
            await super().shutdown_kernel(now=now, restart=restart)
            return
        self.shutting_down = True  # the restarter must not bring it back
        self.stop_restarter()
        await self.request_shutdown(restart=restart)
        await self.finish_shutdown(restart=restart)
        await self.cleanup_resources(restart=restart)


@contextlib.contextmanager
def headless_kernel() -> Iterator[Config]:
    """Settings for a headless run; pass them as `config=` to papermill (or nbclient).

    The socket folder's path is short on purpose: a Unix socket path must fit in 107 bytes, which
    the kernel's runtime folder under a long $HOME would not.
    """
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="homelab-kernel-") as sockets:
        yield Config(
            {
                "NotebookClient": {"kernel_manager_class": HeadlessKernelManager},
                "KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "k")},
            }
        )


__all__ = ["HeadlessKernelManager", "headless_kernel"]
