"""The simulation runner against real NVFlare: budget checks on the exported job, crash, hang."""

import copy
import json
import re
import shutil
import socket
from pathlib import Path

import psutil
import pytest
from conftest import REPO, copy_candidates

from flcampaign.contract.candidate import patch_manifest
from flcampaign.contract.validation import validate_candidate
from flcampaign.execution.runner import (
    check_exported_budget,
    check_launched_client,
    infrastructure_failure,
    judge_workspace,
    simulate,
)
from flcampaign.execution.sandbox import choose, kernel_layer
from flcampaign.execution.slots import Slot
from flcampaign.task import Task


def short_task(task: Task, **budget) -> Task:
    profile = copy.deepcopy(task.profile)
    profile["budget"].update(budget)
    return Task(task.root, profile)


def write_candidate(root: Path, cid: str, source_edits: dict[str, tuple[str, str]]) -> None:
    """A candidate whose patch applies ``old -> new`` replacements to the task sources."""
    from flcampaign.contract import patches

    base = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease").sources
    edited = root / "edited" / cid
    shutil.copytree(base, edited)
    for rel, (old, new) in source_edits.items():
        text = (edited / rel).read_text()
        assert old in text
        (edited / rel).write_text(text.replace(old, new, 1))
    folder = root / "candidates" / cid
    (folder / "patches").mkdir(parents=True)
    (folder / "patches" / "001.patch").write_text(patches.make(base, edited))
    (folder / "candidate.yaml").write_text(
        f"title: {cid}\nhypothesis: test\nparent: baseline\nfamily: test\ncreated: '2026-11-24T00:00:00+00:00'\n"
        f"patches: {{001.patch: {patch_manifest(folder)['001.patch']}}}\n"
    )


def run_candidate(tmp_path: Path, task: Task, cid: str, splits: Path) -> dict:
    validation = validate_candidate(tmp_path / "candidates", cid, task, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    return simulate(
        task,
        validation,
        tmp_path / "results" / "candidates" / cid / "src",
        splits / "train",
        "search",
        0,
        tmp_path / "results" / "runs" / cid,
        tmp_path / "work" / cid,
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
        sandbox=choose("auto"),
    )


def token_holders(root: Path) -> list[int]:
    """Processes whose environment points into ``root`` (a simulation of this test)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if any(str(root) in value for value in proc.environ().values()):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_budget_computed_at_run_time_is_caught_on_the_exported_job(tmp_path, heart_task, heart_splits):
    """A non-literal change passes the static check but the exported NVFlare config gives it away."""
    write_candidate(
        tmp_path,
        "double-rounds",
        {"job.py": ("        num_rounds=args.num_rounds,\n", "        num_rounds=args.num_rounds * 2,\n")},
    )
    run = run_candidate(tmp_path, short_task(heart_task, num_rounds=1), "double-rounds", heart_splits)
    assert run["state"] == "invalid" and run["rule"] == "fixed-budget" and run["file"] == "job.py"
    assert "num_rounds is 2, budget says 1" in run["reason"]
    assert "returncode" not in run  # refused before any simulation started


def test_exported_budget_checks_each_field(tmp_path, heart_task):
    job = tmp_path / "job"
    (job / "app" / "config").mkdir(parents=True)
    fedavg = "nvflare.app_common.workflows.fedavg.FedAvg"
    server = {"workflows": [{"path": fedavg, "args": {"num_rounds": 15, "num_clients": 4}}], "components": []}
    client = {"executors": [{"executor": {"args": {"task_script_args": "--seed 7 --batch_size 4"}}}]}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    (job / "meta.json").write_text(json.dumps({"min_clients": 4}))
    assert check_exported_budget(job, heart_task, seed=7) == []
    assert check_exported_budget(job, heart_task, seed=8) != []
    client["executors"][0]["executor"]["args"]["task_script_args"] = "--seed 7 --batch_size 64"
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    assert any("--batch_size 4" in p for p in check_exported_budget(job, heart_task, seed=7))
    (job / "meta.json").write_text(json.dumps({"min_clients": 2}))
    assert any("min_clients is 2" in p for p in check_exported_budget(job, heart_task, seed=7))
    (job / "meta.json").write_text(json.dumps({"min_clients": 4}))
    client["executors"][0]["executor"]["args"]["task_script_args"] = "--seed 7 --batch_size 4"
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    # NVFlare leaves out arguments equal to their defaults (FedAvg: 5 rounds, 3 clients)
    server["workflows"][0]["args"] = {"num_clients": 4}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert check_exported_budget(job, heart_task, seed=7) == ["num_rounds is 5, budget says 15"]
    five_rounds = short_task(heart_task, num_rounds=5)
    assert check_exported_budget(job, five_rounds, seed=7) == []
    server["workflows"][0]["args"] = {"num_rounds": 5}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert check_exported_budget(job, five_rounds, seed=7) == ["server expects 3 clients, budget says 4"]
    server["workflows"][0]["path"] = "custom_controller.Loop"
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert "must be an NVFlare controller" in check_exported_budget(job, five_rounds, seed=7)[0]


def test_judge_workspace(tmp_path):
    (tmp_path / "server").mkdir()
    (tmp_path / "site-1").mkdir()
    (tmp_path / "server" / "error_log.txt").write_text("")
    assert "FL_global_model.pt" in judge_workspace(tmp_path)
    (tmp_path / "site-1" / "log.txt").write_text("... 4 vars excluded as they were non-tensor type ...")
    assert "dropped" in judge_workspace(tmp_path)
    (tmp_path / "site-1" / "error_log.txt").write_text("Traceback: boom")
    assert "site-1/error_log.txt is not empty" in judge_workspace(tmp_path)


@pytest.mark.slow
def test_crash_in_round_two_is_recorded(tmp_path, heart_task, heart_splits):
    copy_candidates(tmp_path, "0009-lr-warmup-div-zero")
    run = run_candidate(tmp_path, short_task(heart_task, num_rounds=2), "0009-lr-warmup-div-zero", heart_splits)
    assert run["state"] == "crash" and run["rule"] in ("exit-code", "run-health")
    assert run["slot"] == "cpu0" and run["device"] == "cpu" and run["finished_at"] > run["started_at"]
    assert not (tmp_path / "results" / "runs" / "0009-lr-warmup-div-zero" / "global_model.pt").exists()
    assert "ZeroDivisionError" in (tmp_path / "results/runs/0009-lr-warmup-div-zero/sim.log").read_text()
    assert token_holders(tmp_path) == []


@pytest.mark.slow
def test_hung_client_is_stopped_by_the_stall_watchdog(tmp_path, heart_task, heart_splits):
    copy_candidates(tmp_path, "0010-wait-for-peers")
    task = short_task(heart_task, num_rounds=1, stall_seconds=20, timeout_seconds=300)
    run = run_candidate(tmp_path, task, "0010-wait-for-peers", heart_splits)
    assert run["state"] == "timeout" and run["rule"] == "stall"
    assert run["runtime_seconds"] < 120
    assert token_holders(tmp_path) == []


NATIVE = '''
import ctypes as _ctypes
import os as _os

_LIBC = _ctypes.CDLL(None, use_errno=True)


def _native_read(path) -> bool:
    """Open and read one byte with libc, as native code would: Python's audit hook does not see it."""
    fd = _LIBC.open(str(path).encode(), 0)
    if fd < 0:
        return False
    ok = _LIBC.read(fd, _ctypes.create_string_buffer(1), 1) == 1
    _LIBC.close(fd)
    return ok


def _native_write(path, data: bytes) -> bool:
    fd = _LIBC.open(str(path).encode(), 0o1 | 0o100 | 0o2000, 0o644)  # O_WRONLY | O_CREAT | O_APPEND
    if fd < 0:
        return False
    ok = _LIBC.write(fd, data, len(data)) == len(data)
    _LIBC.close(fd)
    return ok
'''

PROBE = (
    NATIVE
    + '''
import socket as _socket


def _sandbox_leaks() -> list:
    """What this client can reach that candidate code must not, by routes Python's audit hook cannot see."""
    leaks = [path for path in FORBIDDEN_PATHS if _native_read(path)]
    try:
        _socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=2).close()
        leaks.append("network")
    except OSError:
        pass
    if _native_write(_os.path.join(CODE_DIR, "planted.txt"), b"x"):
        leaks.append("code tree writable")
    return leaks
'''
)


def run_injected(
    tmp_path: Path, task: Task, splits: Path, sandbox_mode: str, header: str, first_line: str, after_init: str = ""
) -> dict:
    """Simulate the base client with ``header`` prepended and ``first_line`` run first in ``main()``.

    ``after_init`` runs once the client knows its site (``site``) and has its own split. It skips
    validation on purpose (the injected code uses APIs the static check refuses): this is what the
    containment, the audit hook and the sandbox stop when a static check is bypassed.
    """
    tree = tmp_path / "tree"
    shutil.copytree(task.sources, tree, ignore=shutil.ignore_patterns("__pycache__"))
    client = (tree / "client.py").read_text()
    client = client.replace("def main() -> None:\n", f"def main() -> None:\n    {first_line}\n")
    if after_init:
        anchor = "    features, labels = load_train(site)\n"
        client = client.replace(anchor, anchor + f"    {after_init}\n")
    (tree / "client.py").write_text(header + client)
    (tmp_path / "results").mkdir(exist_ok=True)
    return simulate(
        short_task(task, num_rounds=1),
        {"candidate": "probe", "state": "ok", "args": {}},
        tree,
        splits / "train",
        "search",
        0,
        tmp_path / "results" / "runs" / "probe",
        tmp_path / "work" / "probe",
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
        sandbox=choose(sandbox_mode),
    )


def probe_run(tmp_path: Path, task: Task, splits: Path, sandbox_mode: str) -> tuple[dict, str]:
    """A client that raises when it can see any split, results, the network or a writable code tree."""
    listener = socket.create_server(("127.0.0.1", 0))
    forbidden = [str(splits / name / "site-1.npz") for name in ("train", "heldout", "search_val")]
    (tmp_path / "results").mkdir(exist_ok=True)
    (tmp_path / "results" / "results.tsv").write_text("order\tcandidate\n")
    forbidden += [
        str(REPO / "flcampaign" / "tasks" / "heart_disease" / "profile.yaml"),
        str(tmp_path / "results" / "results.tsv"),
    ]
    code_dir = tmp_path / "work" / "probe" / "code"  # where the runner puts its copy of the tree
    header = f"FORBIDDEN_PATHS = {forbidden!r}\nLISTENER_PORT = {listener.getsockname()[1]}\n"
    header += f"CODE_DIR = {str(code_dir)!r}\n" + PROBE
    try:
        run = run_injected(
            tmp_path, task, splits, sandbox_mode, header, "assert not _sandbox_leaks(), _sandbox_leaks()"
        )
    finally:
        listener.close()
    return run, (tmp_path / "results/runs/probe/sim.log").read_text()


@pytest.mark.slow
def test_detached_child_is_a_stray_process(tmp_path, heart_task, heart_splits):
    """Unsandboxed, a child that native code starts in its own session outlives the simulator: killed, recorded."""
    spawn = '_LIBC.system(b"setsid sleep 600 >/dev/null 2>&1 &")'
    run = run_injected(tmp_path, heart_task, heart_splits, "off", NATIVE, spawn)
    assert (run["state"], run["rule"]) == ("crash", "stray-process"), run["reason"]
    assert run["reaped_processes"] >= 1
    assert token_holders(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_client_may_not_start_processes(tmp_path, heart_task, heart_splits, mode):
    """Through Python (subprocess, os.system) a start is refused at once, sandboxed or not: invalid, rule process."""
    header = "import subprocess as _subprocess\n"
    run = run_injected(tmp_path, heart_task, heart_splits, mode, header, '_subprocess.Popen(["sleep", "600"])')
    assert (run["state"], run["rule"]) == ("invalid", "process"), run["reason"]
    assert "sleep" in run["reason"] and run["runtime_seconds"] < 60
    assert token_holders(tmp_path) == []


SANDBOX = choose("auto")
KERNEL_LAYER = kernel_layer()


@pytest.mark.slow
@pytest.mark.skipif(SANDBOX.kind != "bubblewrap", reason=f"no sandbox here: {SANDBOX.detail}")
def test_sandboxed_simulation_sees_only_its_code(tmp_path, heart_task, heart_splits):
    run, log = probe_run(tmp_path, heart_task, heart_splits, "bubblewrap")
    assert run["state"] == "ok", log[-3000:]
    assert run["sandbox"] == SANDBOX.record()
    assert not (tmp_path / "work" / "probe" / "code" / "planted.txt").exists()


@pytest.mark.slow
@pytest.mark.skipif(not KERNEL_LAYER[0], reason=f"no Landlock here: {KERNEL_LAYER[1]}")
def test_landlock_alone_holds_native_code_to_its_files_and_ports(tmp_path, heart_task, heart_splits):
    """Without bubblewrap the kernel layer still stops libc reads of the splits, the task and the results,
    a connection to a port of the host, and a write into the code tree."""
    run, log = probe_run(tmp_path, heart_task, heart_splits, "landlock")
    assert run["state"] == "ok", log[-3000:]
    assert run["sandbox"]["kind"] == "landlock" and run["sandbox"]["kernel"] is True
    assert not (tmp_path / "work" / "probe" / "code" / "planted.txt").exists()


@pytest.mark.slow
def test_unsandboxed_simulation_is_recorded_as_such(tmp_path, heart_task, heart_splits):
    run, log = probe_run(tmp_path, heart_task, heart_splits, "off")
    assert run["sandbox"] == {"kind": "none", "detail": "disabled by execution.sandbox: off", "kernel": False}
    assert run["state"] == "crash"  # the same probe, unsandboxed, reaches what the sandbox hides (natively)
    for leak in ("train", "heldout", "search_val", "network", "code tree writable"):
        assert leak in log


@pytest.mark.slow
def test_training_split_changed_during_a_run_is_a_fixed_file_violation(tmp_path, heart_task, heart_splits):
    """Native code past the audit hook, unsandboxed, appends to a training split: the hashes catch it."""
    splits = tmp_path / "splits"
    shutil.copytree(heart_splits / "train", splits / "train")
    tamper = f"_native_write({str(splits / 'train' / 'site-1.npz')!r}, b'tampered')"
    run = run_injected(tmp_path, heart_task, splits, "off", NATIVE, tamper)
    assert (run["state"], run["rule"]) == ("invalid", "fixed-file")
    assert "train/site-1.npz" in run["reason"]
    assert set(run["fixed_sha256"]) == {"fl_data.py", *(f"train/{p.name}" for p in (splits / "train").iterdir())}


CROSS_SITE_PROBE = (
    NATIVE
    + '''
import glob as _glob
import socket as _socket
import time as _time


def _cross_site(site: str) -> None:
    """Every way this client might reach another site's rows; one PROBE line per attempt, then a Python open."""
    others = [s for s in SITES if s != site]

    def say(route, other, reached):
        print(f"PROBE {site} {route} {other} {'reached' if reached else 'blocked'}", flush=True)

    for other in others:
        say("native-file", other, _native_read(_os.path.join(TRAIN_DIR, other + ".npz")))
        say("native-log", other, _native_read(_os.path.join(WORKSPACE, other, "log.txt")))
        fds = []
        for link in _glob.glob("/proc/[0-9]*/fd/*"):
            try:
                if _os.readlink(link).endswith("/" + other + ".npz"):
                    fds.append(link)
            except OSError:
                pass
        say("proc-fd", other, any(_native_read(link) for link in fds))
        delivered = False
        for path in _glob.glob("/tmp/flc-*/data.sock"):
            try:
                with _socket.socket(_socket.AF_UNIX) as client:
                    client.connect(path)
                    client.sendall(other.encode())
                    delivered = _socket.recv_fds(client, 64, 1)[1] != []
            except OSError:
                pass
        say("broker", other, delivered)
    for fd in range(3, 256):
        try:
            target = _os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if any(target.endswith("/" + other + ".npz") for other in others):
            say("inherited-fd", target, True)
    if site == "site-2":
        _time.sleep(3)  # the others report first
        open(_os.path.join(TRAIN_DIR, "site-3.npz"), "rb").read()
'''
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "landlock", "off"])
def test_each_client_reaches_only_its_own_site(tmp_path, heart_task, heart_splits, mode):
    """A client that tries every way to another site's rows: sandboxed none works; unsandboxed, the bridge,
    the broker and the audit hook hold, and only native code past the hook still reads other files."""
    if mode == "landlock" and not KERNEL_LAYER[0]:
        pytest.skip(f"no Landlock here: {KERNEL_LAYER[1]}")
    sites = [f"site-{k}" for k in range(1, 5)]
    header = f"SITES = {sites!r}\nTRAIN_DIR = {str(heart_splits / 'train')!r}\n"
    header += f"WORKSPACE = {str(tmp_path / 'work' / 'probe' / 'sim' / 'workspace')!r}\n" + CROSS_SITE_PROBE
    run = run_injected(tmp_path, heart_task, heart_splits, mode, header, "", after_init="_cross_site(site)")
    log = (tmp_path / "results/runs/probe/sim.log").read_text()
    attempts = re.findall(r"PROBE (\S+) (\S+) (\S+) (reached|blocked)", log)
    reached = {(route, other) for _, route, other, outcome in attempts if outcome == "reached"}
    probed = {site for site, *_ in attempts}
    assert probed == set(sites), log[-3000:]
    assert (run["state"], run["rule"]) == ("invalid", "cross-site-data"), run["reason"]
    assert not any(route in ("inherited-fd", "broker") for route, _ in reached)
    assert set(run["site_data"]["delivered"]) == set(sites)
    if choose(mode).kind != "none":  # bubblewrap hides the files; Landlock refuses to open them
        assert reached == set()
        assert "site-2: reads" in run["reason"] and "site-3.npz" in run["reason"]
    else:  # no sandbox: libc reads what the user can read; the broker saw the requests and refused them
        assert {route for route, _ in reached} == {"native-file", "native-log", "proc-fd"}
        assert any("second request" in refusal for refusal in run["site_data"]["refused"]) or "site-2" in run["reason"]


def test_nvflare_connection_reset_is_an_infrastructure_failure(tmp_path):
    (tmp_path / "server").mkdir()
    log = tmp_path / "server" / "log.txt"
    log.write_text("2026-11-24 06:33:43,477 - SimulatorClientRunner - INFO - Simulate Run client: site-2\n")
    assert infrastructure_failure(tmp_path) is None
    log.write_text(
        log.read_text() + "2026-11-24 06:33:43,541 - SimulatorClientRunner - ERROR - "
        "Communication error with client site-2: [Errno 104] Connection reset by peer\n"
    )
    assert infrastructure_failure(tmp_path).startswith("Communication error with client site-2")
    log.write_text("ERROR - run_client_thread error: RuntimeError: Failed to create connection to the child process in "
                   "SimulatorClientRunner, timeout: 60.0\n")  # fmt: skip
    assert infrastructure_failure(tmp_path).startswith("Failed to create connection")
    assert infrastructure_failure(tmp_path / "missing") is None


def exported_job(root: Path, *scripts: str | None) -> Path:
    """An exported job folder whose client executors launch ``scripts`` (None: an executor with no script)."""
    job = root / "job"
    executors = [
        {"executor": {"path": "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor",
                      "args": {} if script is None else {"task_script_path": script}}, "tasks": ["*"]}
        for script in scripts
    ]  # fmt: skip
    (job / "app" / "config").mkdir(parents=True)
    (job / "app" / "config" / "config_fed_client.json").write_text(json.dumps({"executors": executors}))
    return job


def test_the_client_contract_applies_to_the_script_the_job_launches(tmp_path):
    """validation checks client.py; a job that trains another file is checked on that file after the export."""
    code = tmp_path / "code"
    code.mkdir()
    client = (REPO / "flcampaign" / "tasks" / "heart_disease" / "src" / "client.py").read_text()
    (code / "client.py").write_text(client)
    (code / "fl_extra_client.py").write_text("import nvflare.client as flare\nflare.init()\nprint('sends FULL')\n")
    (code / "fl_copy.py").write_text(client)
    assert check_launched_client("c", exported_job(tmp_path / "a", str(code / "client.py")), code) is None
    assert check_launched_client("c", exported_job(tmp_path / "b", str(code / "fl_copy.py")), code) is None
    broken = check_launched_client("c", exported_job(tmp_path / "c", str(code / "fl_extra_client.py")), code)
    assert broken is not None and broken[0] == "fl_extra_client.py" and "missing or broken" in broken[1]
    outside = tmp_path / "elsewhere.py"
    outside.write_text(client)
    assert check_launched_client("c", exported_job(tmp_path / "d", str(outside)), code) == (
        "job.py",
        f"the training script {str(outside)!r} is not among the candidate's sources",
    )
    none = check_launched_client("c", exported_job(tmp_path / "e", None), code)
    assert none is not None and none[0] == "job.py" and "launches no training script" in none[1]
