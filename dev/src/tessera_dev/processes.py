"""How a platform process is started locally: interpreter, environment, and never an orphan.

Shared by the launcher and the test harness so both run a service exactly the same way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Mapping, Sequence

_PR_SET_PDEATHSIG = 1


def local_argv(argv: Sequence[str]) -> list[str]:
    """The platform's commands say `python` (as in an image); locally it is this interpreter."""
    return [sys.executable if part == "python" else part for part in argv]


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with the process's settings on top (the settings always win)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **settings}


def die_with_parent() -> None:
    """`preexec_fn`: ask Linux to SIGTERM the child if the launcher or pytest dies abruptly.

    Children run in their own session (so a terminal's Ctrl-C reaches only the launcher, which
    then stops them in order); this keeps a crashed parent from leaving services on the ports.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
