"""Contained execution: exit codes, timeouts, stall detection, whole-tree kill, environment filtering."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from flcampaign.execution.process import TOKEN_VARIABLE, filtered_env, reap_stale, run_contained

SECRET = "FLC_TEST_AWS_SECRET_ACCESS_KEY"


def run(tmp_path: Path, code: str, timeout_s: float = 30, **kwargs):
    log = tmp_path / "run.log"
    outcome = run_contained([sys.executable, "-c", code], tmp_path, filtered_env({}), timeout_s, log, **kwargs)
    return outcome, log


def gone(pid: int) -> bool:
    """Not running any more: absent, or a zombie waiting for its (new) parent to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def pid_file(tmp_path):
    """Path for a grandchild's pid; the grandchild is killed at teardown if a test left it behind."""
    path = tmp_path / "grandchild.pid"
    yield path
    if path.is_file() and path.read_text().strip():
        pid = int(path.read_text())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_successful_command(tmp_path):
    outcome, log = run(tmp_path, "pass")
    assert outcome.returncode == 0
    assert not outcome.timed_out and not outcome.stalled
    assert outcome.reaped == 0
    assert outcome.elapsed_s < 10
    assert log.is_file()


def test_exit_code_and_output_are_recorded(tmp_path):
    outcome, log = run(tmp_path, "import sys; print('hello from the child'); sys.exit(3)")
    assert outcome.returncode == 3
    assert not outcome.timed_out
    assert "hello from the child" in log.read_text()


def test_timeout_kills_a_sleeping_process(tmp_path):
    start = time.monotonic()
    outcome, _ = run(tmp_path, "import time; time.sleep(60)", timeout_s=1)
    assert outcome.timed_out
    assert outcome.returncode is None
    assert not outcome.stalled
    assert 1 <= outcome.elapsed_s < 10
    assert time.monotonic() - start < 15


GRANDCHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)
with open({pid_file!r}, 'w') as handle:
    handle.write(str(child.pid))
{after}
"""


@pytest.mark.parametrize(
    ("after", "timeout_s", "timed_out"),
    [("time.sleep(300)", 1.5, True), ("pass", 30, False)],
    ids=["parent-times-out", "parent-exits"],
)
def test_detached_grandchild_is_reaped(tmp_path, pid_file, after, timeout_s, timed_out):
    code = GRANDCHILD.format(pid_file=str(pid_file), after=after)
    outcome, log = run(tmp_path, code, timeout_s=timeout_s)
    assert outcome.timed_out is timed_out, log.read_text()
    if not timed_out:
        assert outcome.returncode == 0
    pid = int(pid_file.read_text())
    assert outcome.reaped >= 1  # the grandchild, in its own session, was still alive
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), f"grandchild {pid} survived run_contained"


def test_the_cpu_of_a_killed_detached_grandchild_is_counted(tmp_path):
    """The grandchild outlives its parent in its own session and is killed with the run: whoever reaps
    it must read its CPU time, not throw it away (the kill once reaped it and the run looked idle)."""
    spin = "import time\nend = time.process_time() + 30\nwhile time.process_time() < end: pass"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {spin!r}], start_new_session=True)"
    code += "; time.sleep(300)"
    outcome, log = run(tmp_path, code, timeout_s=2.5)
    assert outcome.timed_out and outcome.reaped >= 1, log.read_text()
    assert outcome.cpu_seconds > 0.8  # most of 2.5 s spent spinning on one core


def test_stall_is_detected_before_the_timeout(tmp_path):
    outcome, log = run(tmp_path, "print('started', flush=True); import time; time.sleep(60)", timeout_s=60, stall_s=2)
    assert outcome.stalled
    assert not outcome.timed_out
    assert outcome.returncode is None
    assert 2 <= outcome.elapsed_s < 10
    assert "started" in log.read_text()


def test_stall_uses_the_given_progress_measure(tmp_path):
    # The log keeps growing, but the supplied progress measure never moves.
    code = "import time\nwhile True:\n    print('tick', flush=True); time.sleep(0.1)"
    outcome, _ = run(tmp_path, code, timeout_s=60, stall_s=1, progress=lambda: 0)
    assert outcome.stalled and not outcome.timed_out
    assert outcome.elapsed_s < 10


def test_progressing_process_is_not_stalled(tmp_path):
    code = "import time\nfor _ in range(20):\n    print('tick', flush=True); time.sleep(0.1)"
    outcome, _ = run(tmp_path, code, timeout_s=30, stall_s=1.5)
    assert outcome.returncode == 0
    assert not outcome.stalled


def test_filtered_env_drops_secrets(monkeypatch):
    monkeypatch.setenv(SECRET, "s3cr3t")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    env = filtered_env({"EXTRA_VAR": "1"})
    assert SECRET not in env
    assert "HTTPS_PROXY" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert env["PYTHONHASHSEED"] == "0"
    assert env["EXTRA_VAR"] == "1"
    assert "s3cr3t" not in env.values()


def test_child_sees_only_the_filtered_env_and_its_token(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET, "s3cr3t")
    code = "import os\nfor key in sorted(os.environ):\n    print('VAR', key)"
    outcome, log = run(tmp_path, code)
    assert outcome.returncode == 0
    seen = {line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith("VAR ")}
    assert SECRET not in seen
    assert {"PATH", "PYTHONHASHSEED", TOKEN_VARIABLE} <= seen


# A child that forks twice, starts its own session and execs with an empty environment: no token, no
# process group of the run, no parent of the run once the middle process exits.
ESCAPER = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open({pid_file!r}, 'w') as handle:
            handle.write(str(os.getpid()))
        os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)'], {{}})
    os._exit(0)
while not os.path.exists({pid_file!r}) or not open({pid_file!r}).read():
    time.sleep(0.05)
{after}
"""


def await_pid(pid_file: Path) -> int:
    deadline = time.monotonic() + 10
    while not (pid_file.is_file() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(pid_file.read_text())


def await_gone(pid: int, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone(pid)


@pytest.mark.parametrize(
    ("after", "timeout_s"), [("pass", 30), ("time.sleep(300)", 2)], ids=["parent-exits", "parent-times-out"]
)
def test_a_double_forked_setsid_child_with_an_empty_environment_does_not_outlive_its_run(
    tmp_path, pid_file, after, timeout_s
):
    outcome, log = run(tmp_path, ESCAPER.format(pid_file=str(pid_file), after=after), timeout_s=timeout_s)
    pid = await_pid(pid_file)
    assert outcome.reaped >= 1, log.read_text()
    assert await_gone(pid), f"the escaped child {pid} outlived its run"


SUPERVISOR = """
import sys
from pathlib import Path
from flcampaign.execution.process import filtered_env, run_contained
code, work = sys.argv[1], Path(sys.argv[2])
run_contained([sys.executable, '-c', code], work, filtered_env({{}}), 300, work / 'run.log', token_file=work / '.token')
"""


def test_what_outlives_a_killed_supervisor_is_reaped_by_the_next_attempt_from_the_token_file(tmp_path, pid_file):
    """The supervisor itself is killed without warning: its escaped grandchild (no token in its
    environment) is found by the pid and start time the token file lists, and killed by ``reap_stale``."""
    code = ESCAPER.format(pid_file=str(pid_file), after="time.sleep(300)")
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISOR.format(), code, str(tmp_path)])
    pid = await_pid(pid_file)
    token_file = tmp_path / ".token"
    deadline = time.monotonic() + 10
    while str(pid) not in token_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    supervisor.kill()
    supervisor.wait()
    assert not gone(pid)  # orphaned, still running
    assert reap_stale(token_file) >= 1
    assert await_gone(pid), f"the escaped child {pid} outlived reap_stale"
    assert not token_file.exists()


def test_reap_stale_leaves_a_process_that_took_a_listed_pid_later_alone(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token_file = tmp_path / ".token"
        started = psutil.Process(bystander.pid).create_time()
        token_file.write_text(f"{'0' * 32}\n{bystander.pid} {started - 100.0!r}\n")
        assert reap_stale(token_file) == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_runs_side_by_side_in_one_supervisor_leave_each_other_alone(tmp_path, pid_file):
    """A seed study runs several simulations at once in threads: the end of one run kills its own
    processes (an escaped child included), never those of the run beside it."""
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "long").mkdir()
    (tmp_path / "short").mkdir()
    # the long run starts its child after the short run has started, and the short run ends while it runs
    child = "import time; time.sleep(8)"  # past the short run's end and its grace for stragglers
    long_code = (
        f"import subprocess, sys, time; time.sleep(1.5); subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    )
    short_code = ESCAPER.format(pid_file=str(pid_file), after="time.sleep(2.5)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        long_run = pool.submit(run, tmp_path / "long", long_code)
        time.sleep(0.5)
        short_outcome, _ = pool.submit(run, tmp_path / "short", short_code).result()
        long_outcome, long_log = long_run.result()
    assert long_outcome.returncode == 0, long_log.read_text()
    assert short_outcome.returncode == 0 and short_outcome.reaped >= 1
    assert await_gone(await_pid(pid_file))


def test_what_the_supervisor_starts_on_the_side_is_not_taken_for_a_run(tmp_path):
    """A sandbox probe started by another thread of the supervisor while a run goes on (in the supervisor's
    own session) is neither killed nor counted as the run's straggler when the run ends."""
    started: list[subprocess.Popen] = []
    probe = threading.Timer(
        0.3, lambda: started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
    )
    probe.start()
    try:
        outcome, _ = run(tmp_path, "import time; time.sleep(1.5)")
        probe.join()
        assert outcome.returncode == 0 and outcome.reaped == 0
        assert started[0].poll() is None
    finally:
        for bystander in started:
            bystander.kill()
            bystander.wait()
