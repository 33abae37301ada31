"""`flcampaign init`: a campaign folder anywhere, using the installed workflow as a Snakemake module."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ONE_ROUND_COMPUTE_RATIO, REPO

from flcampaign.agent import program
from flcampaign.agent.watch import snakemake_command
from flcampaign.cli import main
from flcampaign.config import load_config
from flcampaign.contract.candidate import discover
from flcampaign.evidence.ledger import read_tsv
from flcampaign.onboarding import campaign_folder
from flcampaign.task import Task
from flcampaign.workflow import BUNDLED_TASKS, CAMPAIGN_TEMPLATE, SNAKEFILE, bundled_tasks


def test_the_bundled_tasks_ship_with_the_package():
    assert bundled_tasks() == ["cifar10", "femnist", "heart_disease", "leaf_synthetic", "tcga_brca"]
    assert BUNDLED_TASKS.is_relative_to(REPO / "flcampaign")


@pytest.mark.parametrize("task_name", ["heart_disease", "femnist"])
def test_init_writes_a_self_contained_campaign(tmp_path, monkeypatch, task_name):
    folder = tmp_path / "my campaign"
    assert main(["init", str(folder), "--task", task_name]) == 0
    for name in ("Snakefile", "AGENTS.md", "program.md", "profiles/local/config.yaml", "profiles/slurm/config.yaml"):
        assert (folder / name).is_file(), name
    config = load_config(folder / "config.yaml")
    assert config["task"] == task_name
    task = Task.load(folder / "tasks" / task_name)
    bundled = Task.load(BUNDLED_TASKS / task_name)
    assert "shared" not in task.profile, "the copy carries the shared files in its own sources"
    assert sorted(p.name for p in task.sources.iterdir()) == sorted(p.name for p in bundled.sources.iterdir())
    assert program.is_current(task, config, folder / "program.md")
    assert f"`tasks/{task_name}/src/`" in (folder / "program.md").read_text()
    assert "program.md" in (folder / "AGENTS.md").read_text()
    assert discover(folder / "candidates") == ["0000-baseline"]
    meta = yaml.safe_load((folder / "candidates" / "0000-baseline" / "candidate.yaml").read_text())
    assert meta["parent"] == "baseline" and meta["title"] == f"Baseline — {task.title}, unchanged"
    monkeypatch.chdir(folder)
    assert main(["validate", "0000-baseline"]) == 0


def test_init_refuses_a_folder_that_holds_a_campaign_and_an_unknown_task(tmp_path, capsys):
    assert main(["init", str(tmp_path / "a"), "--task", "heart_disease"]) == 0
    before = (tmp_path / "a" / "config.yaml").read_text()
    assert main(["init", str(tmp_path / "a"), "--task", "femnist"]) == 2
    assert "already holds config.yaml, Snakefile, candidates, tasks" in capsys.readouterr().err
    assert (tmp_path / "a" / "config.yaml").read_text() == before, "nothing already written is replaced"
    with pytest.raises(SystemExit):
        main(["init", str(tmp_path / "b"), "--task", "mnist"])
    assert "invalid choice: 'mnist'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_repository_campaign_is_an_init_folder():
    """The bundled campaign is made of the same files `flcampaign init` writes, so there is one path."""
    for name in campaign_folder.TEMPLATE_FILES:
        assert (REPO / name).read_text() == (CAMPAIGN_TEMPLATE / name).read_text(), name
    heart = Task.load(BUNDLED_TASKS / "heart_disease")
    expected = campaign_folder.config_text(heart.name, heart.title, heart.seeds["repeat"])
    assert (REPO / "config.yaml").read_text() == expected


def fresh_venv_with_wheel(tmp_path: Path) -> Path:
    """A new virtual environment holding the built wheel; the dependencies come from this environment's
    site-packages as a plain path entry, so the checkout (its editable finder) is not importable there."""
    source = tmp_path / "source"  # the checkout's files as they are, without its environment and results
    ignore = shutil.ignore_patterns(".*", "results", "reports", "build", "dist", "*.egg-info", "__pycache__")
    shutil.copytree(REPO, source, ignore=ignore)
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)]
    subprocess.run(build, check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("flcampaign-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)]
    subprocess.run(pip, check=True, capture_output=True, timeout=600)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (Path(purelib) / "flcampaign_deps.pth").write_text("\n".join(deps) + "\n")
    return venv


@pytest.mark.slow
def test_a_built_wheel_runs_a_campaign_in_a_folder_of_its_own(tmp_path):
    """`pip install` of the wheel, `flcampaign init`, `flcampaign run`: a first report, no checkout involved."""
    started = time.monotonic()
    venv = fresh_venv_with_wheel(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    where = subprocess.run(
        ["python", "-c", "import flcampaign; print(flcampaign.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(venv) in where and str(REPO) not in where, where
    installed = time.monotonic()
    folder = tmp_path / "campaign"
    subprocess.run(["flcampaign", "init", str(folder), "--task", "heart_disease"], env=env, check=True, timeout=120)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["num_rounds"] = 1
    config["selection"]["racing"]["seeds"] = []  # no race: one candidate
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    profile = folder / "tasks" / "heart_disease" / "profile.yaml"
    task_profile = yaml.safe_load(profile.read_text())
    task_profile["budget"]["max_compute_ratio"] = ONE_ROUND_COMPUTE_RATIO
    profile.write_text(yaml.safe_dump(task_profile, sort_keys=False))
    result = subprocess.run(["flcampaign", "run"], cwd=folder, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-4000:]
    reported = time.monotonic()
    (row,) = read_tsv(folder / "results" / "results.tsv")
    assert (row["candidate"], row["status"]) == ("0000-baseline", "baseline"), row
    assert float(row["score"]) > 0
    assert (folder / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    dry = subprocess.run(
        ["python", "-m", "snakemake", "--profile", "profiles/local", "-n"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stderr[-2000:]
    print(f"wheel built and installed {installed - started:.0f} s; init to first report {reported - installed:.0f} s")


def test_the_workflow_runs_the_campaign_folder_s_snakefile_else_the_installed_one(tmp_path):
    """Whatever folder the command is started from: the Snakefile is looked up in the campaign it runs in."""
    bare = tmp_path / "bare"
    bare.mkdir()
    command = snakemake_command("profiles/local", bare / "config.yaml", (), [], bare)
    assert command[command.index("-s") + 1] == str(SNAKEFILE)
    assert main(["init", str(tmp_path / "made"), "--task", "heart_disease"]) == 0
    command = snakemake_command("profiles/local", tmp_path / "made" / "config.yaml", (), [], tmp_path / "made")
    assert command[command.index("-s") + 1] == str((tmp_path / "made" / "Snakefile").resolve())
