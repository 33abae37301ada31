"""`flcampaign verify`: a finished campaign checks clean, and each kind of tampering is named."""

import contextlib
import copy
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, copy_candidates, task_with_own_loader

from flcampaign.cli import main
from flcampaign.config import load_config
from flcampaign.contract.literature import load_events
from flcampaign.contract.validation import validate_candidate
from flcampaign.evidence import racing, winners
from flcampaign.evidence.controls import draw_controls, write_control
from flcampaign.evidence.ledger import fixed_digest, read_tsv, write_ledger
from flcampaign.execution.sandbox import SandboxUnavailable, choose
from flcampaign.files import SNAKEMAKE_STAMP, atomic_write_text, read_json, sha256_file, sha256_tree, write_json
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task
from flcampaign.verify import CHECKS, Audit, Finding, audit, check_fixed, check_rescore, check_tree, verify
from flcampaign.workflow import task_of

IDS = ("0000-baseline", "0001-fedprox-mu001", "0002-fedavgm", "0008-thirty-rounds")
SITES = ("site-1", "site-2")
SEARCH = {"0000-baseline": 0.70, "0001-fedprox-mu001": 0.74, "0002-fedavgm": 0.72, "_ctl-001": 0.71}
REPEAT = {"0000-baseline": (0.69, 0.71), "0001-fedprox-mu001": (0.73, 0.76)}
RACE = {"0001-fedprox-mu001": 0.75, "0002-fedavgm": 0.70, "0000-baseline": 0.71}  # search seed 1
SANDBOX = {"kind": "none", "detail": "bubblewrap not found"}
MODEL_SPEC = {"path": "model.HeartLogReg", "args": {}}  # the class the runner records (the task's own here)
ROWS = 100  # per site of each evaluation split: a score is a whole number of the 200 pooled rows
POOLED = len(SITES) * ROWS
SHIFT = {"search_val": 0, "heldout": 2}  # rows: on the held-out split every model scores 2 rows (0.01) less


def write_split(results: Path, split: str) -> None:
    """An evaluation split where a model's accuracy is what its threshold makes it: every label is 1 and feature 0
    takes 200 distinct values over the two sites, so a model predicting 1 above a threshold on feature 0 scores
    the share of rows above it (the other features are noise the models give no weight)."""
    rng = np.random.default_rng(len(split))
    for index, site in enumerate(SITES):
        x = rng.normal(0.0, 0.01, (ROWS, 13)).astype(np.float32)
        x[:, 0] = (index * ROWS + np.arange(ROWS) + 0.5 - SHIFT[split]) / POOLED
        np.savez(results / "task" / split / f"{site}.npz", x=x, y=np.ones(ROWS, dtype=np.float32))


def save_model(path: Path, score: float, label: str) -> int:
    """A final model of the task's own class (logistic regression) that predicts 1 on the rows of the search split
    above a threshold, so that its accuracy there is ``score``; how many rows that is."""
    positives = round(score * POOLED)
    weight = torch.zeros(1, 13)
    weight[0, 0] = 1000.0  # p is far from 0.5 on every row
    bias = torch.tensor([-1000.0 * (POOLED - positives) / POOLED])
    torch.save({"model": {"linear.weight": weight, "linear.bias": bias}, "meta_props": {"run": label}}, path)
    return positives


def fake_run(results: Path, phase: str, cid: str, seed: int, score: float | None) -> None:
    """The records simulate and score would write, with a real final model that scores ``score`` on the splits."""
    run_dir = results / "runs" / phase / cid / f"seed{seed}"
    run_dir.mkdir(parents=True)
    run = {"candidate": cid, "phase": phase, "seed": seed, "sandbox": SANDBOX}
    if score is None:
        write_json(run_dir / "run.json", run | {"state": "skipped", "reason": "validation: invalid"})
        write_json(run_dir / "score.json", {"candidate": cid, "state": "skipped", "reason": "run: skipped"})
        return
    positives = save_model(run_dir / "global_model.pt", score, f"{cid} {phase} {seed}")
    model = sha256_file(run_dir / "global_model.pt")
    write_json(
        run_dir / "run.json",
        run | {"state": "ok", "model_sha256": model, "model_spec": MODEL_SPEC, "runtime_seconds": 3.25},
    )
    records = [("score.json", "search_val")] + ([("heldout.json", "heldout")] if phase == "repeat" else [])
    for name, split in records:
        value = (positives - SHIFT[split]) / POOLED  # the accuracy, as the evaluator divides it
        hashes = {site: sha256_file(results / "task" / split / f"{site}.npz") for site in SITES}
        record = {"candidate": cid, "phase": phase, "seed": seed, "split": split, "state": "ok", "score": value}
        write_json(run_dir / name, record | {"model_sha256": model, "split_sha256": hashes})


def race_summary() -> dict:
    """The two scored agent candidates raced on search seed 1 beside the baseline, as selection records it."""
    settings = racing.RaceSettings(contenders=2, seeds=(1,), batch=1, alpha=0.1, top_k=1)
    screening = {cid: SEARCH[cid] for cid in ("0001-fedprox-mu001", "0002-fedavgm")}
    state = racing.enter(screening, settings, 1.0, ("0000-baseline", SEARCH["0000-baseline"]))
    state = racing.advance(state, {cid: {1: score} for cid, score in RACE.items()}, settings, 1.0, 0)
    return racing.summary(state, racing.ranking(state, 1.0, 0), 0)


def build(root: Path) -> None:
    """A finished campaign from real validation records and scripted run, score and winner records."""
    copy_candidates(root, *IDS)
    (root / "config.yaml").write_text("task: heart_disease\n")
    (root / "literature").mkdir()
    shutil.copy(REPO / "literature" / "lit-0001.yaml", root / "literature")
    config = load_config(root / "config.yaml")
    task, results = task_of(config), root / "results"
    for split in ("train", "search_val", "heldout"):
        (results / "task" / split).mkdir(parents=True)
    for index, site in enumerate(SITES):  # no score names the training split: verify never reads it
        (results / "task" / "train" / f"{site}.npz").write_bytes(f"train rows of {site} {index}".encode())
    for split in ("search_val", "heldout"):
        write_split(results, split)
    for cid in IDS:
        validate_candidate(root / "candidates", cid, task, results)
        (results / "candidates" / cid / "src" / SNAKEMAKE_STAMP).touch()  # Snakemake stamps directory outputs
    write_control(task, draw_controls(task, 1, 0)[0], results)
    for cid in (*IDS, "_ctl-001"):
        fake_run(results, "control" if cid.startswith("_") else "search", cid, 0, SEARCH.get(cid))
    for cid, scores in REPEAT.items():
        for seed, score in zip((42, 43), scores, strict=True):
            fake_run(results, "repeat", cid, seed, score)
    for cid, score in RACE.items():
        fake_run(results, "race", cid, 1, score)
    write_evidence(root)


def write_evidence(root: Path) -> None:
    """The winners (winners.json and winners.tsv) and the ledger, built from the records as the workflow builds
    them: what an attacker who edited a score record would replay so that everything agrees with it."""
    config = load_config(root / "config.yaml")
    task, results = task_of(config), root / "results"
    selection = {
        "baseline": "0000-baseline",
        "winners": [{"candidate": "0001-fedprox-mu001", "reasons": ["top-1 by search score"]}],
        "controls": [],
        "n_scored_agent_candidates": 1,
        "race": race_summary(),
    }
    evidence = winners.build(task, selection, results, [42, 43], 0)
    write_json(results / "winners.json", evidence)
    atomic_write_text(results / "winners.tsv", winners.to_tsv(evidence))
    with contextlib.chdir(root):  # as the ledger rule runs: relative artifact paths
        write_ledger(
            task,
            Path("results"),
            list(IDS),
            task.seeds["search"],
            config["ledger"]["keep_margin"],
            load_events(Path("literature")),
            Path("results/results.tsv"),
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verified") / "campaign"
    root.mkdir()
    build(root)
    return root


@pytest.fixture
def campaign(built, tmp_path) -> Path:
    copy = tmp_path / "campaign"
    shutil.copytree(built, copy)
    return copy


def check(campaign: Path, task: Task | None = None) -> list[Finding]:
    config = load_config(campaign / "config.yaml")
    return verify(campaign, task or task_of(config), config)


def test_a_finished_campaign_is_clean(campaign):
    config = load_config(campaign / "config.yaml")
    outcome = audit(campaign, task_of(config), config)
    assert outcome.findings == [] and outcome.clean
    checked = set(outcome.checked)
    for artifact in (
        "candidates/0001-fedprox-mu001/patches/001-change.patch",
        "candidates/0001-fedprox-mu001/candidate.yaml",
        "results/controls/ctl-001/candidate.yaml",
        "results/candidates/0001-fedprox-mu001/src",
        "results/candidates/_ctl-001/validation.json",
        "results/runs/search/0002-fedavgm/seed0/global_model.pt",
        "results/runs/repeat/0000-baseline/seed43/heldout.json",
        "results/task/heldout/site-2.npz",
        "results/results.tsv",
        "results/winners.json",
        "literature/lit-0001.yaml",
    ):
        assert artifact in checked
    assert "results/task/train/site-1.npz" not in checked  # no score record names the training split
    assert not any(Path(name).is_absolute() for name in checked)


def ok_score_records(campaign: Path) -> list[Path]:
    return [
        path
        for name in ("score.json", "heldout.json")
        for path in sorted(campaign.glob(f"results/runs/*/*/*/{name}"))
        if read_json(path)["state"] == "ok"
    ]


def test_every_ok_score_is_recomputed_and_the_winners_table_checked(campaign):
    config = load_config(campaign / "config.yaml")
    outcome = audit(campaign, task_of(config), config)
    assert outcome.clean and outcome.not_recomputed == {}
    assert outcome.recomputed == len(ok_score_records(campaign)) == 15  # search 3, control 1, race 3, repeat 4 x 2
    assert "results/winners.tsv" in outcome.checked


def test_a_forged_score_json_is_tampered_though_the_ledger_agrees(campaign, monkeypatch, capsys):
    """An unsandboxed candidate sets the baseline's search score to 0.0 and rebuilds the ledger from the records:
    every later candidate then looks like a gain, and only the score itself can tell."""
    baseline = campaign / "results/runs/search/0000-baseline/seed0/score.json"
    edit_json(baseline, score=0.0)
    write_evidence(campaign)
    findings = check(campaign)
    assert not [f for f in findings if f.check == "ledger"], findings  # the ledger agrees with the forged record
    rescored = [f for f in findings if f.check == "rescore"]
    assert rescored == [
        Finding(
            "results/runs/search/0000-baseline/seed0/score.json",
            "rescore",
            "recorded 0.0, recomputed 0.7 (the trusted evaluator, from global_model.pt on search_val)",
        )
    ]
    monkeypatch.chdir(campaign)
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED results/runs/search/0000-baseline/seed0/score.json: rescore: recorded 0.0, recomputed 0.7" in out


def test_a_forged_heldout_json_is_tampered_though_the_winners_agree(campaign, monkeypatch, capsys):
    heldout = campaign / "results/runs/repeat/0000-baseline/seed42/heldout.json"
    edit_json(heldout, score=0.25)
    write_evidence(campaign)  # the winners replayed from the forged record: winners.json and .tsv agree with it
    assert read_json(campaign / WINNERS)["baseline_heldout"]["42"] == 0.25
    assert check(campaign) == [
        Finding(
            "results/runs/repeat/0000-baseline/seed42/heldout.json",
            "rescore",
            "recorded 0.25, recomputed 0.68 (the trusted evaluator, from global_model.pt on heldout)",
        )
    ]
    monkeypatch.chdir(campaign)
    assert main(["verify"]) == 1
    assert capsys.readouterr().out.startswith(
        "TAMPERED results/runs/repeat/0000-baseline/seed42/heldout.json: rescore: recorded 0.25, recomputed 0.68"
    )


def test_verify_recomputes_exactly_what_scoring_computed(campaign):
    """The scripted records hold the accuracy worked out by hand; the real evaluator, run contained as the workflow
    runs it, writes the same score, and verify recomputes that float in its own process."""
    config = load_config(campaign / "config.yaml")
    task, results = task_of(config), campaign / "results"
    run_dir = results / "runs/repeat/0000-baseline/seed42"
    scripted = {name: read_json(run_dir / name)["score"] for name in ("score.json", "heldout.json")}
    tree = results / "candidates/0000-baseline/src"
    for name, split in (("score.json", "search_val"), ("heldout.json", "heldout")):
        record = score_run(
            task,
            read_json(run_dir / "run.json"),
            run_dir,
            tree,
            results / "task",
            split,
            run_dir / name,
            choose("auto"),
        )
        assert record["state"] == "ok", record
        assert record["score"] == scripted[name]
        (run_dir / name).with_suffix(".log").unlink(missing_ok=True)
    outcome = audit(campaign, task, config)
    assert outcome.clean, outcome.findings
    assert outcome.recomputed == len(ok_score_records(campaign))
    edit_json(run_dir / "heldout.json", mean_over_sites=0.1)  # what the winners' second analysis reads
    mean = float(np.mean([36 / ROWS, 100 / ROWS]))  # the sites' held-out accuracies, averaged as the evaluator does
    assert [f.detail for f in check(campaign)] == [
        f"mean_over_sites: recorded 0.1, recomputed {mean!r} (the trusted evaluator, from global_model.pt on heldout)"
    ]


def open_architecture(task: Task) -> Task:
    """The task with the architecture left to the candidate: verify recomputes through the contained step."""
    profile = copy.deepcopy(task.profile)
    profile["model"] = {**profile["model"], "fixed": None}
    return Task(task.root, profile)


def test_where_the_architecture_is_the_candidates_the_score_is_recomputed_contained(campaign):
    config = load_config(campaign / "config.yaml")
    task = open_architecture(task_of(config))
    found = Audit(campaign, task, config)
    validation = read_json(campaign / "results/candidates/0000-baseline/validation.json")
    check_tree(found, "0000-baseline", validation)
    run_dir = campaign / "results/runs/search/0000-baseline/seed0"
    run, path = read_json(run_dir / "run.json"), run_dir / "score.json"
    before = set(sys.modules)
    check_rescore(found, path, read_json(path), run)
    assert (found.recomputed, found.findings) == (1, {})
    edit_json(path, score=0.0)
    check_rescore(found, path, read_json(path), run)
    (finding,) = found.findings
    assert (finding.check, finding.detail) == (
        "rescore",
        "recorded 0.0, recomputed 0.7 (the trusted evaluator, from global_model.pt on search_val)",
    )
    loaded = [sys.modules[name] for name in set(sys.modules) - before]
    assert not [m for m in loaded if str(campaign) in str(getattr(m, "__file__", "") or "")]  # only contained
    assert not list(campaign.rglob("*.log"))  # the prediction step's log stays in its scratch folder


def test_a_score_this_machine_cannot_recompute_is_said_not_flagged(campaign, monkeypatch, capsys):
    """No sandbox for the candidate's model class, or the task's own class will not import: the scores are
    hash-checked only, and the summary says so."""
    config = load_config(campaign / "config.yaml")

    def no_sandbox(mode):
        raise SandboxUnavailable("execution.sandbox is required but bubblewrap cannot start")

    monkeypatch.setattr("flcampaign.verify.choose", no_sandbox)
    outcome = audit(campaign, open_architecture(task_of(config)), config)
    assert outcome.clean and outcome.recomputed == 0
    ((why, count),) = outcome.not_recomputed.items()
    assert count == len(ok_score_records(campaign)) and "bubblewrap cannot start" in why

    def no_class(task):
        raise ImportError("no torch here")

    monkeypatch.setattr("flcampaign.verify.OwnModel", no_class)
    monkeypatch.chdir(campaign)
    assert main(["verify"]) == 0
    captured = capsys.readouterr()
    assert "0 scores recomputed" in captured.out and "no tampering found" in captured.out
    assert captured.err == (
        f"not recomputed: {count} ok score(s), hash-checked only: the task's own model class cannot be imported: "
        "no torch here\n"
    )


def test_tree_hash_ignores_the_snakemake_stamp_only_at_the_top(tmp_path):
    src = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease").sources
    tree = tmp_path / "src"
    shutil.copytree(src, tree)
    (tree / SNAKEMAKE_STAMP).write_text("")
    assert sha256_tree(tree) == sha256_tree(src)
    (tree / "sub").mkdir()
    (tree / "sub" / SNAKEMAKE_STAMP).write_text("")  # only the top-level stamp is Snakemake's
    assert sha256_tree(tree) != sha256_tree(src)


def test_ledger_rows_carry_the_hashes_verify_checks(campaign):
    task = task_of(load_config(campaign / "config.yaml"))
    rows = {row["candidate"]: row for row in read_tsv(campaign / "results" / "results.tsv")}
    assert [row["kind"] for row in rows.values()].count("literature") == 1
    run = read_json(campaign / "results/runs/search/0002-fedavgm/seed0/run.json")
    assert rows["0002-fedavgm"]["model_sha256"] == run["model_sha256"]
    assert rows["0002-fedavgm"]["fixed_sha256"] == fixed_digest(task.fixed_hashes)
    assert rows["0002-fedavgm"]["sandbox"] == "none"
    assert rows["0008-thirty-rounds"]["status"] == "invalid"
    assert (rows["0008-thirty-rounds"]["model_sha256"], rows["0008-thirty-rounds"]["sandbox"]) == ("", "")
    assert (rows["lit-0001"]["fixed_sha256"], rows["lit-0001"]["model_sha256"], rows["lit-0001"]["sandbox"]) == (
        "",
        "",
        "",
    )
    assert rows["0001-fedprox-mu001"]["artifacts"] == "results/runs/search/0001-fedprox-mu001/seed0"


def append(path: Path, data: bytes) -> None:
    path.write_bytes(path.read_bytes() + data)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def edit_json(path: Path, **changes) -> None:
    write_json(path, read_json(path) | changes)


def edit_yaml_title(path: Path) -> None:
    text = path.read_text()
    path.write_text(text.replace("title: ", "title: Better ", 1))


def edit_ledger(campaign: Path, edit) -> None:
    path = campaign / "results" / "results.tsv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


def set_ledger_score(lines: list[str], cid: str, score: str) -> list[str]:
    header = lines[0].rstrip("\n").split("\t")
    out = []
    for line in lines:
        cells = line.rstrip("\n").split("\t")
        if cells[header.index("candidate")] == cid:
            cells[header.index("score")] = score
            line = "\t".join(cells) + "\n"
        out.append(line)
    return out


def edit_winner_score(path: Path) -> None:
    evidence = read_json(path)
    evidence["entries"][0]["scores"]["43"] = 0.99
    write_json(path, evidence)


SEARCH_RUN = "results/runs/search/0002-fedavgm/seed0"
FEDPROX = "candidates/0001-fedprox-mu001"
LEDGER, WINNERS = "results/results.tsv", "results/winners.json"

# (case, tampering, expected {(artifact, check)}, text a finding of the pair the case is about contains: the one
# other than the ledger row and the rescore that follow from an edited score, see ``described``)
TAMPERING = [
    (
        "patch edited after validation",
        lambda c: append(c / FEDPROX / "patches/001-change.patch", b"\n"),
        {(f"{FEDPROX}/patches", "patch")},
        "edited after validation",
    ),
    (
        "candidate.yaml edited after validation",
        lambda c: edit_yaml_title(c / FEDPROX / "candidate.yaml"),
        {(f"{FEDPROX}/candidate.yaml", "patch")},
        "metadata recorded at validation",
    ),
    (
        "control folder edited",
        lambda c: edit_yaml_title(c / "results/controls/ctl-001/candidate.yaml"),
        {("results/controls/ctl-001/candidate.yaml", "patch")},
        "differs",
    ),
    (
        "candidate folder removed",
        lambda c: shutil.rmtree(c / FEDPROX),
        {("results/candidates/0001-fedprox-mu001/validation.json", "patch")},
        "is gone",
    ),
    (
        "materialised source edited",
        lambda c: append(c / "results/candidates/0001-fedprox-mu001/src/client.py", b"# sneaky\n"),
        {("results/candidates/0001-fedprox-mu001/src", "tree")},
        "validation recorded",
    ),
    (
        "file added to a materialised tree",
        lambda c: (c / "results/candidates/0000-baseline/src/fl_extra_cheat.py").write_text("x = 1\n"),
        {("results/candidates/0000-baseline/src", "tree")},
        "hashes to",
    ),
    (
        "model replaced",
        lambda c: flip_byte(c / SEARCH_RUN / "global_model.pt"),
        {(f"{SEARCH_RUN}/global_model.pt", "model")},
        "run.json recorded",
    ),
    (
        "model deleted",
        lambda c: (c / "results/runs/repeat/0000-baseline/seed42/global_model.pt").unlink(),
        {("results/runs/repeat/0000-baseline/seed42/global_model.pt", "model")},
        "missing",
    ),
    (
        "score value in the ledger",
        lambda c: edit_ledger(c, lambda lines: set_ledger_score(lines, "0002-fedavgm", "0.900000")),
        {(LEDGER, "ledger")},
        "results.tsv row 3 (candidate 0002-fedavgm): column score is 0.900000 in the ledger, 0.720000 in the records",
    ),
    (
        "score.json names another model",
        lambda c: edit_json(c / SEARCH_RUN / "score.json", model_sha256="0" * 64),
        {(f"{SEARCH_RUN}/score.json", "score")},
        "judged model 000000000000",
    ),
    (
        "score.json value edited after the ledger",
        lambda c: edit_json(c / SEARCH_RUN / "score.json", score=0.95),
        {(LEDGER, "ledger"), (WINNERS, "winners"), (f"{SEARCH_RUN}/score.json", "rescore")},  # the race used that run
        "0002-fedavgm race seed 0: 0.72 in winners.json, 0.95 in results/runs/search/0002-fedavgm/seed0",
    ),
    (
        "search split edited",
        lambda c: append(c / "results/task/search_val/site-1.npz", b"x"),
        {("results/task/search_val/site-1.npz", "score")},
        "recorded",
    ),
    (
        "held-out split deleted",
        lambda c: (c / "results/task/heldout/site-2.npz").unlink(),
        {("results/task/heldout/site-2.npz", "score")},
        "is missing",
    ),
    (
        "ledger rows reordered",
        lambda c: edit_ledger(c, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]]),
        {(LEDGER, "ledger")},
        "results.tsv row 1 (candidate 0001-fedprox-mu001) is out of campaign order: the records put it at row 2",
    ),
    (
        "ledger row added",
        lambda c: edit_ledger(c, lambda lines: [*lines, lines[-1]]),
        {(LEDGER, "ledger")},
        "results.tsv row 6 (candidate 0008-thirty-rounds) is not in the records (again; first at row 5)",
    ),
    (
        "ledger row dropped",
        lambda c: edit_ledger(c, lambda lines: lines[:-1]),
        {(LEDGER, "ledger")},
        "results.tsv row 5 (candidate 0008-thirty-rounds) is missing",
    ),
    (
        "ledger deleted",
        lambda c: (c / LEDGER).unlink(),
        {(LEDGER, "ledger")},
        "missing",
    ),
    (
        "validation record rewritten",
        lambda c: edit_json(c / "results/candidates/0002-fedavgm/validation.json", tree_sha256="f" * 64),
        {("results/candidates/0002-fedavgm/src", "tree"), (LEDGER, "ledger")},
        "validation recorded ffffffffffff",
    ),
    (
        "winners.json score edited",
        lambda c: edit_winner_score(c / WINNERS),
        {(WINNERS, "winners"), ("results/winners.tsv", "winners")},  # the table is no longer the evidence's
        "0001-fedprox-mu001 seed 43: 0.99 in winners.json, 0.76 in results/runs/repeat/0001-fedprox-mu001/seed43",
    ),
    (
        "race score edited after selection",
        lambda c: edit_json(c / "results/runs/race/0001-fedprox-mu001/seed1/score.json", score=0.5),
        {(WINNERS, "winners"), ("results/runs/race/0001-fedprox-mu001/seed1/score.json", "rescore")},
        "0001-fedprox-mu001 race seed 1: 0.75 in winners.json, 0.5 in results/runs/race/0001-fedprox-mu001/seed1",
    ),
    (
        "repeat score edited after the winners stage",
        lambda c: edit_json(c / "results/runs/repeat/0000-baseline/seed42/heldout.json", score=0.5),
        {(WINNERS, "winners"), ("results/runs/repeat/0000-baseline/seed42/heldout.json", "rescore")},
        "0000-baseline held-out seed 42",
    ),
    (
        "score.json pointed at the held-out split",
        lambda c: edit_json(
            c / SEARCH_RUN / "score.json",
            split="heldout",
            split_sha256={s: sha256_file(c / "results/task/heldout" / f"{s}.npz") for s in SITES},
        ),
        {(f"{SEARCH_RUN}/score.json", "score")},
        "was computed on split heldout of partition None; its run is scored on search_val of partition None",
    ),
    (
        "winners.tsv score edited",
        lambda c: (c / "results/winners.tsv").write_text(
            (c / "results/winners.tsv").read_text().replace("0.730000,0.760000", "0.730000,0.990000")
        ),
        {("results/winners.tsv", "winners")},
        "winners.tsv row 1 (candidate 0001-fedprox-mu001): column scores is 0.730000,0.990000 in winners.tsv, "
        "0.730000,0.760000 in winners.json",
    ),
]


def described(expected: set[tuple[str, str]]) -> tuple[str, str]:
    """The pair a case is about: an edited score also leaves a ledger row or a rescore finding behind it."""
    return min(expected, key=lambda pair: (pair[1] in ("ledger", "rescore"), pair[1] == "ledger", pair))


@pytest.mark.parametrize(
    ("tamper", "expected", "text"), [case[1:] for case in TAMPERING], ids=[c[0] for c in TAMPERING]
)
def test_each_kind_of_tampering_is_named(campaign, tamper, expected, text):
    tamper(campaign)
    findings = check(campaign)
    assert {(f.artifact, f.check) for f in findings} == expected, findings
    assert any(text in f.detail for f in findings if (f.artifact, f.check) == described(expected)), findings
    keys = [(f.artifact, f.check) for f in findings]
    assert keys == sorted(keys) and {f.check for f in findings} <= set(CHECKS)


def test_an_unreadable_score_record_is_named_and_verify_goes_on(campaign):
    """A score record the winners used, overwritten with text that is not JSON: named, not a traceback."""
    record = campaign / "results/runs/repeat/0000-baseline/seed42/score.json"
    record.write_text("not json")
    findings = check(campaign)
    assert any(
        f.artifact == "results/runs/repeat/0000-baseline/seed42/score.json" and "cannot be read as JSON" in f.detail
        for f in findings
    ), findings
    assert any(f.check == "winners" and "0000-baseline seed 42" in f.detail for f in findings), findings


def test_ledger_findings_are_one_per_row_problem(campaign):
    edit_ledger(campaign, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    assert [f.detail for f in check(campaign)] == [
        "results.tsv row 1 (candidate 0001-fedprox-mu001) is out of campaign order: the records put it at row 2",
        "results.tsv row 2 (candidate 0000-baseline) is out of campaign order: the records put it at row 1",
    ]
    edit_ledger(campaign, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])  # back in order
    assert check(campaign) == []
    edit_ledger(campaign, lambda lines: [*lines[:2], *lines[3:]])  # a row dropped in the middle
    assert [f.detail for f in check(campaign)] == ["results.tsv row 2 (candidate 0001-fedprox-mu001) is missing"]


def test_a_forged_row_is_named(campaign):
    edit_ledger(campaign, lambda lines: [*lines[:-1], lines[-1].replace("0008-thirty-rounds", "0099-forged", 1)])
    assert [f.detail for f in check(campaign)] == [
        "results.tsv row 5 (candidate 0099-forged) is not in the records",
        "results.tsv row 5 (candidate 0008-thirty-rounds) is missing",
    ]


def test_a_changed_task_is_named_for_every_validation(campaign, tmp_path):
    copy = tmp_path / "tasks" / "heart_disease"
    shutil.copytree(REPO / "flcampaign" / "tasks" / "heart_disease", copy)
    shutil.copytree(REPO / "flcampaign" / "tasks" / "_shared", tmp_path / "tasks" / "_shared")
    assert check(campaign, Task.load(copy)) == []  # same content elsewhere: same hashes
    append(tmp_path / "tasks" / "_shared" / "src" / "fl_data.py", b"# the data bridge changed\n")
    findings = check(campaign, Task.load(copy))
    validations = sorted(
        p.relative_to(campaign).as_posix() for p in campaign.glob("results/candidates/*/validation.json")
    )
    assert [f.artifact for f in findings] == validations and len(validations) == len(IDS) + 1
    assert all(f.check == "fixed" and "src/fl_data.py" in f.detail for f in findings)
    budget = check(campaign, Task.load(REPO / "flcampaign" / "tasks" / "heart_disease", num_rounds=3))
    assert {f.check for f in budget} == {"fixed"} and all("budget_sha256" in f.detail for f in budget)


def test_verify_never_imports_candidate_code(campaign):
    append(campaign / "results/candidates/0000-baseline/src/client.py", b"raise SystemExit('imported')\n")
    (campaign / "results/candidates/0000-baseline/src/model.py").write_text("raise SystemExit('imported')\n")
    config = load_config(campaign / "config.yaml")
    before = set(sys.modules)
    outcome = audit(campaign, task_of(config), config)
    assert [f.check for f in outcome.findings] == ["tree"]
    assert outcome.recomputed == len(ok_score_records(campaign))  # in this process, with the task's own class
    loaded = [sys.modules[name] for name in set(sys.modules) - before]
    assert not [m for m in loaded if str(campaign) in str(getattr(m, "__file__", "") or "")]
    assert "model" not in set(sys.modules) - before  # the task's own model module is not left behind either


def test_cli_verify_exit_codes_and_output(campaign, monkeypatch, capsys):
    monkeypatch.chdir(campaign)
    config = load_config(campaign / "config.yaml")
    outcome = audit(campaign, task_of(config), config)
    n_checked, n_scores = len(outcome.checked), outcome.recomputed
    assert main(["verify"]) == 0
    scope = rf"{n_checked} artifacts checked, {n_scores} scores recomputed \(\d+\.\d s\)"
    assert re.fullmatch(rf"verified: {scope}, no tampering found\n", capsys.readouterr().out)
    assert main(["verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    flip_byte(campaign / SEARCH_RUN / "global_model.pt")
    edit_ledger(campaign, lambda lines: lines[:-1])
    assert main(["verify"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert (
        lines[0] == "TAMPERED results/results.tsv: ledger: results.tsv row 5 (candidate 0008-thirty-rounds) is missing"
    )
    assert lines[1].startswith(f"TAMPERED {SEARCH_RUN}/global_model.pt: model: hashes to ")
    recomputed = rf"{n_scores - 1} scores recomputed"  # not the score of the replaced model: it is named already
    assert len(lines) == 2 and re.search(
        rf"2 finding\(s\) in {n_checked} artifacts checked, {recomputed}", captured.err
    )
    assert main(["verify", "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [(f["artifact"], f["check"]) for f in findings] == [
        (LEDGER, "ledger"),
        (f"{SEARCH_RUN}/global_model.pt", "model"),
    ]
    assert all(set(f) == {"artifact", "check", "detail"} for f in findings)


def test_cli_verify_outside_a_campaign(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["verify"]) == 2
    assert "no campaign configuration here" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--help"])
    assert exit_info.value.code == 0 and "--json" in capsys.readouterr().out


def test_an_edited_task_loader_is_named_like_a_fixed_file(tmp_path):
    task = Task.load(task_with_own_loader(tmp_path))
    record = {"fixed_sha256": task.fixed_hashes, "budget_sha256": task.budget_sha256}
    clean = Audit(tmp_path, task, {})
    check_fixed(clean, "0000-baseline", record)
    assert clean.findings == {}
    append(task.root / "loader.py", b"# the loader changed\n")
    audited = Audit(tmp_path, Task.load(task.root), {})
    check_fixed(audited, "0000-baseline", record)
    (finding,) = audited.findings
    assert finding.check == "fixed" and finding.detail.endswith("differ from their hashes at validation: loader.py")
