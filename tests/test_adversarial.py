"""The adversarial corpus: hostile candidates, each with its expected outcome (tests/adversarial/<case>/).

Static cases are refused by validation (no code runs); runtime cases run in one real campaign next to
the baseline, which must go on: every case is recorded with the rule it broke, nothing else is lost.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_candidates

from flcampaign.contract import validate_chain
from flcampaign.ledger import build_rows, read_tsv
from flcampaign.sandbox import choose
from flcampaign.task import Task

CORPUS = Path(__file__).resolve().parent / "adversarial"
CASES = {case.name: yaml.safe_load((case / "expected.yaml").read_text()) for case in sorted(CORPUS.iterdir())}
STATIC = sorted(name for name, expected in CASES.items() if expected["stage"] == "validate")
RUNTIME = sorted(name for name, expected in CASES.items() if expected["stage"] in ("simulate", "score"))


def drop(campaign: Path, *cases: str) -> None:
    """Copy corpus cases into a campaign as candidates named after the case (symlinks kept as symlinks)."""
    for case in cases:
        shutil.copytree(CORPUS / case / "candidate", campaign / "candidates" / case, symlinks=True)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(REPO / "tasks" / "heart_disease")


def test_corpus_covers_the_threat_list():
    required = {
        "path-traversal", "absolute-path", "symlink", "binary-patch", "edit-evaluator", "edit-data-bridge",
        "edit-profile", "create-outside-globs", "rounds-in-job", "clients-in-job", "send-removed",
        "full-instead-of-diff", "numpy-params", "fake-metrics", "forged-results-file", "read-heldout",
        "infinite-loop", "crash-after-training", "detached-child", "output-flood", "malformed-yaml",
        "unknown-keys", "missing-parent", "cycle-a", "cycle-b", "duplicate-a", "duplicate-b",
        "pool-sites", "read-other-site", "answer-key-model", "literal-table", "aggregator-own-model",
        "aggregator-ignores-updates", "ship-rows", "hidden-local-steps", "server-filter", "memory-hog", "thread-bomb",
    }  # fmt: skip
    assert required <= set(CASES)
    assert all(expected["threat"] for expected in CASES.values())


@pytest.mark.parametrize("case", STATIC)
def test_static_case_is_refused_with_its_rule(case, task, tmp_path):
    expected = CASES[case]
    drop(tmp_path, *CASES)  # every case beside every other, as in a real drop zone
    record = validate_chain(tmp_path / "candidates", case, task, tmp_path / "results")
    assert record["state"] == ("ok" if expected["status"] == "ok" else "invalid"), record.get("reason")
    if expected["status"] == "invalid":
        assert record["rule"] == expected["rule"], record["reason"]
        assert record["file"] == expected["file"], record["reason"]
        assert record["reason"].startswith(f"candidate {case}: {expected['file']}: rule {expected['rule']}: ")
        assert not list((tmp_path / "results" / "candidates" / case / "src").iterdir())


def test_duplicates_are_flagged(task, tmp_path):
    drop(tmp_path, "duplicate-a", "duplicate-b")
    for case in ("duplicate-a", "duplicate-b"):
        assert validate_chain(tmp_path / "candidates", case, task, tmp_path / "results")["state"] == "ok"
    rows = {
        row["candidate"]: row for row in build_rows(task, tmp_path / "results", ["duplicate-a", "duplicate-b"], 0, 0.0)
    }
    assert rows["duplicate-b"]["duplicate_of"] == CASES["duplicate-b"]["duplicate_of"]
    assert rows["duplicate-a"]["duplicate_of"] == ""
    assert rows["duplicate-a"]["patch_sha256"] != rows["duplicate-b"]["patch_sha256"]


KILLING_RULES = (
    "stall",
    "timeout",
    "output-cap",
    "stray-process",
    "cross-site-data",
    "file-access",
    "process",
    "compute-budget",
    "memory-cap",
    "process-cap",
)


def expected_in(case: str, sandboxed: bool) -> dict:
    """A case's expected outcome where it ran: ``sandboxed:`` / ``unsandboxed:`` override the common keys."""
    expected = CASES[case]
    return {**expected, **(expected.get("sandboxed" if sandboxed else "unsandboxed") or {})}


MODES = ["auto", "off"] if choose("auto").kind == "bubblewrap" else ["off"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_runtime_cases_in_a_real_campaign(tmp_path, mode):
    """Baseline plus every runtime case through the real workflow at one round: the campaign goes on.

    Run once with the sandbox (where bubblewrap works) and once without: the containment that does
    not depend on it (the data bridge and broker, the audit hook, the aggregation audit, the compute
    budget) must hold both ways.
    """
    sandboxed = mode == "auto"
    cases = [case for case in RUNTIME if sandboxed or CASES[case].get("run_unsandboxed")]
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, "0000-baseline")
    drop(campaign, *cases)
    (campaign / "config.yaml").write_text(f"task: heart_disease\nnum_rounds: 1\nexecution:\n  sandbox: '{mode}'\n")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "results/results.tsv"]
    cmd += ["-d", str(campaign), "--cores", "2", "--resources=gpu=2", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["candidate"]: row for row in read_tsv(campaign / "results" / "results.tsv")}
    assert set(rows) == {"0000-baseline", *cases}
    assert rows["0000-baseline"]["status"] == "baseline"
    for case in cases:
        expected, row = expected_in(case, sandboxed), rows[case]
        run_dir = campaign / "results/runs/search" / case / "seed0"
        run = json.loads((run_dir / "run.json").read_text())
        assert row["sandbox"] == ("bubblewrap" if sandboxed else "none")
        if expected["status"] == "scored":
            assert row["status"] in ("keep", "discard"), (case, row["failure_reason"])
            reference = expected["same_score_as"] if expected["same_score_as"] != "baseline" else "0000-baseline"
            assert row["score"] == rows[reference]["score"], case
        else:
            record = json.loads((run_dir / "score.json").read_text()) if expected["stage"] == "score" else run
            assert row["status"] == expected["status"], (case, row["failure_reason"])
            assert record["rule"] == expected["rule"], (case, record["reason"])
            assert row["failure_reason"]
        assert run.get("reaped_processes", 0) == 0 or run["rule"] in KILLING_RULES
    assert rows["0000-baseline"]["cpu_seconds"] and float(rows["0000-baseline"]["compute_ratio"]) < 1.5
