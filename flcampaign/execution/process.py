"""Contained execution of untrusted commands: filtered environment, timeout, whole-tree kill.

NVFlare's simulator starts its workers with ``setsid`` (its own session), so killing our process
group is not enough. The supervisor is a child subreaper: whatever a run starts stays its
descendant however it detaches (double fork, ``setsid``, an emptied environment), and the command
is the subreaper of its own processes, so they stay in its tree while it runs. A run's processes are
that tree, followed at every poll (``RunTree``); on exit or timeout they are killed, and, while no
other run of this supervisor goes on (a seed study runs several in threads), so is every descendant
born during the run outside the supervisor's session. Each process also carries a random
token in its environment, and the token file lists the run's processes, so a later attempt can reap
what outlived a supervisor that was itself killed (its orphans then go to init).
"""

import contextlib
import ctypes
import os
import resource
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

TOKEN_VARIABLE = "FLCAMPAIGN_RUN_TOKEN"
POLL_S = 0.5
EXIT_GRACE_S = 3.0  # after a normal exit, stragglers get this long to finish on their own
KILL_SWEEP_S = 5.0  # the kill repeats its sweep until nothing is left, or this long
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36  # orphans of a run come back to us, so their CPU time is counted when reaped
_LIBC = ctypes.CDLL(None, use_errno=True)
PASSED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "CUDA_VISIBLE_DEVICES", "SYSTEMROOT")


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None when killed on timeout or stall
    elapsed_s: float
    timed_out: bool
    stalled: bool  # killed because the progress measure stopped moving
    reaped: int  # processes still alive at the end (after a short grace) and killed by us
    flooded: bool = False  # killed because the output passed its cap
    aborted: bool = False  # killed because ``abort()`` said so (a containment violation was reported)
    cpu_seconds: float = 0.0  # user + system CPU of the command and of every process it waited for


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


def kill_tree(token: str, group: int | None, tree: "RunTree | None" = None) -> set[int]:
    """SIGKILL the process group, every process carrying ``token`` and, when ``tree`` is given, the run's
    processes (``RunTree.members``); returns the ids of those that were alive.

    The sweep repeats until nothing is left (a process forking while the kill runs is caught too).
    """
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    killed: set[int] = set()
    deadline = time.monotonic() + KILL_SWEEP_S
    while time.monotonic() < deadline:
        victims = _holders(token) + (_running(tree.members()) if tree is not None else [])
        if not victims:
            break
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
            killed.add(proc.pid)
        time.sleep(0.02)
    return killed


def _live(procs: list[psutil.Process]) -> dict[int, float]:
    """pid -> start time of the given processes still running (the start time tells a reused pid)."""
    found = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                found[proc.pid] = proc.create_time()
    return found


def descendants(pid: int | None = None) -> dict[int, float]:
    """pid -> start time of every live descendant of ``pid`` (by default this process)."""
    try:
        return _live(psutil.Process(pid).children(recursive=True))
    except psutil.Error:  # the process has ended
        return {}


def _running(known: dict[int, float]) -> list[psutil.Process]:
    """The listed processes still running (a pid since taken by a newer process is left alone)."""
    found = []
    for pid, started in known.items():
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


_ACTIVE: set[int] = set()  # the runs this supervisor has going now (ids of their RunTree)
_ACTIVE_LOCK = threading.Lock()


class RunTree:
    """The processes of one run, as its supervisor (their subreaper) sees them.

    ``seen`` is every process found at a poll; ``members`` is what ``seen`` and the command's live tree hold
    and, while no other run of this supervisor goes on, its descendants born during the run outside its
    session: a child that detached between two polls has been handed to the supervisor and is still found.
    Runs side by side (a seed study's threads) rely on the polls and the token: an orphan could be the
    other run's."""

    def __init__(self) -> None:
        self.preexisting = descendants()
        self.root: int | None = None
        self.seen: dict[int, float] = {}

    def __enter__(self) -> "RunTree":
        return self

    def __exit__(self, *_: object) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(id(self))

    def start(self, launch: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        """Start the command, registered before any other run can look for unclaimed processes."""
        with _ACTIVE_LOCK:
            proc = launch()
            self.root = proc.pid
            _ACTIVE.add(id(self))
        return proc

    def track(self) -> bool:
        """Follow the run (``members``); True when a process was found that was not seen before."""
        found = self.members()
        new = not found.keys() <= self.seen.keys()
        self.seen.update(found)
        return new

    def claims(self) -> dict[int, float]:
        """The processes known to be this run's: seen at a poll, or in the command's tree now."""
        return {**self.seen, **(descendants(self.root) if self.root is not None else {})}

    def members(self) -> dict[int, float]:
        own = os.getsid(0)
        with _ACTIVE_LOCK:  # held while listing, so no run can start beside this one and be taken for it
            if len(_ACTIVE) > 1:  # an orphan cannot be told apart from one another run's process left
                return self.claims()
            born = {
                pid: started
                for pid, started in descendants().items()
                if self.preexisting.get(pid) != started and _session(pid) not in (own, None)
            }
        return {**born, **self.claims()}


def _session(pid: int) -> int | None:
    """The session of ``pid`` (None once it has ended). A run's command starts its own session, so none of a
    run's processes is in the supervisor's: what the supervisor itself starts on the side (a sandbox probe
    in another thread) is never taken for a run's."""
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _wait_for_exit(token: str, tree: RunTree, grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    while (_holders(token) or _running(tree.members())) and time.monotonic() < deadline:
        time.sleep(0.1)


def _child_setup(max_file_bytes: int | None, preexec: Callable[[], None] | None) -> Callable[[], None]:
    """In the child before exec: die with the supervisor; be the subreaper of what it starts (a process
    that detaches stays in the run's tree, where the polls find it, rather than becoming the supervisor's
    child, which a run beside it could also claim); no single file past ``max_file_bytes``; then
    ``preexec`` (the run's resource caps)."""

    def setup() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # the run's orphans stay in its tree while it runs
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
        if preexec is not None:
            preexec()

    return setup


def _write_token_file(token_file: Path, token: str, started: dict[int, float]) -> None:
    """The run's token, then one ``pid start-time`` line per process it started (for ``reap_stale``)."""
    lines = [token, *(f"{pid} {when!r}" for pid, when in sorted(started.items()))]
    Path(token_file).write_text("\n".join(lines) + "\n")


def reap_stale(token_file: Path) -> int:
    """Kill what an earlier, killed supervisor left running: the processes carrying its token and
    those its token file lists (still the same processes), whatever their environment says now."""
    if not Path(token_file).is_file():
        return 0
    token, *listed = Path(token_file).read_text().split("\n")
    Path(token_file).unlink()
    known = {}
    for line in filter(None, listed):
        with contextlib.suppress(ValueError):
            pid, when = line.split()
            known[int(pid)] = float(when)
    victims = {proc.pid for proc in _running(known)}
    for proc in _running(known):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(victims | (kill_tree(token.strip(), None) if token.strip() else set()))


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
    on_poll: Callable[[], None] | None = None,
    abort: Callable[[], bool] | None = None,
    preexec: Callable[[], None] | None = None,
) -> Outcome:
    """Run ``cmd`` in its own session with stdout/stderr to ``log_path``; never leaves processes behind.

    ``progress()`` (by default the log size) measures output: with ``stall_s`` the run is killed
    when it has not changed for that long (a hung run stops long before the wall-clock budget), with
    ``max_output_bytes`` when it passes the cap (an output flood cannot fill the disk). A run whose
    main process exits normally gives its other processes a short grace before they are killed.
    Every process the run started is killed at the end, found as a descendant of this subreaper
    (however it detached) or by its token. The direct child dies with this process; ``token_file``
    keeps the run's token and the processes it started, so that a later attempt can reap
    (``reap_stale``) what survives a supervisor killed without warning.
    The CPU time is the kernel's account of the child and its waited-for descendants (``wait4``);
    ``on_poll`` is called at every poll while the command runs (a GPU meter samples there), and
    ``abort()``, when it returns True, ends the run at once; ``preexec`` runs in the child before exec.
    """
    token = secrets.token_hex(16)
    become_subreaper()
    if token_file is not None:
        _write_token_file(token_file, token, {})
    env = {**env, TOKEN_VARIABLE: token}
    measure = progress or (lambda: log_path.stat().st_size if log_path.exists() else 0)
    helpers: set[int] = set()  # the command's own children (a sandbox's init), reaped by us once orphaned
    start = time.monotonic()
    returncode: int | None = None
    cpu_seconds = 0.0
    timed_out = stalled = flooded = aborted = False
    with open(log_path, "ab") as log, RunTree() as tree:
        proc = tree.start(
            lambda: subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=pass_fds,
                preexec_fn=_child_setup(max_file_bytes, preexec),
            )
        )
        last_seen, last_change = measure(), start
        try:
            while True:
                finished = _wait(proc, POLL_S)
                if finished is not None:
                    returncode, cpu_seconds = finished
                    break
                helpers |= children_of(proc.pid)
                if tree.track() and token_file is not None:
                    _write_token_file(token_file, token, tree.seen)
                if on_poll is not None:
                    on_poll()
                if abort is not None and abort():
                    aborted = True
                    break
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
                _wait_for_exit(token, tree, EXIT_GRACE_S)
            killed = kill_tree(token, proc.pid, tree)
            if returncode is None:
                finished = _wait(proc, None)
                cpu_seconds = finished[1] if finished else 0.0
            cpu_seconds += reap_orphans((helpers | killed) - {proc.pid})
            if token_file is not None:
                Path(token_file).unlink(missing_ok=True)
    if returncode is not None and max_output_bytes is not None and measure() > max_output_bytes:
        flooded = True
    elapsed = time.monotonic() - start
    return Outcome(returncode, elapsed, timed_out, stalled, len(killed), flooded, aborted, cpu_seconds)


def become_subreaper() -> None:
    """Orphaned descendants come back to this process (not to init), so reaping them counts their CPU."""
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children_of(pid: int) -> set[int]:
    try:
        return {child.pid for child in psutil.Process(pid).children()}
    except psutil.Error:
        return set()


@dataclass(frozen=True)
class TreeUsage:
    cpu_seconds: float  # of the live descendants and what each has already reaped
    rss_bytes: int  # resident memory summed over the live descendants (shared pages counted in each)
    tasks: int  # processes and their threads


def tree_usage() -> TreeUsage:
    """What this process's live descendants use now: one walk of the tree per poll."""
    cpu, rss, tasks = 0.0, 0, 0
    for child in psutil.Process().children(recursive=True):
        try:
            with child.oneshot():
                times, memory, threads = child.cpu_times(), child.memory_info(), child.num_threads()
        except psutil.Error:  # ended between the listing and the read
            continue
        cpu += times.user + times.system + times.children_user + times.children_system
        rss, tasks = rss + memory.rss, tasks + threads
    return TreeUsage(cpu, rss, tasks)


def reap_orphans(pids: set[int], timeout_s: float = 5.0) -> float:
    """CPU seconds of the given processes once they are ours (orphaned to this subreaper) and have ended."""
    total, pending = 0.0, set(pids)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:  # not (or no longer) our child: its parent accounts for it
                pending.discard(pid)
                continue
            if done == pid:
                total += usage.ru_utime + usage.ru_stime
                pending.discard(pid)
        if pending:
            time.sleep(0.05)
    return total


def _wait(proc: subprocess.Popen, timeout_s: float | None) -> tuple[int, float] | None:
    """(exit code, CPU seconds) once ``proc`` has ended (reaped with its resource usage), else None."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:  # already reaped by the kill of the whole tree: its CPU time is not known
            return (proc.returncode if proc.returncode is not None else -signal.SIGKILL), 0.0
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
