"""`flcampaign init --from-job`: an NVFlare job read with ast (never run) into a task with its unresolved list."""

import shutil
import subprocess
import time

import pytest
import torch
import yaml
from conftest import REPO, VENV_BIN

from flcampaign.cli import main
from flcampaign.evidence.ledger import read_tsv
from flcampaign.execution.runner import FINAL_MODEL
from flcampaign.onboarding import job_import
from flcampaign.task import ProfileError, Task

JOBS = REPO / "tests" / "jobs"


def test_a_hello_world_recipe_job_is_read_with_its_budget_knobs_and_the_changes_it_needs():
    imported = job_import.read_job(JOBS / "hello_pt" / "job.py")
    assert imported.recipe == "FedAvgRecipe"
    found = imported.values
    assert (found["budget.n_clients"], found["budget.num_rounds"], found["budget.batch_size"]) == (3, 5, 16)
    assert found["metric.name"] == "accuracy" and found["train_script"] == "client.py"
    assert found["model"] == {"class": "model.SmallNet", "args": {"hidden": 32}}
    assert imported.sources["budget.num_rounds"] == "num_rounds= at job.py:26"
    assert imported.knobs["lr"] == {"type": "float", "min": 0.005, "max": 0.5, "log_scale": True, "default": 0.05}
    assert imported.knobs["local_epochs"] == {"type": "int", "min": 1, "max": 4, "default": 2}
    assert "verbose" not in imported.knobs and "batch_size" not in imported.knobs, "flags and the budget are no knobs"
    unresolved = {item["key"] for item in imported.unresolved}
    assert unresolved == {"surface.knobs.lr", "surface.knobs.local_epochs"}, "every value the job states was read"
    changes = "\n".join(imported.changes)
    for expected in (
        "client.py:22: reads data itself (`load_digits(return_X_y=True)`)",
        "client.py:28: load the global weights with strict=True",
        "client contract: missing or broken: FLModel(..., params_type=ParamsType.DIFF, ...)",
        'client contract: missing or broken: meta includes "NUM_STEPS_CURRENT_ROUND"',
        "job.py: accept --seed (argparse): the campaign runner passes it",
        "job.py:16: --num_rounds has a default; make it required",
        "job.py: accept --lr (argparse): the campaign runner passes it and job.py must hand it to the client",
    ):
        assert expected in changes, expected
    assert changes.count("strict=True") == 1, "each change is named once"


def test_computed_values_and_kwargs_are_listed_as_unresolved_with_the_reason():
    imported = job_import.read_job(JOBS / "computed_kwargs" / "job.py")
    why = {item["key"]: item["why"] for item in imported.unresolved}
    assert why["recipe"].startswith("arguments passed through **extra (job.py:28) cannot be read")
    assert why["budget.num_rounds"] == "computed at run time: `BASE_ROUNDS * 2` (job.py:19)"
    assert why["budget.n_clients"] == 'computed at run time: `int(os.environ.get("N_CLIENTS", "2"))` (job.py:18)'
    assert why["model.args.hidden"] == "computed at run time: `math.floor(32.5)` (job.py:25)"
    assert why["metric.name"] == "no key_metric= is written out; it may come through **kwargs"
    assert why["train_script"].startswith("trainer.py is not in the job's folder")
    assert len(imported.unresolved) == len(why), "each key is listed once"
    assert imported.values["budget.batch_size"] == 8 and "budget.num_rounds" not in imported.values


def test_the_task_is_refused_until_each_unresolved_entry_is_resolved(tmp_path, capsys):
    folder = tmp_path / "campaign"
    assert main(["init", str(folder), "--from-job", str(JOBS / "hello_pt" / "job.py")]) == 0
    printed = capsys.readouterr().out
    assert "nothing of it was run" in printed and "## Unresolved (9)" in printed
    task_dir = folder / "tasks" / "hello_pt"
    assert sorted(p.name for p in (task_dir / "src").iterdir()) == ["client.py", "fl_data.py", "job.py", "model.py"]
    assert (task_dir / "import.md").read_text().startswith("# Import of")
    for name in ("Snakefile", "AGENTS.md", "config.yaml", "candidates/0000-baseline/candidate.yaml"):
        assert (folder / name).is_file(), name
    assert yaml.safe_load((folder / "config.yaml").read_text())["task"] == "hello_pt"
    with pytest.raises(ProfileError, match="task hello_pt is not ready: 9 unresolved") as refused:
        Task.load(task_dir)
    for key in ("data.loader", "metric.kind", "splits", "surface.knobs.lr", "budget.max_model_params"):
        assert f"\n  - {key}: " in str(refused.value), key
    profile = yaml.safe_load((task_dir / "profile.yaml").read_text())
    profile["unresolved"] = [item for item in profile["unresolved"] if item["key"] != "metric.kind"]
    (task_dir / "profile.yaml").write_text(yaml.safe_dump(profile))
    with pytest.raises(ProfileError, match="8 unresolved") as still:
        Task.load(task_dir)
    assert "metric.kind" not in str(still.value)
    profile["unresolved"] = []
    (task_dir / "profile.yaml").write_text(yaml.safe_dump(profile))
    with pytest.raises(ProfileError, match="metric/kind: 'TODO' is not one of"):
        Task.load(task_dir)  # a placeholder left in place is the schema's to name


def test_a_job_that_is_not_a_recipe_job_is_refused_with_what_is_supported(tmp_path, capsys):
    assert main(["init", str(tmp_path / "c"), "--from-job", str(JOBS / "fedjob_api" / "job.py")]) == 2
    err = capsys.readouterr().err
    assert "not a Recipe-API job (FedJob: no call of a recipe class found)" in err
    assert "FedAvgRecipe (nvflare.app_opt.pt.recipes.fedavg)" in err
    assert not (tmp_path / "c").exists(), "nothing is written for a refused job"


def test_a_job_that_does_not_parse_names_the_line_and_a_job_is_never_run(tmp_path):
    broken = tmp_path / "broken" / "job.py"
    broken.parent.mkdir()
    broken.write_text("import os\n\ndef main(:\n    pass\n")
    with pytest.raises(job_import.JobImportError, match=r"job.py:3: does not parse: "):
        job_import.read_job(broken)
    other = tmp_path / "other" / "job.py"
    other.parent.mkdir()
    other.write_text("from nvflare.app_opt.pt.recipes import FedProxRecipe\nFedProxRecipe(num_rounds=2)\n")
    with pytest.raises(job_import.JobImportError, match="uses FedProxRecipe; flcampaign runs jobs built with"):
        job_import.read_job(other)
    loud = tmp_path / "loud" / "job.py"
    loud.parent.mkdir()
    ran = tmp_path / "RAN"
    loud.write_text(
        f"open({str(ran)!r}, 'w').close()\n"
        "from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe\n"
        "FedAvgRecipe(name='x', min_clients=2, num_rounds=3, model=None, train_script='c.py')\n"
    )
    imported = job_import.read_job(loud)
    assert imported.values["budget.num_rounds"] == 3 and not ran.exists(), "the importer runs nothing"


def resolve_hello_pt(task_dir) -> None:
    """The worked example's resolution (docs/own-job.md): the loader, the data's sources, the sources changed to
    the contract, and the profile's TODOs decided."""
    example = REPO / "docs" / "examples" / "hello_pt"
    shutil.copyfile(example / "loader.py", task_dir / "loader.py")
    shutil.copyfile(example / "data" / "SOURCES.md", task_dir / "data" / "SOURCES.md")
    for name in ("job.py", "client.py"):
        shutil.copyfile(example / "src" / name, task_dir / "src" / name)
    profile = yaml.safe_load((task_dir / "profile.yaml").read_text())
    profile["metric"].update(kind="accuracy", direction="max")
    profile["model"]["input_features"] = 64
    profile["budget"]["max_model_params"] = 10000
    profile["data"]["normalize"] = "none"  # pixels already in [0, 1]; some are constant at a site
    profile["unresolved"] = []
    (task_dir / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))


@pytest.mark.slow
def test_an_imported_job_runs_a_real_campaign_once_its_todos_are_resolved(tmp_path):
    folder = tmp_path / "campaign"
    flcampaign = str(VENV_BIN / "flcampaign")
    started = time.monotonic()
    subprocess.run([flcampaign, "init", str(folder), "--from-job", str(JOBS / "hello_pt" / "job.py")], check=True)
    task_dir = folder / "tasks" / "hello_pt"
    resolve_hello_pt(task_dir)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(num_rounds=2)
    config["selection"]["racing"]["seeds"] = []
    config["repeats"]["seeds"] = [42, 43, 44]
    config["controls"]["tpe"]["enabled"] = False
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    candidate = folder / "candidates" / "0001-higher-lr"
    candidate.mkdir()
    (candidate / "candidate.yaml").write_text(
        yaml.safe_dump(
            {
                "title": "Four times the learning rate",
                "hypothesis": "Two rounds are too few for lr 0.05 to fit the digits.",
                "parent": "baseline",
                "family": "fedavg",
                "created": "2026-12-05T00:00:00+00:00",
                "args": {"lr": 0.2},
                "patches": {},
            }
        )
    )
    for command in (["validate", "0000-baseline"], ["validate", "0001-higher-lr"], ["program"]):
        subprocess.run([flcampaign, *command], cwd=folder, check=True, capture_output=True)
    result = subprocess.run([flcampaign, "run"], cwd=folder, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    rows = {row["candidate"]: row for row in read_tsv(folder / "results" / "results.tsv")}
    assert rows["0000-baseline"]["status"] == "baseline" and float(rows["0000-baseline"]["score"]) > 0.3
    assert rows["0001-higher-lr"]["status"] in ("keep", "discard") and rows["0001-higher-lr"]["score"]
    report = (folder / "reports" / "report.md").read_text()
    assert "0001-higher-lr" in report and "hello-pt" in report
    assert (folder / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    verify = subprocess.run([flcampaign, "verify"], cwd=folder, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout[-2000:]
    print(f"imported, resolved and reported in {time.monotonic() - started:.0f} s")
    exported_job_reproduces_the_campaign_run(folder, "0001-higher-lr", tmp_path / "exported")


def exported_job_reproduces_the_campaign_run(folder, cid: str, dest) -> None:
    """`flcampaign export` writes a job that `nvflare simulator` runs to the campaign's final model at the seed."""
    flcampaign = str(VENV_BIN / "flcampaign")
    refused = subprocess.run(
        [flcampaign, "export", "0099-absent", str(dest)], cwd=folder, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "0099-absent has no validation record" in refused.stderr
    done = subprocess.run([flcampaign, "export", cid, str(dest)], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (job,) = [p for p in dest.iterdir() if p.is_dir() and p.name != "data"]
    readme = (dest / "README.md").read_text()
    assert f"# {cid}, exported" in readme and '"lr": 0.2' in readme and "attribution" in readme
    again = subprocess.run([flcampaign, "export", cid, str(dest)], cwd=folder, capture_output=True, text=True)
    assert again.returncode == 2 and "is not empty" in again.stderr
    n = yaml.safe_load((folder / "tasks" / "hello_pt" / "profile.yaml").read_text())["budget"]["n_clients"]
    simulator = [str(VENV_BIN / "nvflare"), "simulator", job.name, "-w", "workspace", "-n", str(n), "-t", str(n)]
    ran = subprocess.run(simulator, cwd=dest, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0 and "ERROR" not in ran.stdout + ran.stderr, (ran.stdout + ran.stderr)[-3000:]
    ours = torch.load(dest / "workspace" / FINAL_MODEL, weights_only=False)["model"]
    campaign = torch.load(folder / "results/runs/search" / cid / "seed0/global_model.pt", weights_only=False)["model"]
    assert ours.keys() == campaign.keys()
    # NVFlare sums client updates in arrival order, so two runs of one job (the campaign's own same-seed re-run
    # too) may differ in the last float32 bits; anything more is a different model
    difference = max((ours[k] - campaign[k]).abs().max().item() for k in ours)
    assert difference < 1e-6, difference


def test_hostile_or_oversized_jobs_are_refused_with_the_reason_and_nothing_is_written(tmp_path):
    cases = {
        "nested": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
        "binary": b"from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe\n# \xff\xfe\n",
        "huge": b"#" * (job_import.MAX_SOURCE_BYTES + 1),
    }
    expected = {"nested": "does not parse", "binary": "not UTF-8 text", "huge": "a job's source files are read up to"}
    for name, content in cases.items():
        job = tmp_path / name / "job.py"
        job.parent.mkdir()
        job.write_bytes(content)
        assert main(["init", str(tmp_path / f"campaign-{name}"), "--from-job", str(job)]) == 2
        assert not (tmp_path / f"campaign-{name}").exists(), name
        with pytest.raises(job_import.JobImportError, match=expected[name]):
            job_import.read_job(job)
    crowded = tmp_path / "project"
    shutil.copytree(JOBS / "hello_pt", crowded)
    (crowded / "dataset.bin").write_bytes(b"\0" * (job_import.MAX_JOB_BYTES + 1))
    with pytest.raises(job_import.JobImportError, match="put job.py and the modules it uses in a folder of their own"):
        job_import.read_job(crowded / "job.py")
