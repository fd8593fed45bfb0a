"""How a platform process is started locally: interpreter, environment, and never an orphan.

Shared by the launcher and the test harness so both run a service exactly the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

_ORPHAN_GUARD = """\
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; kept across exec
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent died before we asked
os.execvp(sys.argv[2], sys.argv[2:])
"""


def local_argv(argv: Sequence[str]) -> list[str]:
    """The platform's commands say `python` (as in an image); locally it is this interpreter,
    started so that it never outlives its parent (`die_with_parent`)."""
    command = [sys.executable if part == "python" else part for part in argv]
    return die_with_parent(command)


def die_with_parent(command: Sequence[str]) -> list[str]:
    """`command`, wrapped to get SIGTERM if the launcher or pytest dies abruptly (Linux).

    Children run in their own session (so a terminal's Ctrl-C reaches only the launcher, which
    then stops them in order); this keeps a crashed parent from leaving services on the ports.

    A wrapper that execs the command, not a `preexec_fn`: a `preexec_fn` makes Python fork
    instead of vfork, fork runs gRPC's at-fork handlers, which restart its poller thread in the
    child, and closing the inherited fds before exec then aborts that thread now and then
    ("epoll_wait error: Bad file descriptor", exit -6) when the parent holds a gRPC channel,
    as the e2e tests do. The wrapper is a second interpreter start (some 20 ms), then the
    command itself, in the same process.
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-S", "-c", _ORPHAN_GUARD, str(os.getpid()), *command]


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with the process's settings on top (the settings always win)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **settings}
