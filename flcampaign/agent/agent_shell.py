"""Run the agent where it cannot read the data it is scored on: ``flcampaign agent-shell -- CMD``.

An agent that can read the split files can copy their labels into a candidate, and no check of
the candidate's code can tell a memorised answer from a learned one for a small enough model. So
the agent's command runs in a bubblewrap sandbox that shows the campaign read-only, with
``candidates/``, ``drafts/`` and ``literature/`` writable (what the agent produces), the task's
profile and sources readable, and with the prepared splits (``results/task``), the task's raw
data and the held-out results (``results/runs/repeat``) empty. ``flcampaign status``, ``new``, ``validate`` and
``diff`` work as outside. The network is kept (the agent talks to its model) unless told
otherwise, and so is the user's home (where an agent keeps its settings).
"""

import os
import subprocess
from pathlib import Path

from flcampaign.execution.sandbox import Sandbox
from flcampaign.layout import Campaign
from flcampaign.schemas import SCHEMA_DIR
from flcampaign.task import Task

AGENT_WRITES = ("candidates", "drafts", "literature")
HIDDEN = ("results/task", "results/runs/repeat")


class AgentShellUnavailable(RuntimeError):
    """No sandbox on this machine: the agent would see the data."""


def hidden_paths(campaign: Path, task: Task) -> list[Path]:
    """What the agent may not see; created empty where missing, so that later content stays hidden too."""
    paths = [campaign / rel for rel in HIDDEN]
    paths += sorted(path for path in Campaign(campaign).tasks.glob("*/data") if path.is_dir())
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
    raw = (task.root / task.data["raw"]).resolve()
    return sorted({*paths, *([raw] if raw.is_dir() else [])})


def command(
    campaign: Path, task: Task, cmd: list[str], sandbox: Sandbox, network: bool = True, home: bool = True
) -> list[str]:
    """``cmd`` wrapped for the agent: the campaign and its task read-only but for the agent's outputs, the data
    hidden."""
    if sandbox.kind == "none":
        raise AgentShellUnavailable(
            f"agent-shell needs bubblewrap ({sandbox.detail}); without it the agent could read the split files. "
            "Install bubblewrap, or run the agent on a machine that has no copy of the data."
        )
    campaign = Path(campaign).resolve()
    writable = []
    for rel in AGENT_WRITES:
        (campaign / rel).mkdir(exist_ok=True)
        writable.append(campaign / rel)
    # the home is mounted first and the campaign read-only over it, wherever the campaign lies
    user_home = Path(os.environ["HOME"]).resolve() if home and os.environ.get("HOME") else None
    return sandbox.wrap(
        cmd,
        Path.cwd() if Path.cwd().resolve().is_relative_to(campaign) else campaign,
        readonly=[campaign, task.root, SCHEMA_DIR],  # the command line reads the schemas and the task
        writable=writable,
        network=network,
        hidden=hidden_paths(campaign, task),
        home=user_home,
        report=False,
    )


def run(campaign: Path, task: Task, cmd: list[str], sandbox: Sandbox, network: bool = True, home: bool = True) -> int:
    return subprocess.run(command(campaign, task, cmd, sandbox, network, home), check=False).returncode
