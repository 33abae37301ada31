"""The flcampaign command line: validate without simulating, status for people and agents."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, copy_candidates

from flcampaign.cli import main


def test_validate_accepts_and_refuses(tmp_path, monkeypatch, capsys):
    copy_candidates(tmp_path, "0005-fedadam", "0006-fedadam-prox", "0007-send-full-weights")
    (tmp_path / "config.yaml").write_text("task: heart_disease\n")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "0006-fedadam-prox"]) == 0
    assert "OK: 0006-fedadam-prox" in capsys.readouterr().out
    assert main(["validate", "0007-send-full-weights"]) == 2
    err = capsys.readouterr().err
    assert "candidate 0007-send-full-weights: client.py: rule client-contract" in err
    assert not (tmp_path / "results").exists()  # validation by hand never touches the workflow's records


def test_status_reads_campaign_state(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["status"]) == 1
    state = {
        "task": "heart_disease",
        "metric": {"name": "accuracy"},
        "counts": {"baseline": 1, "keep": 1, "total": 2},
        "baseline": {"candidate": "b", "score": 0.5},
        "best": {"candidate": "k", "score": 0.75},
        "next_action": "propose_candidate",
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "campaign_state.json").write_text(json.dumps(state))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "best: k accuracy=0.7500" in out and "next action: propose_candidate" in out
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == state


def test_console_entry_point_help():
    exe = Path(sys.executable).with_name("flcampaign")
    for sub in ([], ["run"], ["validate"], ["status"]):
        result = subprocess.run([str(exe), *sub, "--help"], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0 and "usage: flcampaign" in result.stdout
