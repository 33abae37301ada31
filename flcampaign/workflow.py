"""Glue between Snakemake scripts and the library: task loading and log redirection."""

import sys
from pathlib import Path
from typing import Any

from flcampaign.task import Task

REPO_ROOT = Path(__file__).resolve().parent.parent


def task_dir(name: str, campaign: Path = Path(".")) -> Path:
    """Where the campaign's task lives: the campaign's own ``tasks/<name>/`` when it carries one, else the
    bundled task of that name."""
    own = Path(campaign) / "tasks" / name
    return own.resolve() if (own / "profile.yaml").is_file() else REPO_ROOT / "tasks" / name


def task_of(config: dict[str, Any], campaign: Path = Path(".")) -> Task:
    """The campaign's task profile, with the config's openly stated round override."""
    return Task.load(task_dir(config["task"], campaign), num_rounds=config.get("num_rounds"))


def log_to(path: str) -> None:
    """Send the script's diagnostics to the rule's log file (line-buffered, survives a crash)."""
    sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the script
