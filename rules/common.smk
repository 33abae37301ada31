from pathlib import Path

from snakemake.utils import validate

from flcampaign.candidate import BASE_PARENT, discover, parent_of
from flcampaign.task import Task

validate(config, "schemas/config.schema.yaml")

TASK_DIR = Path(workflow.basedir) / "tasks" / config["task"]
TASK = Task.load(TASK_DIR, num_rounds=config["num_rounds"])
SEARCH_SEED = TASK.profile["seeds"]["search"]
CANDIDATES = discover("candidates")
LIB_DIR = Path(workflow.basedir) / "flcampaign"


wildcard_constraints:
    candidate=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    phase=r"search",
    seed=r"\d+",


def lib(*modules):
    """Library modules a rule depends on, as inputs, so edits re-trigger the right jobs."""
    return [
        str(LIB_DIR / f"{name}.py") for name in ("files", "task", "workflow", *modules)
    ]


def task_files():
    """The task profile and base sources: a change re-validates every candidate."""
    return [str(TASK_DIR / "profile.yaml")] + sorted(
        str(p) for p in TASK.sources.rglob("*.py") if "__pycache__" not in p.parts
    )


def candidate_files(wildcards):
    """Every file of a candidate folder (patches included), so any edit re-validates it."""
    folder = Path("candidates") / wildcards.candidate
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def parent_validation(wildcards):
    """The parent's validation record; none for the baseline parent or an unreadable/self parent."""
    parent = parent_of(Path("candidates") / wildcards.candidate)
    if parent in (None, BASE_PARENT, wildcards.candidate) or parent not in CANDIDATES:
        return []
    if wildcards.candidate in ancestors(parent):
        return []
    return [f"results/candidates/{parent}/validation.json"]


def ancestors(cid):
    """Ids above ``cid``; stops at the baseline, a missing parent or a repeat (a cycle)."""
    seen = []
    current = parent_of(Path("candidates") / cid)
    while (
        current not in (None, BASE_PARENT)
        and current in CANDIDATES
        and current not in seen
    ):
        seen.append(current)
        current = parent_of(Path("candidates") / current)
    return seen


def search_records(name):
    return expand(
        "results/runs/search/{candidate}/seed{seed}/{name}",
        candidate=CANDIDATES,
        seed=SEARCH_SEED,
        name=name,
    )
