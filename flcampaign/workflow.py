"""Glue between Snakemake scripts and the library: task loading and log redirection."""

import sys
from pathlib import Path
from typing import Any

from flcampaign.task import Task

REPO_ROOT = Path(__file__).resolve().parent.parent


def task_of(config: dict[str, Any]) -> Task:
    """The campaign's task profile, with the config's openly stated round override."""
    return Task.load(REPO_ROOT / "tasks" / config["task"], num_rounds=config.get("num_rounds"))


def log_to(path: str) -> None:
    """Send the script's diagnostics to the rule's log file (line-buffered, survives a crash)."""
    sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the script
