"""Progress bars for people, silence for logs.

tqdm.auto draws a widget in notebooks and a bar in terminals. The CLI sets HOMELAB_NO_PROGRESS when
stderr is not a terminal (a systemd timer, cron, a pipe), so the journal gets no bar fragments.
"""

from __future__ import annotations

import os
from typing import Any

NO_PROGRESS_ENV = "HOMELAB_NO_PROGRESS"


def progress_bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A tqdm.auto bar, off when `enabled` is false or the environment asks for quiet."""
    from tqdm.auto import tqdm

    quiet = bool(os.environ.get(NO_PROGRESS_ENV))
    return tqdm(iterable, disable=not enabled or quiet, **kwargs)
