"""The first process of every sandbox: run the command, reap the whole box, report, exit with its code.

Usage (as bubblewrap's ``--as-pid-1`` command): python -m flcampaign.execution.box_init [--quiet] CMD [ARGS...]

In its own PID namespace this is pid 1, so every orphan of the box comes back to it; reaping them
is what makes the kernel add their CPU time to the box's, which the runner reads when it reaps the
sandbox. When the command ends, the box's other processes get a short grace to end by themselves,
then they are killed and counted. The count is the box's last line (``FLCAMPAIGN-BOX {...}``),
written when nothing else in the box is alive, so no candidate process can write after it.
"""

import ctypes
import json
import os
import signal
import sys
import time

BOX_MARK = "FLCAMPAIGN-BOX"
GRACE_S = 3.0
PR_SET_DUMPABLE = 4


def _reap(block: bool) -> int | None:
    """Reap one ended child; its pid, None when none has ended, -1 when there are no children left."""
    try:
        pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -1
    return pid or None


def main(argv: list[str]) -> int:
    quiet = argv[:1] == ["--quiet"]
    argv = argv[1:] if quiet else argv
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the box may trace or read this one
    child = os.fork()
    if child == 0:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(argv[0], argv)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: os.kill(child, number))
    try:
        _, status = os.waitpid(child, 0)
    except ChildProcessError:
        status = 0
    code = os.waitstatus_to_exitcode(status)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and _reap(False) != -1:
        time.sleep(0.05)
    stray = _alive()
    if stray:
        os.kill(-1, signal.SIGKILL)  # every process of this namespace but this one
    while _reap(True) != -1:
        pass
    if not quiet:
        os.write(2, f"\n{BOX_MARK} {json.dumps({'stray': stray, 'exit': code})}\n".encode())
    return code if code >= 0 else 128 - code


def _alive() -> int:
    """Processes of the box still running (zombies waiting to be reaped do not count)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                count += handle.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            continue
    return count


def last_report(text: str) -> dict | None:
    """The box's own last line, when the log ends with it (a box killed from outside writes none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith(BOX_MARK + " "):
        return None
    try:
        return json.loads(lines[-1][len(BOX_MARK) + 1 :])
    except json.JSONDecodeError:
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
