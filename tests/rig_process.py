"""What the real-server rigs (imap_rig.py, postfix_rig.py) share: a server process that cannot outlive
the test process, free ports, polling with a deadline, and folders the servers' own users can reach.

    server = WatchedProcess(["dovecot", "-F", "-c", conf], log=folder / "dovecot.out").start()
    wait_until(lambda: greets(port), 15, "Dovecot to greet", server)
    ...
    server.stop(terminate=lambda: os.kill(pid, signal.SIGTERM))

The server runs under a small ``sh`` watchdog in a process group of its own. The watchdog holds the read
end of a pipe whose write end only this (the test) process has: when the test process ends — even by
SIGKILL — the pipe reads EOF and the watchdog sends SIGTERM to the whole group, so no Dovecot or Postfix
is left listening after a crashed run. ``stop(terminate, timeout)`` ends the server its own way first
(``terminate``, when given), then SIGTERM to the group, then SIGKILL to whatever is left after
``timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# fd 3 is the pipe from the test process; the server gets neither it nor a terminal on stdin.
_WATCHDOG = """exec 3<&0 </dev/null
"$@" 3<&- &
server=$!
{ read -r line <&3; kill -TERM 0; } &
wait "$server"
"""


class RigError(RuntimeError):
    """A rig could not start: the message says what to do (usually: run `make test`)."""


def require(binary: str, package: str) -> str:
    """The path of a server binary, or a RigError that says how to install it (tests never skip)."""
    found = shutil.which(binary, path=SBIN_PATH + ":" + os.environ.get("PATH", ""))
    if not found:
        raise RigError(
            f"{binary} is not installed: run `make test`, which installs Debian's {package} "
            "(scripts/install-mail-servers.sh)"
        )
    if os.geteuid() != 0:
        raise RigError(f"the {binary} rig must run as root (its daemons switch to their own users)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    server: WatchedProcess | None = None,
    interval: float = 0.02,
) -> object:
    """Poll ``condition`` until it returns something true; TimeoutError naming ``what`` otherwise.

    With ``server``, a server that exited meanwhile raises RigError at once, with the end of its log."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if server is not None and not server.running:
            raise RigError(f"{server.name} exited while waiting for {what}:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            tail = f"\n{server.log_tail()}" if server is not None else ""
            raise TimeoutError(f"waited {timeout} s for {what}{tail}")
        time.sleep(interval)


def reachable_folder(prefix: str) -> Path:
    """A fresh folder in the system temp dir that the servers' unprivileged users can traverse (0711).

    pytest's own temp folders sit under /tmp/pytest-of-root (0700): Postfix's daemons, running as the
    user postfix, cannot reach a queue there. Remove it with ``shutil.rmtree`` (the rigs do, at stop)."""
    parent = Path(tempfile.gettempdir())
    for folder in (parent, *parent.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            parent = Path("/tmp")  # noqa: S108 - a TMPDIR others cannot traverse; /tmp is 1777
            break
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(0o711)
    return folder


class WatchedProcess:
    """``argv`` as a child in its own process group, ended with the test process (see the module doc)."""

    def __init__(self, argv: Sequence[str], *, log: Path, name: str | None = None, cwd: Path | None = None):
        self.argv, self.log, self.cwd = list(argv), log, cwd
        self.name = name or Path(argv[0]).name
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WatchedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                ["sh", "-c", _WATCHDOG, "watchdog", *self.argv],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no output)"

    def stop(self, terminate: Callable[[], object] | None = None, timeout: float = 15.0) -> None:
        """``terminate()`` (the server's own stop) if given, then EOF to the watchdog, which sends SIGTERM
        to the group; whatever is still in the group after ``timeout`` seconds gets SIGKILL."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if terminate is not None and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
                terminate()  # on failure the group is ended below either way
            _wait(proc, timeout)
        assert proc.stdin is not None
        proc.stdin.close()
        _wait(proc, timeout)
        if not _group_gone(proc.pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group. Zombies do not count: PID 1 may take seconds to reap them."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            members.append(int(entry.name))
    return members
