"""The installed workflow (Snakefile, rules, scripts, schemas, profiles) and the glue its scripts use.

Everything a campaign needs from flcampaign is found through this package, never through a checkout,
so an installed wheel and an editable checkout behave alike."""

import sys
from pathlib import Path
from typing import Any

from flcampaign.execution.containment import BUNDLED_TASKS
from flcampaign.layout import Campaign
from flcampaign.schemas import SCHEMA_DIR
from flcampaign.task import Task

WORKFLOW = Path(__file__).resolve().parent
SNAKEFILE = WORKFLOW / "Snakefile"
SCRIPTS = WORKFLOW / "scripts"
SCHEMAS = SCHEMA_DIR  # the rules validate against the library's schemas, one folder
CAMPAIGN_TEMPLATE = WORKFLOW / "campaign"
PROFILES = CAMPAIGN_TEMPLATE / "profiles"


def bundled_tasks() -> list[str]:
    """The names of the tasks that ship with the package (the shared layer is not a task)."""
    return sorted(path.parent.name for path in BUNDLED_TASKS.glob("*/profile.yaml"))


def task_dir(name: str, campaign: Path = Path(".")) -> Path:
    """Where the campaign's task lives: the campaign's own ``tasks/<name>/`` when it carries one, else the
    bundled task of that name."""
    own = Campaign(Path(campaign)).tasks / name
    return own.resolve() if (own / "profile.yaml").is_file() else BUNDLED_TASKS / name


def task_of(config: dict[str, Any], campaign: Path = Path(".")) -> Task:
    """The campaign's task profile, with the config's openly stated round override."""
    return Task.load(task_dir(config["task"], campaign), num_rounds=config.get("num_rounds"))


def log_to(path: str) -> None:
    """Send the script's diagnostics to the rule's log file (line-buffered, survives a crash)."""
    sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the script
