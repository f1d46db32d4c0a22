"""What both real-server rigs share (tests/rig_process.py): no server outlives a killed test process,
and a missing server binary fails with what to do instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rig_process import RigError, group_members, require, wait_until

pytestmark = pytest.mark.mailserver
TESTS = Path(__file__).resolve().parent

# A test process that starts both rigs, says where they are, and then hangs until it is killed.
_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from imap_rig import ImapRig
from postfix_rig import PostfixRig
folder = Path(tempfile.mkdtemp(prefix="rig-crash-"))
dovecot, postfix = ImapRig(folder / "dovecot").start(), PostfixRig(folder / "postfix").start()
print(json.dumps({"folder": str(folder), "base": str(postfix.base),
                  "groups": [dovecot._server._proc.pid, postfix._server._proc.pid]}), flush=True)
time.sleep(600)
"""


def test_a_killed_test_process_takes_dovecot_and_postfix_along():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert child.stdout is not None
        started = json.loads(child.stdout.readline())
        groups = started["groups"]
        assert all(len(group_members(g)) >= 3 for g in groups)  # watchdog and server processes
        assert _commands_naming(started["folder"]) and _commands_naming(started["base"])  # the masters
        child.send_signal(signal.SIGKILL)  # no teardown, no atexit: only the watchdogs notice
        child.wait(10)
        wait_until(lambda: not any(group_members(g) for g in groups), 15, "the rigs' processes to end")
        assert _commands_naming(started["folder"]) == _commands_naming(started["base"]) == []  # masters too
    finally:
        child.kill()
        child.wait(10)
        if "started" in locals():
            shutil.rmtree(started["folder"], ignore_errors=True)
            shutil.rmtree(started["base"], ignore_errors=True)


def _commands_naming(path: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if path in args:
            found.append(args)
    return found


def test_a_missing_server_fails_and_says_to_run_make_test():
    with pytest.raises(
        RigError, match=r"^nosuchd is not installed: run `make test`, which installs Debian's nosuch"
    ):
        require("nosuchd", "nosuch")
