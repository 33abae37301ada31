"""Contained execution of untrusted commands: filtered environment, timeout, whole-tree kill.

NVFlare's simulator starts its workers with ``setsid`` (its own session), so killing our process
group is not enough: every process started for a run carries a random token in its environment,
and on exit or timeout all processes holding that token are killed too.
"""

import contextlib
import ctypes
import os
import resource
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

TOKEN_VARIABLE = "FLCAMPAIGN_RUN_TOKEN"
POLL_S = 0.5
EXIT_GRACE_S = 3.0
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # after a normal exit, stragglers get this long to finish on their own
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CUDA_VISIBLE_DEVICES", "SYSTEMROOT")


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None when killed on timeout or stall
    elapsed_s: float
    timed_out: bool
    stalled: bool  # killed because the progress measure stopped moving
    reaped: int  # processes still alive at the end (after a short grace) and killed by us
    flooded: bool = False  # killed because the output passed its cap


def filtered_env(extra: dict[str, str]) -> dict[str, str]:
    """Only the variables a simulation needs: no credentials, proxies or tool configuration leak in."""
    env = {key: os.environ[key] for key in PASSED_VARIABLES if key in os.environ}
    env.update({"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env.update(extra)
    return env


def _holders(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(TOKEN_VARIABLE) == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kill_tree(token: str, group: int | None) -> int:
    """SIGKILL the process group and every process carrying ``token``; returns how many were alive."""
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    victims = _holders(token)
    for proc in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def _wait_for_exit(token: str, grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    while _holders(token) and time.monotonic() < deadline:
        time.sleep(0.1)


def _child_setup(max_file_bytes: int | None) -> Callable[[], None]:
    """In the child before exec: die with the supervisor; no single file past ``max_file_bytes``."""

    def setup() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return setup


def reap_stale(token_file: Path) -> int:
    """Kill what an earlier, killed supervisor left running (its token is in ``token_file``)."""
    if not Path(token_file).is_file():
        return 0
    token = Path(token_file).read_text().strip()
    Path(token_file).unlink()
    return kill_tree(token, None) if token else 0


def run_contained(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    log_path: Path,
    stall_s: float | None = None,
    progress: Callable[[], int] | None = None,
    pass_fds: tuple[int, ...] = (),
    max_output_bytes: int | None = None,
    max_file_bytes: int | None = None,
    token_file: Path | None = None,
) -> Outcome:
    """Run ``cmd`` in its own session with stdout/stderr to ``log_path``; never leaves processes behind.

    ``progress()`` (by default the log size) measures output: with ``stall_s`` the run is killed
    when it has not changed for that long (a hung run stops long before the wall-clock budget), with
    ``max_output_bytes`` when it passes the cap (an output flood cannot fill the disk). A run whose
    main process exits normally gives its other processes a short grace before they are killed.
    The direct child dies with this process; ``token_file`` keeps the run's token so that a later
    attempt can reap (``reap_stale``) what survives a supervisor killed without warning.
    """
    token = secrets.token_hex(16)
    if token_file is not None:
        Path(token_file).write_text(token)
    env = {**env, TOKEN_VARIABLE: token}
    measure = progress or (lambda: log_path.stat().st_size if log_path.exists() else 0)
    start = time.monotonic()
    returncode: int | None = None
    timed_out = stalled = flooded = False
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds,
            preexec_fn=_child_setup(max_file_bytes),
        )
        last_seen, last_change = measure(), start
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if now - start >= timeout_s:
                    timed_out = True
                    break
                seen = measure()
                if max_output_bytes is not None and seen > max_output_bytes:
                    flooded = True
                    break
                if seen != last_seen:
                    last_seen, last_change = seen, now
                elif stall_s is not None and now - last_change >= stall_s:
                    stalled = True
                    break
        finally:
            if returncode is not None:
                _wait_for_exit(token, EXIT_GRACE_S)
            reaped = kill_tree(token, proc.pid)
            proc.wait()
            if token_file is not None:
                Path(token_file).unlink(missing_ok=True)
    if returncode is not None and max_output_bytes is not None and measure() > max_output_bytes:
        flooded = True
    return Outcome(returncode, time.monotonic() - start, timed_out, stalled, reaped, flooded)
