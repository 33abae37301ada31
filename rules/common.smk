import json
from pathlib import Path

from snakemake.utils import validate

from flcampaign.contract.candidate import (
    BASE_PARENT,
    discover,
    literature_event_of,
    parent_of,
)
from flcampaign.execution.compute import REFERENCE_ID
from flcampaign.contract.literature import LITERATURE_DIR
from flcampaign.evidence.selection import repeated_ids
from flcampaign.deps import code_digest, task_digest
from flcampaign.task import Task
from flcampaign.workflow import task_dir

validate(config, "schemas/config.schema.yaml")

TASK_DIR = task_dir(config["task"])
TASK = Task.load(TASK_DIR, num_rounds=config["num_rounds"])
SEARCH_SEED = TASK.profile["seeds"]["search"]
REPEAT_SEEDS = config["repeats"]["seeds"] or TASK.profile["seeds"]["repeat"]
RERUN_SEED = REPEAT_SEEDS[0]
if SEARCH_SEED in REPEAT_SEEDS:
    raise ValueError(
        f"repeat seeds {REPEAT_SEEDS} contain the search seed {SEARCH_SEED}: repeats need fresh seeds"
    )
CANDIDATES = discover("candidates")
LITERATURE = sorted(str(p) for p in Path("literature").glob("lit-*.yaml"))
SCHEMAS = Path(workflow.basedir) / "rules" / "schemas"
TASK_DIGEST = task_digest(
    TASK_DIR
)  # the task's profile, sources and data: a change re-runs what uses it
REFERENCE_RUN = f"results/runs/reference/{REFERENCE_ID}/seed{SEARCH_SEED}/run.json"


wildcard_constraints:
    candidate=r"_?[A-Za-z0-9][A-Za-z0-9_-]*",
    phase=r"search|control|repeat|rerun|reference",
    seed=r"\d+",


def compute_reference_run(wildcards):
    """The compute reference's run, which every other run's budget is relative to (none for itself)."""
    return [] if wildcards.phase == "reference" else REFERENCE_RUN


def code(script, *extra):
    """The digest of the library code a rule's script reaches (a parameter: an edit re-runs the rule,
    a move of the campaign or the package does not)."""
    return code_digest(
        Path(workflow.basedir) / "scripts" / f"{script}.py", SCHEMAS, extra
    )


def candidate_files(wildcards):
    """Every file of a candidate folder (patches included), so any edit re-validates it."""
    folder = Path("candidates") / wildcards.candidate
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() or p.is_symlink())


PARENTS = {cid: parent_of(Path("candidates") / cid) for cid in CANDIDATES}


def literature_link(wildcards):
    """The literature event a candidate names, so validation waits for it and reruns if it changes."""
    event = literature_event_of(Path("candidates") / wildcards.candidate)
    path = Path(LITERATURE_DIR) / f"{event}.yaml"
    return [str(path)] if event and path.is_file() else []


def parent_validation(wildcards):
    """The parent's validation record; none for the baseline parent or an unreadable/self parent."""
    parent = PARENTS.get(wildcards.candidate)
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


def selection():
    """The winners, baseline and controls chosen by the select_winners checkpoint."""
    with checkpoints.select_winners.get().output.selection.open() as handle:
        return json.load(handle)


def control_args(wildcards):
    """A control's knob values, as a parameter: the control re-runs only if they change."""
    chosen = json.loads(Path("results/selection.json").read_text())
    return next(c["args"] for c in chosen["controls"] if c["id"] == wildcards.control)


def control_scores(wildcards):
    return expand(
        "results/runs/control/{control}/seed{seed}/score.json",
        control=[control["id"] for control in selection()["controls"]],
        seed=SEARCH_SEED,
    )


def repeat_records(wildcards):
    """Scores (search-validation and held-out) of every repeated run, plus the same-seed re-run."""
    chosen = selection()
    ids = repeated_ids(chosen)
    records = {
        "scores": expand(
            "results/runs/repeat/{candidate}/seed{seed}/score.json",
            candidate=ids,
            seed=REPEAT_SEEDS,
        ),
        "heldout": expand(
            "results/runs/repeat/{candidate}/seed{seed}/heldout.json",
            candidate=ids,
            seed=REPEAT_SEEDS,
        ),
        "controls": control_scores(wildcards),
    }
    if chosen["baseline"]:
        records["rerun"] = [
            f"results/runs/rerun/{chosen['baseline']}/seed{RERUN_SEED}/score.json"
        ]
    return records
