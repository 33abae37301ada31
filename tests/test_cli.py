"""The flcampaign command line as an agent uses it: drafts, validation, diffs, status, literature, the lock."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_candidates
from test_literature import review

from flcampaign.agent.watch import campaign_lock
from flcampaign.cli import main
from flcampaign.evidence.ledger import read_tsv, to_tsv
from flcampaign.files import write_json
from flcampaign.layout import Records
from flcampaign.records import ledger_row
from flcampaign.task import Task

SUBCOMMANDS = ("run", "watch", "new", "validate", "diff", "status", "literature", "program", "verify")


@pytest.fixture
def campaign(tmp_path, monkeypatch) -> Path:
    copy_candidates(tmp_path, "0000-baseline", "0005-fedadam", "0006-fedadam-prox", "0007-send-full-weights")
    (tmp_path / "config.yaml").write_text("task: heart_disease\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ledger(campaign: Path, *rows: tuple[str, str, str]) -> None:
    """A scripted results.tsv: (candidate, status, score) rows in campaign order."""
    full = [
        ledger_row(order=i, candidate=c, status=s, score=float(v) if v else None, kind="source_edit")
        for i, (c, s, v) in enumerate(rows, start=1)
    ]
    (campaign / "results").mkdir(exist_ok=True)
    (campaign / "results" / "results.tsv").write_text(to_tsv(full))


def fill(draft: Path, **fields) -> None:
    meta = yaml.safe_load((draft / "candidate.yaml").read_text())
    (draft / "candidate.yaml").write_text(yaml.safe_dump(meta | fields))


def test_validate_accepts_and_refuses(campaign, capsys):
    assert main(["validate", "0006-fedadam-prox"]) == 0
    assert "OK: 0006-fedadam-prox" in capsys.readouterr().out
    assert main(["validate", "0007-send-full-weights"]) == 2
    err = capsys.readouterr().err
    assert "candidate 0007-send-full-weights: client.py: rule client-contract" in err
    assert main(["validate", "no-such"]) == 2
    assert "no such candidate" in capsys.readouterr().err
    assert not (campaign / "results").exists()  # validation by hand never touches the workflow's records


def test_validate_names_the_rule_for_a_folder_where_a_file_belongs(campaign, capsys):
    """Once a traceback (IsADirectoryError): a patch path that is a folder, a candidate.yaml in another encoding."""
    (campaign / "candidates" / "0006-fedadam-prox" / "patches" / "002-more.patch").mkdir()
    assert main(["validate", "0006-fedadam-prox"]) == 2
    err = capsys.readouterr().err
    assert "candidate 0006-fedadam-prox: patches/002-more.patch: rule candidate-layout: a folder" in err
    metadata = campaign / "candidates" / "0005-fedadam" / "candidate.yaml"
    metadata.write_bytes(metadata.read_text().encode("utf-16"))
    assert main(["validate", "0005-fedadam"]) == 2
    assert "candidate 0005-fedadam: candidate.yaml: rule candidate-yaml: not UTF-8 text" in capsys.readouterr().err


def test_draft_edit_finish_diff(campaign, capsys):
    assert main(["new", "weight-decay", "--parent", "baseline"]) == 0
    assert "draft 0008-weight-decay (parent baseline)" in capsys.readouterr().out
    draft = campaign / "drafts" / "0008-weight-decay"
    assert (draft / "tree" / "client.py").read_text() == (
        REPO / "flcampaign/tasks/heart_disease/src/client.py"
    ).read_text()
    assert main(["new", "--finish", draft.name]) == 2
    assert "rule draft-placeholder: fill in title, hypothesis, family" in capsys.readouterr().err
    client = draft / "tree" / "client.py"
    client.write_text(client.read_text().replace("lr=args.lr)", "lr=args.lr, weight_decay=1e-4)"))
    fill(draft, title="SGD weight decay", hypothesis="less overfit on small sites", family="regularise")
    fill(draft, args={"lr": 0.01})
    assert main(["validate", draft.name]) == 0
    assert "OK: 0008-weight-decay passes every static check (client.py)" in capsys.readouterr().out
    assert main(["new", "--finish", draft.name]) == 0
    folder = campaign / "candidates" / draft.name
    assert not draft.exists() and sorted(p.name for p in folder.iterdir()) == ["candidate.yaml", "patches"]
    meta = yaml.safe_load((folder / "candidate.yaml").read_text())
    assert meta["parent"] == "baseline" and meta["args"] == {"lr": 0.01} and "T" in meta["created"]
    (patch,) = (folder / "patches").iterdir()
    assert "+    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=1e-4)" in patch.read_text()
    capsys.readouterr()
    assert main(["diff", draft.name]) == 0
    out = capsys.readouterr().out
    assert "# knobs: lr=0.01 (baseline 0.001)" in out and "# files: client.py" in out and "weight_decay" in out
    assert main(["new", "--finish", draft.name]) == 2  # nothing left to finish; the candidate is untouched
    assert yaml.safe_load((folder / "candidate.yaml").read_text()) == meta


def test_new_starts_from_the_current_best(campaign, capsys):
    ledger(campaign, ("0000-baseline", "baseline", "0.70"), ("0005-fedadam", "keep", "0.76"), ("x", "discard", "0.8"))
    assert main(["new", "prox"]) == 0
    assert "(parent 0005-fedadam)" in capsys.readouterr().out
    meta = yaml.safe_load((campaign / "drafts" / "0008-prox" / "candidate.yaml").read_text())
    parent = yaml.safe_load((campaign / "candidates" / "0005-fedadam" / "candidate.yaml").read_text())
    assert meta["args"] == parent["args"] and meta["family"] == parent["family"]
    ledger(campaign, ("0000-baseline", "baseline", "0.80"), ("0005-fedadam", "discard", "0.76"))
    assert main(["new", "other"]) == 0
    assert "0009-other (parent baseline)" in capsys.readouterr().out


def test_finish_refuses_contract_breaks_and_keeps_the_draft(campaign, capsys):
    main(["new", "bad", "--parent", "baseline", "--family", "x"])
    draft = campaign / "drafts" / "0008-bad"
    fill(draft, title="t", hypothesis="h")
    data = draft / "tree" / "fl_data.py"
    data.write_text(data.read_text() + "\n# read the held-out split\n")
    assert main(["new", "--finish", draft.name]) == 2
    assert "candidate 0008-bad: patches/001-bad.patch: rule fixed-file" in capsys.readouterr().err
    data.unlink()
    assert main(["new", "--finish", draft.name]) == 2
    assert "rule no-delete" in capsys.readouterr().err
    data.symlink_to("/etc/passwd")
    assert main(["new", "--finish", draft.name]) == 2
    assert "tree/fl_data.py: rule path-confinement" in capsys.readouterr().err
    data.unlink()
    data.write_bytes((Task.load(REPO / "flcampaign" / "tasks" / "heart_disease").sources / "fl_data.py").read_bytes())
    (draft / "tree" / "fl_extra_blob.py").write_bytes(b"\xff\xfe\x00binary")
    assert main(["validate", draft.name]) == 2
    assert "rule no-binary" in capsys.readouterr().err
    assert not (campaign / "candidates" / draft.name).exists() and draft.is_dir()
    assert not list((campaign / "candidates").glob(".*"))
    assert main(["new", "--abandon", draft.name]) == 0
    assert not draft.exists()
    assert main(["new", "--abandon", draft.name]) == 2


def test_new_refuses_an_invalid_parent_and_bad_slugs(campaign, capsys):
    assert main(["new", "child", "--parent", "0007-send-full-weights"]) == 2
    assert "0007-send-full-weights: client.py: rule parent-invalid" in capsys.readouterr().err
    assert main(["new", "Bad_Slug"]) == 2
    assert main(["new", "child", "--parent", "nope"]) == 2
    assert "rule parent-missing" in capsys.readouterr().err
    assert not (campaign / "drafts").exists() or not list((campaign / "drafts").iterdir())


def test_status_is_live(campaign, capsys):
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "queued (not in the ledger yet): 0000-baseline, 0005-fedadam" in out
    assert "next action: run_baseline" in out
    ledger(campaign, ("0000-baseline", "baseline", "0.70"), ("0005-fedadam", "keep", "0.76"))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "best: 0005-fedadam accuracy=0.7600" in out and "next action: propose_candidate" in out
    main(["new", "draft", "--parent", "baseline"])
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["next_action"] == "edit_candidate" and state["facts"]["pending_drafts"] == ["0008-draft"]
    assert state["queued"] == ["0006-fedadam-prox", "0007-send-full-weights"]
    assert state["guard"]["plateau"] == 8 and state["best"] == {"candidate": "0005-fedadam", "score": 0.76}
    (campaign / "STOP").touch()
    main(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["next_action"] == "abandon_candidate"
    main(["new", "--abandon", "0008-draft"])
    assert capsys.readouterr().out == "abandoned draft 0008-draft\n"
    main(["status", "--json"])
    state = json.loads(capsys.readouterr().out)
    assert (state["next_action"], state["final_response_allowed"]) == ("final_report", True)


def test_status_counts_the_cost_so_far(campaign, capsys):
    ledger(campaign, ("0000-baseline", "baseline", "0.70"))
    main(["status"])
    assert "cost:" not in capsys.readouterr().out  # nothing ran yet
    for phase, seed in (("search", 0), ("repeat", 42)):
        write_json(
            Records(campaign / "results").run_record(phase, "0000-baseline", seed),
            {"state": "ok", "runtime_seconds": 20.0, "compute": {"cpu_seconds": 30.0}, "device": "cpu"},
        )
    write_json(Records(campaign / "results").heldout_record("0000-baseline", 42), {"predict_seconds": 3.0})
    main(["status"])
    assert "cost: 2 runs (search 1, repeats 1), 40 s wall, 60 CPU-s, 3 s scoring" in capsys.readouterr().out
    main(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["cost"]["phases"]["repeat"]["cpu_seconds"] == 30.0


def test_status_warns_when_runs_went_without_a_sandbox(campaign, capsys):
    ledger(campaign, ("0000-baseline", "baseline", "0.70"), ("0005-fedadam", "keep", "0.76"))
    assert main(["status"]) == 0
    assert "WARNING" not in capsys.readouterr().out
    tsv = campaign / "results" / "results.tsv"
    rows = read_tsv(tsv)
    tsv.write_text(to_tsv([row | {"sandbox": "none"} for row in rows]))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: 2 of 2 runs ran without a sandbox" in out and "execution.sandbox: required" in out


def test_status_reads_guard_thresholds_from_the_config(campaign, capsys):
    (campaign / "config.yaml").write_text("task: heart_disease\nguard: {plateau: 1, stop_file: HALT}\n")
    ledger(campaign, ("0000-baseline", "baseline", "0.70"), ("0005-fedadam", "discard", "0.60"))
    main(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["next_action"] == "run_literature_loop"
    (campaign / "config.yaml").write_text("task: heart_disease\nguard: {plateu: 1}\n")
    assert main(["status"]) == 2
    assert "guard: Additional properties are not allowed ('plateu'" in capsys.readouterr().err


def test_literature_add_and_linked_drafts(campaign, capsys):
    assert main(["literature", "template"]) == 0
    (campaign / "template.yaml").write_text(capsys.readouterr().out)
    assert main(["literature", "add", "template.yaml"]) == 2  # the bare template is not a review
    assert "literature template.yaml: rule literature-schema" in capsys.readouterr().err
    (campaign / "review.yaml").write_text(yaml.safe_dump(review()))
    assert main(["literature", "add", "review.yaml"]) == 0
    out = capsys.readouterr().out
    assert "literature event lit-0002 recorded" in out and "proposals: P3 (23), P2 (21), P1 (19)" in out
    assert main(["new", "momentum", "--literature", "lit-0002", "--proposal", "P2", "--parent", "baseline"]) == 0
    meta = yaml.safe_load((campaign / "drafts" / "0008-momentum" / "candidate.yaml").read_text())
    assert meta["literature_event"] == "lit-0002" and meta["title"] == "mechanism 2"
    assert meta["hypothesis"] == "effect 2" and meta["literature"] == [{"ref": "li2020", "note": "lit-0002 P2"}]
    assert main(["new", "x", "--literature", "lit-0009"]) == 2
    assert "lit-0009: not recorded" in capsys.readouterr().err
    assert main(["new", "x", "--literature", "lit-0002", "--proposal", "P9"]) == 2


def test_one_workflow_per_campaign_folder(campaign, capsys):
    with campaign_lock(campaign):
        assert main(["run"]) == 2
        err = capsys.readouterr().err
        assert "another flcampaign run or watch holds .flcampaign.lock (pid " in err
        assert main(["watch", "--interval", "0.01"]) == 2
    assert "one workflow per campaign folder" in capsys.readouterr().err


def test_every_subcommand_has_help():
    exe = Path(sys.executable).with_name("flcampaign")
    for sub in ([], *([name] for name in SUBCOMMANDS)):
        result = subprocess.run([str(exe), *sub, "--help"], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0 and "usage: flcampaign" in result.stdout
        if sub:
            assert "--config" in result.stdout
