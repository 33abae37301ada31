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
from conftest import REPO, copy_candidates, one_round_task

from flcampaign.contract.validation import validate_chain
from flcampaign.evidence.ledger import build_rows, read_tsv
from flcampaign.execution.sandbox import SandboxUnavailable, choose
from flcampaign.task import Task

CORPUS = REPO / "tests" / "adversarial"
CASES = {case.name: yaml.safe_load((case / "expected.yaml").read_text()) for case in sorted(CORPUS.iterdir())}
STATIC = sorted(name for name, expected in CASES.items() if expected["stage"] == "validate")
RUNTIME = sorted(name for name, expected in CASES.items() if expected["stage"] in ("simulate", "score", "ledger"))
WIDENED = sorted(name for name, expected in CASES.items() if expected.get("allow_imports"))
KIND_MODE = {"bubblewrap": "bubblewrap", "landlock": "landlock", "none": "off"}  # sandbox kind -> execution.sandbox


def drop(campaign: Path, *cases: str) -> None:
    """Copy corpus cases into a campaign as candidates named after the case (symlinks kept as symlinks)."""
    for case in cases:
        shutil.copytree(CORPUS / case / "candidate", campaign / "candidates" / case, symlinks=True)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")


def test_corpus_covers_the_threat_list():
    required = {
        "path-traversal", "absolute-path", "symlink", "binary-patch", "edit-evaluator", "edit-data-bridge",
        "edit-profile", "create-outside-globs", "rounds-in-job", "clients-in-job", "send-removed",
        "full-instead-of-diff", "numpy-params", "fake-metrics", "forged-results-file", "read-heldout",
        "infinite-loop", "crash-after-training", "detached-child", "output-flood", "malformed-yaml",
        "unknown-keys", "missing-parent", "cycle-a", "cycle-b", "duplicate-a", "duplicate-b",
        "pool-sites", "read-other-site", "answer-key-model", "literal-table", "aggregator-own-model",
        "aggregator-ignores-updates", "ship-rows", "hidden-local-steps", "server-filter", "memory-hog", "thread-bomb",
        "codecs-open", "posix-system", "ctypes-libc", "torch-hub", "dunder-escape", "format-string-escape",
        "module-as-value", "homoglyph-file", "patches-still-being-written", "second-baseline", "native-read-other-site",
        "launched-extra-client",
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


def expected_in(case: str, kind: str) -> dict:
    """A case's expected outcome under a sandbox kind: a ``bubblewrap:`` / ``landlock:`` / ``none:`` block
    overrides the common keys."""
    expected = CASES[case]
    return {**expected, **(expected.get(kind) or {})}


def unavailable(kind: str) -> str | None:
    """Why this machine cannot run candidate code under ``kind``, or None."""
    try:
        choose(KIND_MODE[kind])
    except SandboxUnavailable as error:
        return str(error)
    return None


def widened_task(campaign: Path, cases: list[str]) -> None:
    """The campaign's own one-round copy of the task (``one_round_task``: the compute cases hide 1000x the
    work and meet its cap all the same), its import allowlist widened for the cases that need it to reach
    the runtime defence they test (the default allowlist refuses them first: test_widened_cases_...)."""
    profile_path = one_round_task(campaign) / "profile.yaml"
    profile = yaml.safe_load(profile_path.read_text())
    modules = sorted({module for case in cases for module in CASES[case].get("allow_imports", [])})
    profile["surface"]["imports"] = {"all": modules}
    profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))


@pytest.mark.parametrize("case", WIDENED)
def test_widened_cases_are_refused_by_the_default_allowlist(case, task, tmp_path):
    """Defence in depth: what the runtime layers are tested against never gets past the static check as shipped."""
    drop(tmp_path, case)
    record = validate_chain(tmp_path / "candidates", case, task, tmp_path / "results")
    assert (record["state"], record["rule"]) == ("invalid", "import-allowlist"), record["reason"]


@pytest.mark.parametrize("case", RUNTIME)
def test_runtime_case_reaches_the_runtime_defence(case, tmp_path):
    """Every runtime case passes validation in the widened task, so the slow campaign test exercises the layer
    it names and not a patch that stopped applying (a shared source that moved, say)."""
    widened_task(tmp_path, [case])
    drop(tmp_path, case)
    record = validate_chain(
        tmp_path / "candidates", case, Task.load(tmp_path / "tasks" / "heart_disease"), tmp_path / "results"
    )
    assert record["state"] == "ok", record.get("reason")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KIND_MODE))
def test_runtime_cases_in_a_real_campaign(tmp_path, kind):
    """Baseline plus every runtime case through the real workflow at one round: the campaign goes on.

    Run under each sandbox kind the machine allows (bubblewrap, Landlock alone, none), each case under
    the kinds its expected outcome names: the containment that does not depend on the sandbox (the data
    bridge and broker, the audit hook, the aggregation audit, the compute budget, the caps) must hold
    under all of them. The cases arrive after the baseline's first ledger, as an agent's would.
    """
    reason = unavailable(kind)
    if reason:
        pytest.skip(reason)
    cases = [case for case in RUNTIME if kind in CASES[case].get("kinds", ["bubblewrap"])]
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, "0000-baseline")
    widened_task(campaign, cases)
    (campaign / "config.yaml").write_text(
        f"task: heart_disease\nnum_rounds: 1\nexecution:\n  sandbox: '{KIND_MODE[kind]}'\n"
    )
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "results/results.tsv"]
    cmd += ["-d", str(campaign), "--cores", "2", "--resources=gpu=2", "--keep-going"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    drop(campaign, *cases)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["candidate"]: row for row in read_tsv(campaign / "results" / "results.tsv")}
    assert set(rows) == {"0000-baseline", *cases}
    assert rows["0000-baseline"]["status"] == "baseline"
    for case in cases:
        expected, row = expected_in(case, kind), rows[case]
        run_dir = campaign / "results/runs/search" / case / "seed0"
        run = json.loads((run_dir / "run.json").read_text())
        assert row["sandbox"] == kind
        if expected["status"] == "scored":
            assert row["status"] in ("keep", "discard"), (case, row["failure_reason"])
            reference = expected["same_score_as"] if expected["same_score_as"] != "baseline" else "0000-baseline"
            assert row["score"] == rows[reference]["score"], case
        elif expected["stage"] == "ledger":
            assert row["status"] == expected["status"], (case, row["failure_reason"])
            assert f"{expected['file']}: rule {expected['rule']}: " in row["failure_reason"], row["failure_reason"]
        else:
            record = json.loads((run_dir / "score.json").read_text()) if expected["stage"] == "score" else run
            assert row["status"] == expected["status"], (case, row["failure_reason"])
            assert record["rule"] == expected["rule"], (case, record["reason"])
            assert row["failure_reason"]
        assert run.get("reaped_processes", 0) == 0 or run["rule"] in KILLING_RULES
    assert rows["0000-baseline"]["cpu_seconds"] and float(rows["0000-baseline"]["compute_ratio"]) < 1.5
