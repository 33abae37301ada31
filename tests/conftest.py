"""Shared fixtures: the bundled task, its prepared splits, and a scratch campaign folder."""

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from flcampaign.data.splits import prepare
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def heart_task() -> Task:
    return Task.load(REPO / "tasks" / "heart_disease")


@pytest.fixture(scope="session")
def heart_splits(tmp_path_factory, heart_task) -> Path:
    out = tmp_path_factory.mktemp("splits")
    prepare(heart_task, out)
    return out


def with_direction(task: Task, direction: str) -> Task:
    """The task with its metric's direction set (a ``min`` metric through the same data), the profile untouched."""
    profile = copy.deepcopy(task.profile)
    profile["metric"]["direction"] = direction
    return Task(task.root, profile)


def copy_candidates(dest: Path, *ids: str) -> None:
    """Copy bundled demo candidates into a scratch campaign's candidates/ folder, with the literature
    events they link to."""
    for cid in ids:
        shutil.copytree(REPO / "candidates" / cid, dest / "candidates" / cid)
        event = yaml.safe_load((REPO / "candidates" / cid / "candidate.yaml").read_text()).get("literature_event")
        if event:
            (dest / "literature").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / "literature" / f"{event}.yaml", dest / "literature" / f"{event}.yaml")
