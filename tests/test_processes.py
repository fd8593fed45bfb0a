"""A platform process started locally is its command, and never outlives its parent."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

PARENT = """\
import subprocess, sys, time
from tessera_dev.processes import local_argv
child = subprocess.Popen(local_argv(["python", "-c", "import time; time.sleep(120)"]))
print(child.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_is_its_command_and_is_terminated_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while "time.sleep(120)" not in " ".join(psutil.Process(child_pid).cmdline()):
            assert time.monotonic() < deadline, "the wrapper never became the command"
            time.sleep(0.05)

        parent.kill()  # no chance to stop its children: only the kernel can
        parent.wait()

        deadline = time.monotonic() + 30
        while not _gone(child_pid):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
