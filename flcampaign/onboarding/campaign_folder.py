"""A campaign folder anywhere: the files `flcampaign init` writes around the installed workflow.

A campaign folder holds what is the researcher's (config, candidates, literature, the task) and a
Snakefile that uses the installed workflow as a Snakemake module, so upgrading flcampaign upgrades
every campaign's rules while the campaign's own files stay where they are.
"""

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import yaml

from flcampaign.agent import program
from flcampaign.config import load_config
from flcampaign.layout import Campaign
from flcampaign.onboarding import job_import
from flcampaign.task import Task
from flcampaign.workflow import BUNDLED_TASKS, CAMPAIGN_TEMPLATE, bundled_tasks

# the files every campaign folder takes from the template unchanged (the repository's own campaign too)
TEMPLATE_FILES = ("Snakefile", "AGENTS.md", "profiles/local/config.yaml", "profiles/slurm/config.yaml")
BASELINE_ID = "0000-baseline"


def config_text(task_name: str, title: str, repeat_seeds: list[int]) -> str:
    """The campaign's ``config.yaml`` for a task: the bundled campaign's settings, the task named."""
    template = Template((CAMPAIGN_TEMPLATE / "config.yaml").read_text(encoding="utf-8"))
    seeds = ", ".join(str(seed) for seed in repeat_seeds)
    return template.substitute(title=title, task=task_name, repeat_seeds=seeds)


def baseline_text(title: str) -> str:
    """The baseline candidate: the task as shipped, the reference every other candidate is compared to."""
    return yaml.safe_dump(
        {
            "title": f"Baseline — {title}, unchanged",
            "hypothesis": "Reference point for every other candidate; measures the task as shipped.",
            "parent": "baseline",
            "family": "fedavg",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "patches": {},
        },
        sort_keys=False,
        allow_unicode=True,
    )


def _refuse_taken(dest: Path) -> None:
    campaign = Campaign(dest)
    taken = [p.name for p in (campaign.config, campaign.snakefile, campaign.candidates, campaign.tasks) if p.exists()]
    if taken:
        raise ValueError(f"flcampaign init: {dest} already holds {', '.join(taken)}; choose an empty folder")


def _scaffold(dest: Path, task_name: str, title: str, repeat_seeds: list[int]) -> list[Path]:
    """Everything but the task: the template files, the config, the baseline and the literature folder."""
    campaign = Campaign(dest)
    written = []
    for name in TEMPLATE_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CAMPAIGN_TEMPLATE / name, dest / name)
        written.append(dest / name)
    campaign.config.write_text(config_text(task_name, title, repeat_seeds), encoding="utf-8")
    baseline = campaign.candidates / BASELINE_ID / "candidate.yaml"
    baseline.parent.mkdir(parents=True)
    baseline.write_text(baseline_text(title), encoding="utf-8")
    campaign.literature.mkdir()
    return [*written, campaign.config, baseline]


def init(dest: Path, task_name: str) -> list[Path]:
    """Write a new campaign folder at ``dest`` on the bundled task ``task_name``; return the files written.

    The task is copied in (shared files included), so the campaign is self-contained and its task is
    hashed from the campaign's own copy. A folder that already holds a campaign is refused."""
    dest = Path(dest)
    if task_name not in bundled_tasks():
        raise ValueError(f"flcampaign init: no bundled task {task_name!r}; bundled: {', '.join(bundled_tasks())}")
    _refuse_taken(dest)
    dest.mkdir(parents=True, exist_ok=True)
    task = Task.load(BUNDLED_TASKS / task_name).copy_to(Campaign(dest).tasks / task_name)
    written = [task.root, *_scaffold(dest, task.name, task.title, task.seeds["repeat"])]
    program.write(task, load_config(Campaign(dest).config), dest / "program.md")
    return [*written, dest / "program.md"]


def init_from_job(dest: Path, job: Path) -> tuple[job_import.Imported, Path]:
    """Write a new campaign folder at ``dest`` around an imported NVFlare job (read, never run).

    The task is named after the job's folder; its profile lists what must still be resolved, so
    ``program.md`` is rendered (``flcampaign program``) once the task loads. Returns what was read and the
    task's folder."""
    dest = Path(dest)
    imported = job_import.read_job(Path(job))
    _refuse_taken(dest)
    name = re.sub(r"[^a-z0-9_]+", "_", Path(job).resolve().parent.name.lower()).strip("_") or "imported"
    name = name if name[0].isalpha() else f"job_{name}"
    dest.mkdir(parents=True, exist_ok=True)
    task_dir = job_import.write_task(imported, Campaign(dest).tasks / name)
    profile = yaml.safe_load((task_dir / "profile.yaml").read_text(encoding="utf-8"))
    _scaffold(dest, name, profile["title"], profile["seeds"]["repeat"])
    return imported, task_dir
