"""`flcampaign init --from-job`: an NVFlare job read with ast (never run) into a task with its unresolved list."""

import pytest
import yaml
from conftest import REPO

from flcampaign.cli import main
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
