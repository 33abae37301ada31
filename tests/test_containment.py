"""The audit-hook policy of candidate processes, the site-data broker and the sandbox's init, without NVFlare."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flcampaign.execution.box_init import last_report
from flcampaign.execution.containment import (
    VIOLATION_EXIT,
    Policy,
    ViolationWatch,
    check_open,
    check_spawn,
    python_dirs,
    violations_in,
)
from flcampaign.execution.sandbox import choose
from flcampaign.execution.site_data import SiteDataBroker, request


def policy(tmp_path: Path, **extra) -> Policy:
    return Policy(
        "client",
        (str(tmp_path / "code"),),
        (str(tmp_path / "own"),),
        ((str(tmp_path / "train"), "cross-site-data"),),
        site="site-1",
        python=python_dirs(),
        **extra,
    )


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for name in ("code", "own", "train", "elsewhere"):
        (tmp_path / name).mkdir()
    (tmp_path / "train" / "site-2.npz").write_bytes(b"rows")
    (tmp_path / "elsewhere" / "secret.txt").write_text("x")
    (tmp_path / "code" / "client.py").write_text("x = 1\n")
    return tmp_path


def test_reads_and_writes_follow_the_policy(layout):
    rules = policy(layout)
    assert check_open(rules, str(layout / "code" / "client.py"), "r", 0) is None
    assert check_open(rules, str(layout / "own" / "log.txt"), "a", 0) is None
    assert check_open(rules, os.path.join(sys.prefix, "lib"), "r", 0) is None
    assert check_open(rules, "/etc/hostname", "r", 0) is None
    assert check_open(rules, str(layout / "train" / "site-2.npz"), "rb", 0)[0] == "cross-site-data"
    assert check_open(rules, str(layout / "train" / "missing.npz"), "rb", 0)[0] == "cross-site-data"  # sandboxed too
    assert check_open(rules, str(layout / "elsewhere" / "secret.txt"), "r", 0)[0] == "file-access"
    assert check_open(rules, str(layout / "elsewhere" / "nothing-here"), "r", 0) is None  # nothing to read
    assert check_open(rules, str(layout / "code" / "client.py"), "w", 0)[0] == "file-access"  # code is read-only
    assert check_open(rules, str(layout / "code" / "x"), None, os.O_WRONLY | os.O_CREAT)[0] == "file-access"
    assert check_open(rules, 7, "rb", 0) is None  # an open descriptor


def test_links_and_relative_tricks_do_not_escape(layout):
    rules = policy(layout)
    link = layout / "own" / "link.npz"
    link.symlink_to(layout / "train" / "site-2.npz")
    assert check_open(rules, str(link), "rb", 0)[0] == "cross-site-data"  # the target is what counts
    assert check_open(rules, str(layout / "own" / ".." / "train" / "site-2.npz"), "rb", 0)[0] == "cross-site-data"
    assert check_open(rules, "client.py", "r", 0) is None  # one name: relative to an already checked folder


def test_other_processes_fds_and_memory_are_out_of_reach(layout):
    rules = policy(layout)
    assert check_open(rules, "/proc/1/status", "r", 0) is None  # what psutil reads
    assert check_open(rules, "/proc/1/environ", "r", 0)[0] == "file-access"
    assert check_open(rules, f"/proc/{os.getpid()}/environ", "r", 0) is None
    assert check_open(rules, "/dev/shm/pool.npz", "wb", 0)[0] == "file-access"  # another client could read it
    assert check_open(rules, "/dev/shm/pool.npz", "rb", 0)[0] == "file-access"
    assert check_open(rules, "/dev/null", "wb", 0) is None


def test_process_starts_follow_the_policy(layout):
    client, server = policy(layout), policy(layout, spawn=("/usr/bin/true",), fork=True)
    assert check_spawn(client, "os.fork", ())[0] == "process"
    assert check_spawn(server, "os.fork", ()) is None
    assert check_spawn(server, "subprocess.Popen", ("/usr/bin/true", ["true"], None, None)) is None
    assert check_spawn(server, "subprocess.Popen", (None, ["/bin/sh", "-c", "x"], None, None))[0] == "process"
    assert check_spawn(client, "os.system", (b"ls",))[0] == "process"


HOOKED = """
import json, sys
from flcampaign.execution.containment import Policy, install
install(Policy.from_json(sys.argv[1]))
try:
    {attempt}
except BaseException as error:  # a handler cannot stop the violation
    print("caught", error)
print("survived")
"""


@pytest.mark.parametrize(
    "attempt, rule",
    [
        ("open(sys.argv[2], 'rb').read()", "cross-site-data"),
        ("__import__('io').FileIO(sys.argv[2]).read()", "cross-site-data"),
        ("__import__('os').open(sys.argv[2], 0)", "cross-site-data"),
        ("__import__('numpy').load(sys.argv[2])", "cross-site-data"),
        ("__import__('os').chdir(sys.argv[3])", "cross-site-data"),
        ("__import__('os').symlink(sys.argv[2], sys.argv[4] + '/x')", "file-access"),
        ("__import__('subprocess').run(['true'])", "process"),
        ("__import__('os').fork()", "process"),
    ],
)
def test_the_hook_ends_the_process_on_any_route(layout, attempt, rule):
    rules = policy(layout)
    train = layout / "train"
    cmd = [sys.executable, "-c", HOOKED.format(attempt=attempt), rules.to_json(), str(train / "site-2.npz")]
    result = subprocess.run([*cmd, str(train), str(layout / "own")], capture_output=True, text=True, timeout=60)
    assert result.returncode == VIOLATION_EXIT, result.stdout + result.stderr
    assert "survived" not in result.stdout and "caught" not in result.stdout
    assert [v["rule"] for v in violations_in(result.stderr)] == [rule]
    assert violations_in(result.stderr)[0]["site"] == "site-1"


def test_violation_records_are_read_from_a_growing_log(tmp_path):
    log = tmp_path / "sim.log"
    watch = ViolationWatch(log)
    assert not watch()
    log.write_text("x" * 5000 + "\nFLCAMPAIGN-VIOL")
    assert not watch()
    with open(log, "a") as handle:  # the mark straddles two reads
        handle.write('ATION {"rule": "process", "detail": "d"}\n')
    assert watch()
    assert violations_in(log.read_text()) == [{"rule": "process", "detail": "d"}]
    assert violations_in('FLCAMPAIGN-VIOLATION not json\nFLCAMPAIGN-VIOLATION ["list"]\n') == []


def test_each_site_is_delivered_once(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    for site in ("site-1", "site-2"):
        np.savez(train / f"{site}.npz", x=np.full((3, 2), float(site[-1])), y=np.zeros(3))
    with SiteDataBroker(train, ["site-1", "site-2"], tmp_path / "data.sock") as broker:
        fd = request(tmp_path / "data.sock", "site-1")
        with os.fdopen(fd, "rb") as handle, np.load(handle) as arrays:
            assert arrays["x"][0, 0] == 1.0
        with pytest.raises(PermissionError, match="already delivered"):
            request(tmp_path / "data.sock", "site-1")
        with pytest.raises(PermissionError, match="no such site"):
            request(tmp_path / "data.sock", "../heldout/site-1")
    assert broker.record() == {
        "delivered": ["site-1"],
        "refused": [
            "a second request for site-1's training split",
            "a request for '../heldout/site-1', which is not a site of this task",
        ],
    }
    assert not (tmp_path / "data.sock").exists()


BRIDGE = """
import os, sys
from flcampaign.execution.containment import Policy, install
from flcampaign.execution.site_data import FD_VARIABLE, own_training_split
install(Policy.from_json(sys.argv[1]))
fd = os.open(sys.argv[2], os.O_RDONLY)
os.environ[FD_VARIABLE] = str(fd)
x, y = own_training_split("site-1")
print("own", x.shape)
own_training_split(sys.argv[3])
print("survived")
"""


def test_the_bridge_serves_the_own_site_and_refuses_any_other_name(layout):
    np.savez(layout / "own" / "site-1.npz", x=np.zeros((4, 13), dtype=np.float32), y=np.zeros(4))
    rules = policy(layout)
    cmd = [sys.executable, "-c", BRIDGE, rules.to_json(), str(layout / "own" / "site-1.npz"), "site-2"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "own (4, 13)" in result.stdout and "survived" not in result.stdout
    assert violations_in(result.stderr)[0]["rule"] == "cross-site-data"
    assert "asked for the training split of 'site-2'" in violations_in(result.stderr)[0]["detail"]


SANDBOX = choose("auto")


@pytest.mark.skipif(SANDBOX.kind != "bubblewrap", reason=f"no sandbox here: {SANDBOX.detail}")
def test_the_box_init_reaps_and_counts_what_outlives_the_command(tmp_path):
    leave = ["sh", "-c", "sleep 30 & sleep 30 & exit 3"]
    result = subprocess.run(SANDBOX.wrap(leave, tmp_path, [], [tmp_path]), capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert last_report(result.stderr) == {"stray": 2, "exit": 3}
    clean = subprocess.run(SANDBOX.wrap(["true"], tmp_path, [], [tmp_path]), capture_output=True, text=True, timeout=60)
    assert last_report(clean.stderr) == {"stray": 0, "exit": 0}
    assert last_report(clean.stderr + "candidate output after\n") is None  # only the box's own last line counts


@pytest.mark.skipif(SANDBOX.kind != "bubblewrap", reason=f"no sandbox here: {SANDBOX.detail}")
def test_cpu_time_inside_a_sandbox_is_counted(tmp_path):
    from flcampaign.execution.process import run_contained

    busy = [sys.executable, "-c", "import time\nwhile time.process_time() < 1.5: pass"]
    outcome = run_contained(
        SANDBOX.wrap(busy, tmp_path, [], [tmp_path]), tmp_path, dict(os.environ), 60, tmp_path / "log"
    )
    assert outcome.returncode == 0
    assert outcome.cpu_seconds >= 1.2  # bubblewrap reaps nothing itself: the box's init and the subreaper do


def test_each_role_of_a_run_gets_only_its_folders(tmp_path):
    from flcampaign.execution.isolation import RunLayout

    run = RunLayout(
        python=sys.executable,
        code=str(tmp_path / "code"),
        job_root=str(tmp_path / "job"),
        workspace=str(tmp_path / "ws"),
        launch=str(tmp_path / "launch"),
        tmp=str(tmp_path / "tmp"),
        train_dir=str(tmp_path / "task" / "train"),
        split_root=str(tmp_path / "task"),
        sites=("site-1", "site-2"),
        data_socket=str(tmp_path / "data.sock"),
        sandbox_kind="none",
        sandbox_detail="test",
        sandbox_kernel=False,
        short_waits=False,
    )
    for folder in ("ws/site-1", "ws/site-2", "ws/server", "task/train", "task/heldout", "code"):
        (tmp_path / folder).mkdir(parents=True)
    for path in ("ws/site-2/log.txt", "ws/site-1/log.txt", "task/heldout/site-1.npz", "task/train/site-1.npz"):
        (tmp_path / path).write_text("x")
    server, client = run.server_policy(), run.client_policy("site-1")
    assert check_open(server, str(tmp_path / "ws/site-2/config.json"), "w", 0) is None  # NVFlare deploys there
    assert check_open(server, str(tmp_path / "ws/site-2/log.txt"), "r", 0)[0] == "cross-site-data"  # no reading back
    assert check_open(server, str(tmp_path / "task/train/site-1.npz"), "rb", 0)[0] == "cross-site-data"
    assert check_open(server, str(tmp_path / "task/heldout/site-1.npz"), "rb", 0)[0] == "split-access"
    assert check_spawn(server, "subprocess.Popen", (run.launcher, [run.launcher], None, None)) is None
    assert check_open(client, str(tmp_path / "ws/site-1/log.txt"), "a", 0) is None
    assert check_open(client, str(tmp_path / "ws/site-2/log.txt"), "r", 0)[0] == "cross-site-data"
    assert check_open(client, str(tmp_path / "ws/server/x"), "w", 0)[0] == "file-access"
    assert check_open(client, str(tmp_path / "task/train/site-1.npz"), "rb", 0)[0] == "cross-site-data"  # by fd only
    assert check_spawn(client, "subprocess.Popen", (run.launcher, [run.launcher], None, None))[0] == "process"
    assert run.export_policy().write == (run.job_root, str(tmp_path / "tmp" / "export"))
