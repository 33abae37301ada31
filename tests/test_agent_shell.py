"""`flcampaign agent-shell`: the agent sees its control plane, never the split files or the raw data."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, VENV_BIN, copy_candidates

from flcampaign.agent import agent_shell
from flcampaign.execution.sandbox import Sandbox, choose
from flcampaign.task import Task

SANDBOX = choose("auto")

AGENT = """
import json, os, subprocess, sys
seen = {}
for path in sys.argv[1:]:
    seen[path] = os.path.exists(path) and (os.path.isdir(path) and bool(os.listdir(path)) or os.path.isfile(path))
try:
    open("results/forged.tsv", "w").write("x")
    seen["results writable"] = True
except OSError:
    seen["results writable"] = False
open("candidates/note.txt", "w").write("written by the agent")
status = subprocess.run([sys.executable, "-m", "flcampaign.cli", "status", "--json"], capture_output=True, text=True)
seen["status"] = json.loads(status.stdout)["task"] if status.returncode == 0 else status.stderr
print("AGENT " + json.dumps(seen))
"""


@pytest.mark.skipif(SANDBOX.kind != "bubblewrap", reason=f"no sandbox here: {SANDBOX.detail}")
def test_the_agent_sees_its_control_plane_but_no_data(tmp_path, monkeypatch):
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, "0000-baseline")
    (campaign / "config.yaml").write_text("task: heart_disease\n")
    split = campaign / "results" / "task" / "search_val"
    split.mkdir(parents=True)
    np.savez(split / "site-1.npz", x=np.zeros((2, 13)), y=np.ones(2))  # labels the agent must not read
    heldout = campaign / "results" / "runs" / "repeat" / "0000-baseline" / "seed42"
    heldout.mkdir(parents=True)
    (heldout / "heldout.json").write_text("{}")
    raw = REPO / "flcampaign" / "tasks" / "heart_disease" / "data"
    probes = [str(split / "site-1.npz"), str(heldout / "heldout.json"), str(raw), str(raw / "processed.va.data")]
    probes += [
        str(campaign / "candidates" / "0000-baseline" / "candidate.yaml"),
        str(REPO / "flcampaign/tasks/heart_disease"),
    ]
    (campaign / "agent.py").write_text(AGENT)
    monkeypatch.chdir(campaign)
    cmd = [str(VENV_BIN / "flcampaign"), "agent-shell", "--no-network", "--", sys.executable, "agent.py", *probes]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("AGENT "))[6:])
    assert seen[probes[0]] is False and seen[probes[1]] is False, "split labels or held-out results visible"
    assert seen[probes[2]] is False and seen[probes[3]] is False, "raw task data visible"
    assert seen[probes[4]] is True and seen[probes[5]] is True, "the candidates and the task profile are readable"
    assert seen["results writable"] is False
    assert seen["status"] == "heart_disease"
    assert (campaign / "candidates" / "note.txt").read_text() == "written by the agent"
    assert (split / "site-1.npz").is_file(), "hiding the data does not touch it"


def test_without_a_sandbox_the_agent_shell_refuses(tmp_path):
    task = Task.load(REPO / "flcampaign/tasks/heart_disease")
    with pytest.raises(agent_shell.AgentShellUnavailable, match="could read the split files"):
        agent_shell.command(tmp_path, task, ["true"], Sandbox("none", "bubblewrap (bwrap) is not installed"))
