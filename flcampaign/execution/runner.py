"""One NVFlare simulation of one candidate tree: export, budget check, simulate, judge.

Candidate code (job.py at export, client and aggregator code in the simulator) runs only here,
in a fresh copy of the validated tree with a run-private NVFlare workspace and a unique job name.
A run succeeds only with exit code 0, empty ``error_log.txt`` files, a final global model and
no sign of dropped updates; everything else is recorded as ``crash``, ``timeout`` or ``invalid``.
"""

import importlib
import inspect
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from flcampaign.contract.client_protocol import check_client, parse_source
from flcampaign.data.splits import partition_of
from flcampaign.errors import ContractViolation
from flcampaign.execution import aggregation_audit, nvflare_settings, nvflare_waits, saved_model
from flcampaign.execution.box_init import last_report
from flcampaign.execution.capacity import Footprint
from flcampaign.execution.compute import CpuCeiling, GpuMeter
from flcampaign.execution.containment import ViolationWatch, violations_in
from flcampaign.execution.isolation import RunLayout, contained
from flcampaign.execution.process import Outcome, filtered_env, reap_stale, run_contained
from flcampaign.execution.resource_caps import MB, Caps, ResourceCaps
from flcampaign.execution.sandbox import Sandbox
from flcampaign.execution.site_data import SiteDataBroker
from flcampaign.execution.slots import Slot, lease
from flcampaign.files import read_json, sha256_file, write_json
from flcampaign.records import finish, run_record
from flcampaign.task import Task

EXPORT_TIMEOUT_S = 300
DEFAULT_LOG_MB, DEFAULT_FILE_MB = 64, 2048
# NVFlare's simulator sometimes loses a client process before it trains (connection reset, or no
# connection to the child within 60 s); the run then stalls with one client missing. Infrastructure
# failures are retried, once.
INFRASTRUCTURE_PATTERN = (
    r"Communication error with client site-\d+: \[Errno 104\] Connection reset by peer"
    r"|Failed to create connection to the child process in SimulatorClientRunner"
)
INFRASTRUCTURE_RETRIES = 1
DROPPED_UPDATE_PATTERNS = (r"vars excluded as they were non-tensor type", r"Empty result from client")
FINAL_MODEL = "server/simulate_job/app_server/FL_global_model.pt"
SCHEDULER_VARIABLES = ("SLURM_JOB_ID", "SLURM_STEP_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")


def scheduler_env() -> dict[str, str]:
    """What the cluster scheduler told this job (empty outside SLURM): job id and GPU assignment."""
    return {key: os.environ[key] for key in SCHEDULER_VARIABLES if key in os.environ}


def exported_value(class_path: str, args: dict, name: str) -> object:
    """An argument of an exported NVFlare component: NVFlare leaves out values equal to the default."""
    if name in args:
        return args[name]
    module_name, class_name = class_path.rsplit(".", 1)
    classes: tuple[type[Any], ...] = inspect.getmro(getattr(importlib.import_module(module_name), class_name))
    for cls in classes:
        parameter = inspect.signature(cls.__init__).parameters.get(name)
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return None


def check_exported_budget(job_dir: Path, task: Task, seed: int) -> list[str]:
    """Budget as NVFlare will run it, read from the exported job config (not from candidate code)."""
    budget = task.budget
    problems = []
    server = read_json(job_dir / "app" / "config" / "config_fed_server.json")
    client = read_json(job_dir / "app" / "config" / "config_fed_client.json")
    meta = read_json(job_dir / "meta.json")
    workflows = server.get("workflows", [])
    if len(workflows) != 1:
        problems.append(f"expected one server workflow, found {len(workflows)}")
    for workflow in workflows:
        path, args = workflow.get("path", ""), workflow.get("args", {})
        if not path.startswith("nvflare."):
            problems.append(f"the server workflow must be an NVFlare controller, got {path!r}")
            continue
        rounds = exported_value(path, args, "num_rounds")
        clients = exported_value(path, args, "num_clients")
        if rounds != budget["num_rounds"]:
            problems.append(f"num_rounds is {rounds}, budget says {budget['num_rounds']}")
        if clients != budget["n_clients"]:
            problems.append(f"server expects {clients} clients, budget says {budget['n_clients']}")
    if meta.get("min_clients") != budget["n_clients"]:
        problems.append(f"meta.json min_clients is {meta.get('min_clients')}, budget says {budget['n_clients']}")
    script_args = [e["executor"]["args"].get("task_script_args", "") for e in client.get("executors", [])]
    for flag, value in (("--batch_size", budget["batch_size"]), ("--seed", seed)):
        if not all(re.search(rf"(^|\s){flag}\s+{value}(\s|$)", a) for a in script_args) or not script_args:
            problems.append(f"client arguments {script_args} do not pass {flag} {value}")
    return problems


def launched_scripts(job_dir: Path, code: Path) -> tuple[list[Path], list[str]]:
    """The training scripts the exported job's client executors launch (``task_script_path``), found in the
    candidate's code or the job's ``custom/`` folder, and the problems of executors that launch none there."""
    client = read_json(job_dir / "app" / "config" / "config_fed_client.json")
    scripts, problems = [], []
    for entry in client.get("executors", []):
        named = (entry.get("executor", {}).get("args") or {}).get("task_script_path")
        if not named:
            problems.append(f"executor {entry.get('executor', {}).get('path')!r} launches no training script")
            continue
        path = Path(named)
        candidates = [path] if path.is_absolute() else [code / path.name, job_dir / "app" / "custom" / path.name]
        inside = [p for p in candidates if p.is_file() and p.resolve().is_relative_to(Path(code).resolve())]
        found = inside or [p for p in candidates if p.is_file() and p.resolve().is_relative_to(job_dir.resolve())]
        if not found:
            problems.append(f"the training script {named!r} is not among the candidate's sources")
            continue
        scripts.append(found[0])
    return scripts, problems


def check_launched_client(cid: str, job_dir: Path, code: Path) -> tuple[str, str] | None:
    """The client contract on the scripts the job really launches, whatever their names (``validation`` checked
    ``client.py``; a job may train another file): (file, reason) of the first break, or None."""
    scripts, problems = launched_scripts(job_dir, code)
    if problems:
        return "job.py", "; ".join(problems)
    for script in scripts:
        try:
            check_client(cid, parse_source(cid, script.name, script.read_text(encoding="utf-8")))
        except ContractViolation as violation:
            return script.name, violation.detail
    return None


def model_spec(job_dir: Path) -> dict:
    """Class path and constructor arguments of the global model, as the server rebuilds it."""
    server = read_json(job_dir / "app" / "config" / "config_fed_server.json")
    for component in server.get("components", []):
        model = component.get("args", {}).get("model")
        if component.get("id") == "persistor" and isinstance(model, dict) and "path" in model:
            return {"path": model["path"], "args": model.get("args", {})}
    raise ValueError("no persistor model in the exported server config")


def fixed_inputs(code: Path, fixed: list[str], train_dir: Path) -> dict[str, str]:
    """Hashes of what a run may read but never change: the fixed sources and the training split."""
    hashes = {rel: sha256_file(code / rel) if (code / rel).exists() else "" for rel in fixed}
    for path in sorted(Path(train_dir).iterdir()):
        hashes[f"train/{path.name}"] = sha256_file(path) if path.is_file() else ""
    return hashes


def workspace_activity(workspace: Path, log_path: Path) -> int:
    """Bytes logged so far by the simulator and its sites: grows while rounds complete."""
    logs = [log_path, *workspace.glob("*/log.txt")]
    return sum(p.stat().st_size for p in logs if p.exists())


def dropped_updates(workspace: Path) -> str | None:
    """NVFlare's sign that client updates were thrown away (numpy params, empty results), or None."""
    for log in sorted(workspace.glob("*/log.txt")):
        text = log.read_text(errors="replace")
        for pattern in DROPPED_UPDATE_PATTERNS:
            if re.search(pattern, text):
                return f"{log.parent.name}/log.txt: '{pattern}': client updates were dropped (send torch tensors)"
    return None


def judge_workspace(workspace: Path) -> str | None:
    """Why a finished simulation is not a success, or None."""
    for error_log in sorted(workspace.glob("*/error_log.txt")):
        if error_log.stat().st_size:
            first = error_log.read_text(errors="replace").strip().splitlines()[:3]
            return f"{error_log.parent.name}/error_log.txt is not empty: {' | '.join(first)[:500]}"
    dropped = dropped_updates(workspace)
    if dropped:
        return dropped
    if not (workspace / FINAL_MODEL).is_file():
        return "no final global model (FL_global_model.pt) was written"
    return None


def simulate(
    task: Task,
    validation: dict,
    tree: Path,
    train_dir: Path,
    phase: str,
    seed: int,
    out_dir: Path,
    work_dir: Path,
    slots: list[Slot],
    lock_dir: Path,
    sandbox: Sandbox,
    reference: dict | None = None,
    idle_settings: dict[str, float] = nvflare_settings.DEFAULTS,
    footprint: Footprint | None = None,
    short_waits: bool = True,
) -> dict:
    """Run one simulation on a leased slot; writes ``run.json`` (and ``global_model.pt`` on success).

    ``reference`` is the compute reference's run record: with it, a run is stopped as soon as it
    passes the compute budget. ``idle_settings`` are the NVFlare waits the runner shortens
    (``nvflare_settings``; empty: NVFlare's defaults) and ``short_waits`` caps NVFlare's fixed ones
    (``nvflare_waits``; refused on an NVFlare they were not read from). ``footprint`` is what the reference
    measurably used (``capacity``, the same that sized ``slots``): the lease waits for its peak memory.
    """
    mismatch = nvflare_waits.problems() if short_waits else []
    if mismatch:
        raise nvflare_waits.NVFlareMismatch(mismatch)
    out_dir, work_dir = Path(out_dir).resolve(), Path(work_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    record = run_record(
        validation["candidate"], phase, seed, task.budget, socket.gethostname(), scheduler_env(), sandbox.record()
    )
    record["partition_seed"] = partition_of(Path(train_dir).parent)
    if validation["state"] != "ok":
        write_json(out_dir / "run.json", finish(record, "skipped", f"validation: {validation['state']}"))
        return record
    settings = {**idle_settings, **({"capped_waits": nvflare_waits.record()} if short_waits else {})}
    with lease(lock_dir, slots, memory_mb=footprint.peak_memory_mb if footprint else None) as slot:
        for attempt in range(1 + INFRASTRUCTURE_RETRIES):
            tried = dict(record, slot=slot.label, slots=len(slots), device=slot.device, started_at=time.time())
            tried["attempts"] = attempt + 1
            tried["nvflare_settings"] = dict(settings)
            result = _run(task, validation, tree, train_dir, out_dir, work_dir, tried, slot.env(), sandbox, reference)
            if result["state"] == "ok" or not infrastructure_failure(workspace_dir(work_dir)):
                break
        return result


def infrastructure_failure(workspace: Path) -> str | None:
    """NVFlare's own failure to reach a simulated client: not the candidate's doing, so the run is retried."""
    log = workspace / "server" / "log.txt"
    text = log.read_text(errors="replace") if log.is_file() else ""
    match = re.search(INFRASTRUCTURE_PATTERN, text)
    return match.group(0) if match else None


def _run(
    task: Task,
    validation: dict,
    tree: Path,
    train_dir: Path,
    out_dir: Path,
    work_dir: Path,
    record: dict,
    device_env: dict[str, str],
    sandbox: Sandbox,
    reference: dict | None,
) -> dict:
    """Export, check and simulate inside a leased slot; ``record`` already names run, phase and seed."""
    token_file = work_dir.with_name(f".{work_dir.name}.token")
    record["stale_reaped"] = reap_stale(token_file)  # left by an attempt whose supervisor was killed
    if work_dir.exists():
        shutil.rmtree(work_dir)
    train_dir = Path(train_dir).resolve()
    # short paths: Unix socket paths (the site-data socket, multiprocessing's in the server) are limited
    with tempfile.TemporaryDirectory(prefix="flc-") as short, ResourceCaps(Caps.of(task.budget)) as caps:
        short_waits = "capped_waits" in record["nvflare_settings"]
        layout = _layout(task, work_dir, tree, train_dir, Path(short), sandbox, short_waits)
        return _export_and_simulate(
            task, validation, layout, out_dir, work_dir, record, device_env, token_file, reference, caps
        )


def workspace_dir(work_dir: Path) -> Path:
    """The simulator's workspace, alone in a folder of its own: NVFlare removes and remakes it, which
    needs write access to its parent, and nothing else of the run may be writable there."""
    return work_dir / "sim" / "workspace"


def _layout(
    task: Task, work_dir: Path, tree: Path, train_dir: Path, short: Path, sandbox: Sandbox, short_waits: bool
) -> RunLayout:
    """The run's folders (code copy, job, workspace, launch; under ``short`` the site-data socket and the
    private temporary folders), written out."""
    code = work_dir / "code"
    shutil.copytree(tree, code)
    layout = RunLayout(
        python=sys.executable,
        code=str(code),
        job_root=str(work_dir / "job"),
        workspace=str(workspace_dir(work_dir)),
        launch=str(work_dir / "launch"),
        tmp=str(short / "tmp"),
        train_dir=str(train_dir),
        split_root=str(train_dir.parent),
        sites=tuple(f"site-{k}" for k in range(1, task.budget["n_clients"] + 1)),
        data_socket=str(short / "data" / "data.sock"),
        sandbox_kind=sandbox.kind,
        sandbox_detail=sandbox.detail,
        sandbox_kernel=sandbox.kernel,
        short_waits=short_waits,
    )
    layout.write()
    for role in ("export", "server"):
        (short / "tmp" / role).mkdir(parents=True)
    (short / "data").mkdir()
    return layout


def _export_and_simulate(
    task: Task,
    validation: dict,
    layout: RunLayout,
    out_dir: Path,
    work_dir: Path,
    record: dict,
    device_env: dict[str, str],
    token_file: Path,
    reference: dict | None,
    caps: ResourceCaps,
) -> dict:
    cid, phase, seed = validation["candidate"], record["phase"], record["seed"]
    code, job_root, workspace = Path(layout.code), Path(layout.job_root), Path(layout.workspace)
    sandbox = layout.sandbox

    def boxed(cmd: list[str]) -> list[str]:
        return _boxed(layout, work_dir, cmd)

    job_name = f"fl-{cid}-{phase}-s{seed}-{secrets.token_hex(3)}"  # NVFlare names start alphanumeric
    job_args = task.job_args(job_name, seed, validation["args"])
    env = filtered_env(
        {"NVFLARE_SIMULATOR_WORKSPACE_ROOT": str(workspace), "PYTHONPATH": layout.pythonpath, **device_env}
    )
    fixed = list(task.surface["fixed"])
    before = fixed_inputs(code, fixed, Path(layout.train_dir))
    record["fixed_sha256"] = before
    log_path = out_dir / "sim.log"
    log_path.unlink(missing_ok=True)
    watch = ViolationWatch(log_path)
    export_target, export = _export(layout, work_dir, job_args, env, log_path, token_file, caps, watch)
    record.update(job_name=job_name, command=export_target, work_dir=str(work_dir))
    elapsed, cpu = export.elapsed_s, export.cpu_seconds
    record["compute"] = {"cpu_seconds": round(cpu, 3), "gpu_seconds": None}
    caps.settle()
    record["caps"] = caps.record()
    violation = _violation(log_path)
    if violation:
        return _finish(record, out_dir, "invalid", violation[1], elapsed, rule=violation[0])
    if caps.hit:
        return _finish(record, out_dir, "crash", caps.reason(), elapsed, rule=caps.hit, file="job.py")
    job_dir = job_root / job_name
    if export.returncode != 0 or not job_dir.is_dir():
        reason = "timed out" if export.timed_out else f"exit code {export.returncode}"
        return _finish(
            record, out_dir, "crash", f"job export failed ({reason}); see sim.log", elapsed, rule="job-export"
        )
    problems = check_exported_budget(job_dir, task, seed)
    if problems:
        return _finish(record, out_dir, "invalid", "; ".join(problems), elapsed, rule="fixed-budget", file="job.py")
    broken = check_launched_client(cid, job_dir, code)
    if broken:
        return _finish(record, out_dir, "invalid", broken[1], elapsed, rule="client-contract", file=broken[0])
    record["model_spec"] = model_spec(job_dir)
    misfit = check_fixed_model(task, record["model_spec"])
    if misfit:
        return _finish(record, out_dir, "invalid", misfit, elapsed, rule="fixed-architecture", file="job.py")
    audit_read, audit_write = os.pipe()
    server_config_path = job_dir / "app" / "config" / "config_fed_server.json"
    server_config = read_json(server_config_path)
    problems, audited = aggregation_audit.wrap(server_config, audit_write)
    if problems:
        os.close(audit_read)
        os.close(audit_write)
        reason = "; ".join(problems)
        return _finish(record, out_dir, "invalid", reason, elapsed, rule="server-components", file="job.py")
    record["nvflare_settings"] = nvflare_settings.apply(server_config, record["nvflare_settings"])
    write_json(server_config_path, server_config)
    client_config_path = job_dir / "app" / "config" / "config_fed_client.json"
    client_config = read_json(client_config_path)
    nvflare_settings.apply_client(client_config, record["nvflare_settings"])
    write_json(client_config_path, client_config)
    target = ["-m", "nvflare.cli", "simulator", str(job_dir), "-w", str(workspace)]
    target += ["-n", str(task.budget["n_clients"]), "-t", str(task.budget["n_clients"])]
    sim_cmd = boxed(contained(layout.server_policy(), target, interpreter=layout.launcher))
    meter = GpuMeter(device_env.get("CUDA_VISIBLE_DEVICES", ""))
    ceiling = CpuCeiling(task, reference, spent=cpu)
    audit_lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(audit_read, audit_lines), daemon=True)
    reader.start()
    record["timing"] = {"export_s": round(export.elapsed_s, 3), "simulator_started_at": time.time()}
    try:
        with SiteDataBroker(Path(layout.train_dir), list(layout.sites), Path(layout.data_socket)) as broker:
            sim = run_contained(
                sim_cmd,
                code,
                {**env, "TMPDIR": str(Path(layout.tmp) / "server")},
                max(1, task.budget["timeout_seconds"] - elapsed),
                log_path,
                stall_s=task.budget["stall_seconds"],
                progress=lambda: workspace_activity(workspace, log_path),
                max_output_bytes=task.budget.get("max_log_mb", DEFAULT_LOG_MB) * MB,
                max_file_bytes=task.budget.get("max_file_mb", DEFAULT_FILE_MB) * MB,
                token_file=token_file,
                pass_fds=(audit_write,),
                on_poll=meter.sample,
                abort=lambda: watch() or ceiling() or caps(),
                preexec=caps.preexec,
            )
    finally:
        os.close(audit_write)
        reader.join(timeout=10)
    elapsed += sim.elapsed_s
    record["timing"]["simulator_s"] = round(sim.elapsed_s, 3)
    # a killed tree's CPU is partly lost to the kernel's account; the ceiling's last look at it is a floor
    used = max(cpu + sim.cpu_seconds, ceiling.used)
    record["compute"] = {"cpu_seconds": round(used, 3), "gpu_seconds": meter.record()}
    caps.settle()
    record["caps"] = caps.record()
    box = last_report(log_path.read_text(errors="replace")) if sandbox.boxes else None
    stray = sim.reaped + (box["stray"] if box else 0)  # the sandbox's init kills and counts what outlived it
    record.update(returncode=sim.returncode, reaped_processes=stray, site_data=broker.record())
    after = fixed_inputs(code, fixed, Path(layout.train_dir))
    violation = _violation(log_path)
    if violation:
        return _finish(record, out_dir, "invalid", violation[1], elapsed, rule=violation[0])
    if caps.hit:  # the kernel stopped an allocation or a fork (or the watchdog the run): that broke it
        return _finish(record, out_dir, "crash", caps.reason(), elapsed, rule=caps.hit)
    if ceiling.tripped:
        return _finish(record, out_dir, "invalid", ceiling.violation(task), elapsed, rule="compute-budget")
    if broker.refused:
        reason = "site data refused: " + "; ".join(broker.refused)
        return _finish(record, out_dir, "invalid", reason, elapsed, rule="cross-site-data")
    if before != after:
        changed = sorted(rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel))
        return _finish(
            record, out_dir, "invalid", f"fixed files changed during the run: {changed}", elapsed, rule="fixed-file"
        )
    if sim.flooded:
        cap = task.budget.get("max_log_mb", DEFAULT_LOG_MB)
        return _finish(
            record, out_dir, "crash", f"logs passed {cap} MB; process tree killed", elapsed, rule="output-cap"
        )
    if sim.timed_out:
        reason = f"no result within {task.budget['timeout_seconds']} s; process tree killed"
        return _finish(record, out_dir, "timeout", reason, elapsed, rule="timeout")
    if sim.stalled:
        reason = f"no progress in the simulation logs for {task.budget['stall_seconds']} s; process tree killed"
        return _finish(record, out_dir, "timeout", reason, elapsed, rule="stall")
    if sim.returncode != 0 and (dropped := dropped_updates(workspace)):
        return _finish(record, out_dir, "crash", dropped, elapsed, rule="dropped-updates")
    shipped = aggregation_audit.shipped_data(audit_lines)
    if shipped:  # whether or not the run then failed, a client sent more than an update
        return _finish(record, out_dir, "invalid", shipped, elapsed, rule="client-update")
    if sim.returncode != 0:
        return _finish(
            record, out_dir, "crash", f"simulator exit code {sim.returncode}; see sim.log", elapsed, rule="exit-code"
        )
    if stray:
        reason = f"{stray} process(es) still running after the simulator exited; killed"
        return _finish(record, out_dir, "crash", reason, elapsed, rule="stray-process")
    problem = judge_workspace(workspace)
    if problem:
        return _finish(record, out_dir, "crash", problem, elapsed, rule="run-health")
    shutil.copyfile(workspace / FINAL_MODEL, out_dir / "global_model.pt")
    record["model_sha256"] = sha256_file(out_dir / "global_model.pt")
    rounds = task.budget["num_rounds"] if audited else 0
    verdict = aggregation_audit.judge(audit_lines, rounds, model_signature(out_dir / "global_model.pt"))
    record["aggregation_audit"] = {"audited_rounds": rounds, "records": len(audit_lines)}
    if verdict:
        return _finish(record, out_dir, "invalid", verdict[1], elapsed, rule=verdict[0], file="aggregators.py")
    return _finish(record, out_dir, "ok", "", elapsed)


def _boxed(layout: RunLayout, work_dir: Path, cmd: list[str]) -> list[str]:
    """The run's sandbox: its folder writable, code and launch folder read-only, no training split."""
    code, launch, socket_dir = Path(layout.code), Path(layout.launch), Path(layout.data_socket).parent
    return layout.sandbox.wrap(cmd, code, readonly=[code, launch, socket_dir], writable=[work_dir, Path(layout.tmp)])


def _export(
    layout: RunLayout,
    work_dir: Path,
    job_args: list[str],
    env: dict[str, str],
    log_path: Path,
    token_file: Path,
    caps: ResourceCaps,
    watch: ViolationWatch,
) -> tuple[list[str], Outcome]:
    """job.py's own ``--export`` with ``job_args``, contained and sandboxed: candidate code runs here."""
    target = ["job.py", "--export", "--export-dir", layout.job_root, *job_args]
    return target, run_contained(
        _boxed(layout, work_dir, contained(layout.export_policy(), target)),
        Path(layout.code),
        {**env, "TMPDIR": str(Path(layout.tmp) / "export")},
        EXPORT_TIMEOUT_S,
        log_path,
        token_file=token_file,
        abort=lambda: watch() or caps(),
        preexec=caps.preexec,
    )


class ExportFailed(ValueError):
    """A candidate's job could not be exported (its job.py failed, broke a rule or the budget)."""


def export_job(
    task: Task, validation: dict, tree: Path, train_dir: Path, seed: int, sandbox: Sandbox, scratch: Path
) -> Path:
    """A validated candidate's NVFlare job at ``seed``, with the fixed budget and its knob values, exported by
    its own job.py exactly as a run exports it (contained, sandboxed) and checked against the budget; the
    job folder lies in ``scratch`` (a short path: it holds the run's sockets)."""
    short = Path(scratch)
    work_dir = short / "work"
    with ResourceCaps(Caps.of(task.budget)) as caps:
        layout = _layout(task, work_dir, tree, Path(train_dir).resolve(), short, sandbox, short_waits=False)
        job_name = f"{validation['candidate']}-s{seed}"
        log_path = short / "export.log"
        env = filtered_env({"PYTHONPATH": layout.pythonpath})
        token_file = short / ".token"
        _, result = _export(
            layout,
            work_dir,
            task.job_args(job_name, seed, validation["args"]),
            env,
            log_path,
            token_file,
            caps,
            ViolationWatch(log_path),
        )
    violation = _violation(log_path)
    job_dir = Path(layout.job_root) / job_name
    tail = log_path.read_text(errors="replace")[-1500:] if log_path.is_file() else ""
    if violation:
        raise ExportFailed(f"{validation['candidate']}: job.py broke {violation[0]} at export: {violation[1]}")
    if result.returncode != 0 or not job_dir.is_dir():
        raise ExportFailed(
            f"{validation['candidate']}: job.py --export failed (exit code {result.returncode}):\n{tail}"
        )
    problems = check_exported_budget(job_dir, task, seed)
    if problems:
        raise ExportFailed(f"{validation['candidate']}: the exported job breaks the budget: {'; '.join(problems)}")
    return job_dir


def _read_lines(fd: int, lines: list[str]) -> None:
    """Collect what the server's audit writes, as it writes it (a full pipe would stall the run)."""
    with os.fdopen(fd, "r", errors="replace") as stream:
        lines.extend(line.rstrip("\n") for line in stream)


def _violation(log_path: Path) -> tuple[str, str] | None:
    """(rule, reason) of the first containment violation a run's processes reported, else None."""
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    found = violations_in(text)
    if not found:
        return None
    first = found[0]
    who = first.get("site") or first.get("role") or "a process"
    return first["rule"], f"{who}: {first.get('detail', '')}"


def model_signature(model_path: Path) -> str:
    """Names and shapes of the saved global model's tensors, as the audit signs the updates; a file
    that is not a checkpoint of plain tensors signs as itself (no update matches it)."""
    try:
        return aggregation_audit.shape_signature(saved_model.tensor_shapes(model_path))
    except saved_model.SavedModelError as error:
        return f"unreadable: {error}"


def check_fixed_model(task: Task, spec: dict) -> str:
    """Where the task fixes the architecture, the server must build the task's model class (its weights are
    then judged in the task's own copy of that class)."""
    fixed = task.model.get("fixed")
    if fixed and spec["path"] != fixed["class"]:
        return f"the server builds {spec['path']}; the task fixes the model to {fixed['class']}"
    return ""


def _finish(
    record: dict, out_dir: Path, state: str, reason: str, elapsed: float, rule: str = "", file: str = ""
) -> dict:
    finish(record, state, reason, rule, file)
    record.update(runtime_seconds=round(elapsed, 3), finished_at=time.time())
    write_json(out_dir / "run.json", record)
    return record
