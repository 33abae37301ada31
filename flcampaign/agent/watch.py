"""Watch mode: keep the campaign running while an agent keeps dropping candidate folders.

One workflow at a time per campaign folder (an exclusive lock, also taken by ``flcampaign run``).
The search stages re-run whenever the set of complete candidate folders or literature events
changes; the stop file or a stopping guard decision ends the watch with the full workflow
(winners, repeats, controls, report).
"""

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import live_state
from flcampaign.contract.candidate import discover, refused_folders
from flcampaign.contract.literature import LITERATURE_DIR
from flcampaign.evidence.ledger import read_tsv
from flcampaign.files import read_json
from flcampaign.layout import Campaign
from flcampaign.reporting.dashboard import write_dashboard
from flcampaign.task import Task
from flcampaign.workflow import SNAKEFILE

LOCK_FILE = ".flcampaign.lock"
_CAMPAIGN = Campaign()
SEARCH_TARGETS = tuple(
    str(path)
    for path in (_CAMPAIGN.records.ledger, _CAMPAIGN.records.state, _CAMPAIGN.progress_plot, _CAMPAIGN.lineage_plot)
)


class CampaignBusy(RuntimeError):
    """Another workflow already runs on this campaign folder."""


@contextmanager
def campaign_lock(campaign_dir: Path) -> Iterator[None]:
    """Hold the campaign's exclusive lock; refuse at once (naming the holder) when it is taken."""
    path = Path(campaign_dir) / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise CampaignBusy(
                f"{Path(campaign_dir).resolve()}: another flcampaign run or watch holds {LOCK_FILE} ({holder}); "
                "one workflow per campaign folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now().isoformat(timespec='seconds')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def snakemake_command(
    profile: str, config: Path, targets: tuple[str, ...], extra: list[str], campaign: Path
) -> list[str]:
    """The campaign folder's own Snakefile when it has one (``flcampaign init`` writes it), else the installed
    workflow's. ``--configfile=`` keeps Snakemake from reading targets in ``extra`` as more config files."""
    own = Campaign(Path(campaign)).snakefile
    snakefile = str(own.resolve()) if own.is_file() else str(SNAKEFILE)
    cmd = [sys.executable, "-m", "snakemake", "-s", snakefile, *targets, "--profile", profile]
    return cmd + [f"--configfile={Path(config).resolve()}", *extra]


def release_stale_locks(profile: str, config: Path, cwd: Path) -> None:
    """Snakemake's own locks outlive a killed run; under the campaign lock no other workflow holds them."""
    subprocess.run(snakemake_command(profile, config, (), ["--unlock", "--quiet"], cwd), cwd=cwd, capture_output=True)


def run_workflow(cmd: list[str], cwd: Path) -> int:
    """Run Snakemake to completion; SIGTERM/SIGINT are passed on so it can stop its jobs cleanly."""
    process = subprocess.Popen(cmd, cwd=cwd)
    forward = {sig: signal.signal(sig, lambda s, _: process.send_signal(s)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait()
    finally:
        for sig, previous in forward.items():
            signal.signal(sig, previous)


def snapshot(campaign_dir: Path) -> dict[str, tuple]:
    """What the workflow depends on that an agent changes: complete candidate folders and literature events."""
    campaign_dir = Path(campaign_dir)
    state: dict[str, tuple] = {}
    for cid in discover(campaign_dir / "candidates"):
        folder = campaign_dir / "candidates" / cid
        state[f"candidates/{cid}"] = tuple(
            (p.relative_to(folder).as_posix(), p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))
            if not p.is_dir()
        )
    for row_id in refused_folders(campaign_dir / "candidates"):  # a refused folder is a ledger row too
        state[row_id] = ()
    for event in sorted((campaign_dir / LITERATURE_DIR).glob("lit-*.yaml")):
        state[f"{LITERATURE_DIR}/{event.name}"] = (event.stat().st_size, event.stat().st_mtime_ns)
    return state


def live_dashboard(campaign_dir: Path, task: Task, state: dict) -> None:
    """Rewrite the dashboard for the ledger as it stands, reloading itself while the watch goes on; the winners'
    evidence is shown only when it was computed from this ledger (newer than it)."""
    campaign = Campaign(Path(campaign_dir))
    records = campaign.records
    if not records.ledger.is_file():
        return
    evidence = None
    if records.winners_json.is_file() and records.winners_json.stat().st_mtime >= records.ledger.stat().st_mtime:
        evidence = read_json(records.winners_json)
    write_dashboard(campaign.dashboard, task, read_tsv(records.ledger), state, evidence, records.root, live=True)


def watch(
    campaign_dir: Path,
    task: Task,
    guard: GuardConfig,
    run: Callable[[tuple[str, ...]], int],
    interval: float = 5.0,
    final_report: bool = True,
    say: Callable[[str], None] = print,
) -> int:
    """Re-run the search stages on every change until the stop file or the guard says stop."""
    campaign_dir = Path(campaign_dir)

    def log(message: str) -> None:
        say(f"[watch {datetime.now().strftime('%H:%M:%S')}] {message}")

    seen: dict[str, tuple] | None = None
    while True:
        if (campaign_dir / guard.stop_file).exists():
            log(f"stop file {guard.stop_file} found")
            break
        current = snapshot(campaign_dir)
        if current != seen:
            changed = sorted(key for key in current if seen is None or current[key] != seen.get(key))
            log(f"running the search stages for {len(changed)} new or changed: {', '.join(changed) or 'none'}")
            code = run(SEARCH_TARGETS)
            if code:
                log(f"the workflow failed (exit {code}); it is retried on the next change")
            seen = current
            state = live_state(task, campaign_dir, guard)
            live_dashboard(campaign_dir, task, state)
            best = state["best"]
            log(
                f"{state['counts']['total']} rows, best "
                + (f"{best['candidate']} {best['score']:.4f}" if best else "none")
                + f"; next action {state['next_action']} ({state['reason']})"
            )
            if state["decision"] == "stop":
                log("the guard stops the campaign")
                break
        time.sleep(interval)
    if not final_report:
        return 0
    log("building the final report (winners, repeats, held-out, controls)")
    return run(())
