"""Rules depend on library code and the task through content digests: an edit re-runs what it affects,
a move of the campaign or of the package does not."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, copy_candidates

from flcampaign import deps
from flcampaign.task import Task

SCHEMAS = REPO / "flcampaign" / "workflow" / "rules" / "schemas"


def script(name: str) -> Path:
    return REPO / "flcampaign" / "workflow" / "scripts" / f"{name}.py"


def test_the_closure_follows_imports_module_names_and_sibling_scripts():
    simulate = {p.relative_to(deps.PACKAGE_DIR).as_posix() for p in deps.closure(script("simulate"))}
    started = {"execution/contained.py", "execution/box_init.py", "execution/isolation.py"}  # by name or file
    assert {"execution/runner.py", *started} <= simulate
    assert "contract/allowlist.py" not in simulate  # a run does not depend on the static checks
    score = {p.relative_to(deps.PACKAGE_DIR).as_posix() for p in deps.closure(script("score"))}
    assert "scoring/predict_driver.py" in score  # started by file name beside the evaluator
    validate = {p.relative_to(deps.PACKAGE_DIR).as_posix() for p in deps.closure(script("validate"))}
    assert {"contract/allowlist.py", "contract/validation.py", "schemas.py"} <= validate


def test_an_edit_changes_the_digest_of_what_reaches_it_and_a_move_changes_nothing(tmp_path):
    package = tmp_path / "one" / "flcampaign"
    shutil.copytree(deps.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = {name: deps.code_digest(script(name), SCHEMAS, package=package) for name in ("validate", "progress")}
    moved = tmp_path / "elsewhere" / "flcampaign"
    shutil.copytree(package, moved)
    assert {name: deps.code_digest(script(name), SCHEMAS, package=moved) for name in before} == before
    with open(package / "contract" / "allowlist.py", "a") as handle:
        handle.write("# a change to the static checks\n")
    deps._references.cache_clear()
    after = {name: deps.code_digest(script(name), SCHEMAS, package=package) for name in before}
    assert after["validate"] != before["validate"]  # validation re-runs
    assert after["progress"] == before["progress"]  # the progress plot does not


def test_the_task_digest_follows_content_not_place(tmp_path):
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    one, two = task.copy_to(tmp_path / "a" / "heart_disease"), task.copy_to(tmp_path / "b" / "heart_disease")
    assert deps.task_digest(one) == deps.task_digest(two)
    with open(two.own_sources / "fl_data.py", "a") as handle:
        handle.write("# changed\n")
    assert deps.task_digest(Task.load(two.root)) != deps.task_digest(one)


@pytest.mark.slow
def test_a_code_edit_re_runs_validation_in_a_real_workflow(tmp_path):
    """A copy of the workflow: validate two candidates, edit the copy's allowlist, and Snakemake re-runs
    exactly the validations (their parameters changed); nothing else of the campaign is touched."""
    workflow = tmp_path / "workflow"
    workflow.mkdir()
    shutil.copytree(REPO / "flcampaign", workflow / "flcampaign", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "Snakefile", workflow / "Snakefile")  # uses the copied package's workflow as a module
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, "0000-baseline", "0001-fedprox-mu001")
    (campaign / "config.yaml").write_text("task: heart_disease\nnum_rounds: 1\n")
    targets = [f"results/candidates/{cid}/validation.json" for cid in ("0000-baseline", "0001-fedprox-mu001")]
    # run from the campaign folder: the working directory comes first on the import path, and it must be the copy
    env = {"PYTHONPATH": str(workflow), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(workflow / "Snakefile"), "-d", str(campaign), "--cores", "1"]
    first = subprocess.run([*cmd, *targets], capture_output=True, text=True, timeout=600, env=env, cwd=campaign)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run([*cmd, "-n", *targets], capture_output=True, text=True, timeout=600, env=env, cwd=campaign)
    assert "Nothing to be done" in again.stdout + again.stderr
    with open(workflow / "flcampaign" / "contract" / "allowlist.py", "a") as handle:
        handle.write("# a change to the static checks\n")
    dry = subprocess.run([*cmd, "-n", *targets], capture_output=True, text=True, timeout=600, env=env, cwd=campaign)
    out = dry.stdout + dry.stderr
    assert out.count("rule validate:") == 2 and "params" in out.lower(), out[-3000:]
