import json
from pathlib import Path

from snakemake.utils import validate

from flcampaign.contract.candidate import (
    BASE_PARENT,
    discover,
    lineage,
    literature_event_of,
    parent_of,
    refused_folders,
)
from flcampaign.data.splits import library_loader, partition_option, partition_seed
from flcampaign.deps import code_digest, task_digest
from flcampaign.files import digest_of
from flcampaign.evidence.adaptive_seeds import AdaptiveSettings
from flcampaign.evidence.controls import BEST_CONTROL
from flcampaign.evidence.racing import RaceSettings, runners
from flcampaign.evidence.selection import repeated_ids
from flcampaign.evidence.tpe_controls import TPE_PREFIX, TpeSettings
from flcampaign.execution.compute import REFERENCE_ID
from flcampaign.layout import PHASES, RACE_PHASE, Campaign
from flcampaign.task import Task
from flcampaign.workflow import SCHEMAS, SCRIPTS, task_dir

validate(config, "schemas/config.schema.yaml")

CAMPAIGN = Campaign()
RECORDS = CAMPAIGN.records
TASK = Task.load(task_dir(config["task"]), num_rounds=config["num_rounds"])
SEARCH_SEED = TASK.seeds["search"]
REPEAT_SEEDS = config["repeats"]["seeds"] or TASK.seeds["repeat"]
RERUN_SEED = REPEAT_SEEDS[0]
if SEARCH_SEED in REPEAT_SEEDS:
    raise ValueError(
        f"repeat seeds {REPEAT_SEEDS} contain the search seed {SEARCH_SEED}: repeats need fresh seeds"
    )
RACE = RaceSettings.from_config(config["selection"])
if set(RACE.seeds) & {SEARCH_SEED, *REPEAT_SEEDS}:
    raise ValueError(
        f"race seeds {list(RACE.seeds)} reuse the search seed or a repeat seed: the race needs its own seeds"
    )
ADAPTIVE = AdaptiveSettings.from_config(config["repeats"]["adaptive"])
if set(ADAPTIVE.seeds) & {SEARCH_SEED, *REPEAT_SEEDS, *RACE.seeds}:
    raise ValueError(
        f"adaptive seeds {list(ADAPTIVE.seeds)} reuse the search seed, a race seed or a repeat seed: "
        "added seeds must be fresh"
    )
TPE = TpeSettings.from_config(config["controls"])
VARY_PARTITION = config["repeats"]["vary_partition"]
partition_option(TASK, VARY_PARTITION)  # refuses a task whose clients are fixed sites
CANDIDATES = discover(CAMPAIGN.candidates)
# folders whose names cannot be ids: one ledger row each
REFUSED = refused_folders(CAMPAIGN.candidates)
LITERATURE = sorted(CAMPAIGN.literature.glob("lit-*.yaml"))
# the task's profile, sources (shared layer included) and data: a change re-runs what uses it
TASK_DIGEST = task_digest(TASK)
REFERENCE_RUN = RECORDS.run_record("reference", REFERENCE_ID, SEARCH_SEED)


wildcard_constraints:
    candidate=r"_?[A-Za-z0-9][A-Za-z0-9_-]*",
    phase="|".join(PHASES),
    seed=r"\d+",
    partition=r"\d+",


def code(script, *extra):
    """The digest of the library code a rule's script reaches (a parameter: an edit re-runs the rule,
    a move of the campaign or the package does not)."""
    return code_digest(SCRIPTS / f"{script}.py", SCHEMAS, extra)


def compute_reference_run(wildcards):
    """The compute reference's run, which every other run's budget is relative to (none for itself)."""
    return [] if wildcards.phase == "reference" else REFERENCE_RUN


def split_of(name, phase=None):
    """A run's split (train, search_val or heldout): the campaign's partition, or with repeats.vary_partition
    a repeat's own seed's; ``phase`` for a rule without the phase wildcard."""

    def chosen(wildcards):
        seed = partition_seed(
            phase or wildcards.phase, int(wildcards.seed), VARY_PARTITION
        )
        if seed is None:
            return getattr(rules.prepare_splits.output, name)
        return getattr(rules.prepare_partition.output, name).format(partition=seed)

    return chosen


def candidate_files(wildcards):
    """Every file of a candidate folder (patches included), so any edit re-validates it."""
    folder = CAMPAIGN.candidates / wildcards.candidate
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def literature_link(wildcards):
    """The literature event a candidate names, so validation waits for it and reruns if it changes."""
    event = literature_event_of(CAMPAIGN.candidates / wildcards.candidate)
    path = CAMPAIGN.literature / f"{event}.yaml"
    return [path] if event and path.is_file() else []


def parent_validation(wildcards):
    """The parent's validation record; none for the baseline parent or a chain that breaks."""
    parent = parent_of(CAMPAIGN.candidates / wildcards.candidate)
    chain = lineage(CAMPAIGN.candidates, wildcards.candidate)
    if parent in (None, BASE_PARENT) or not chain.complete:
        return []
    return [RECORDS.validation(parent)]


def search_records(kind):
    """Every candidate's search run or score record."""
    record = RECORDS.run_record if kind == "run" else RECORDS.score_record
    return [record("search", cid, SEARCH_SEED) for cid in CANDIDATES]


def race_inputs(wildcards):
    """Step 0 enters the race from the search ledger; each later step reads the one before and the score
    records of the batch that step asked for."""
    step = int(wildcards.step)
    if step == 0:
        return {"tsv": rules.ledger.output.tsv, "scores": search_records("score")}
    previous = checkpoints.race.get(step=step - 1).output.state
    state = json.loads(Path(previous).read_text())
    return {
        "previous": previous,
        "scores": [
            RECORDS.score_record(RACE_PHASE, cid, seed)
            for cid in runners(state)
            for seed in state["next_seeds"]
        ],
    }


def selection():
    """The winners, baseline and controls chosen by the select_winners checkpoint."""
    with checkpoints.select_winners.get().output.selection.open() as handle:
        return json.load(handle)


def control_args(wildcards):
    """A control's knob values, as a parameter: the control re-runs only if they change. A TPE control's are in
    the step of the current chain that asked for it."""
    if wildcards.control.startswith(TPE_PREFIX):
        steps = RECORDS.matching(RECORDS.tpe_step(tpe_chain()[0], "*"))
        asked = (a for p in steps for a in json.loads(p.read_text())["next"])
        return next(a["args"] for a in asked if a["id"] == wildcards.control)
    chosen = json.loads(RECORDS.selection.read_text())
    return next(c["args"] for c in chosen["controls"] if c["id"] == wildcards.control)


# A chain of checkpoints (the TPE arm, the added seeds) is filed under the digest of everything its first step
# takes from outside it, and its consumers name its last step as a file. Snakemake does not reliably re-run the
# later steps of a chain whose first step re-ran, so a chain never re-runs in place: a new selection, setting or
# code makes a new chain (its simulations are kept: their paths do not depend on the chain), and an unchanged
# one is reused as it is.
def tpe_chain():
    """(chain digest, what its first step takes): the random arm's size, the settings, the task and the code."""
    start = {
        "n": len(selection()["controls"]),
        "controls": config["controls"],
        "task": TASK_DIGEST,
        "code": code("tpe_controls"),
    }
    return digest_of(start), start


def seeds_chain():
    """(chain digest, what its first step takes): the baseline and the winners with their validated trees, the
    repeat seeds, the settings, the task and the code."""
    choice = selection()
    ids = [w["candidate"] for w in choice["winners"]] + [choice["baseline"]]
    start = {
        "baseline": choice["baseline"],
        "winners": choice["winners"],
        "trees": {
            cid: json.loads(RECORDS.validation(cid).read_text()).get("tree_sha256")
            for cid in ids
            if cid
        },
        "repeat_seeds": REPEAT_SEEDS,
        "adaptive": config["repeats"]["adaptive"],
        "task": TASK_DIGEST,
        "code": code("add_seeds"),
    }
    return digest_of(start), start


def chain_start(chain):
    """The first step's parameter: what its chain takes from outside (None for the later steps)."""

    def start(wildcards):
        return chain()[1] if int(wildcards.step) == 0 else None

    return start


def tpe_inputs(wildcards):
    """Step 0 sizes the TPE arm from the selection; each later step reads the one before and the search-seed
    scores of the batch that step asked for."""
    step = int(wildcards.step)
    if step == 0:
        selection()  # waits for the selection, whose part this step takes as a parameter
        return {}
    previous = checkpoints.tpe_controls.get(
        chain=wildcards.chain, step=step - 1
    ).output.state
    state = json.loads(Path(previous).read_text())
    return {
        "previous": previous,
        "scores": [
            RECORDS.score_record("control", asked["id"], SEARCH_SEED)
            for asked in state["next"]
        ],
    }


def control_scores(wildcards):
    """The search-seed score records of the random arm's controls."""
    return [
        RECORDS.score_record("control", control["id"], SEARCH_SEED)
        for control in selection()["controls"]
    ]


def tpe_record(wildcards):
    """The TPE arm's last step (one per batch of an arm as large as the random one), named as a file: it exists
    once every TPE control is scored."""
    if not TPE.enabled:
        return {}
    chain, start = tpe_chain()
    return {"tpe": RECORDS.tpe_step(chain, TPE.steps(start["n"]))}


def added_seeds_record(wildcards):
    """The added seeds' last step, named as a file: it exists once every added run is scored on both splits."""
    return RECORDS.seeds_step(seeds_chain()[0], ADAPTIVE.steps())


def control_arms_record(wildcards):
    """Both arms' controls with their search scores (written by best_control), when any control ran."""
    return {"arms": rules.best_control.output.arms} if selection()["controls"] else {}


def repeat_records(wildcards):
    """Scores (search-validation and held-out) of every repeated run, plus the same-seed re-run."""
    chosen = selection()
    ids = repeated_ids(chosen)
    records = {
        "scores": [
            RECORDS.score_record("repeat", cid, seed)
            for cid in ids
            for seed in REPEAT_SEEDS
        ],
        "heldout": [
            RECORDS.heldout_record(cid, seed) for cid in ids for seed in REPEAT_SEEDS
        ],
    }
    if chosen["baseline"]:
        records["rerun"] = [
            RECORDS.score_record("rerun", chosen["baseline"], RERUN_SEED)
        ]
    return records


def added_seed_inputs(wildcards):
    """Step 0 looks at the winners' held-out gains on the fixed repeat seeds; each later step reads the one before
    and the score records (both splits) of the batch it asked for (the extended winners' and the baseline's), so
    the last step exists only once every added run is scored.
    """
    step = int(wildcards.step)
    if step == 0:
        choice = selection()
        ids = [w["candidate"] for w in choice["winners"]] + [choice["baseline"]]
        heldout = [
            RECORDS.heldout_record(cid, seed)
            for cid in ids
            if choice["baseline"] and ADAPTIVE.enabled
            for seed in REPEAT_SEEDS
        ]
        return {"heldout": heldout}
    previous = checkpoints.add_seeds.get(
        chain=wildcards.chain, step=step - 1
    ).output.state
    state = json.loads(Path(previous).read_text())
    ids = state["next_arms"] + [state["baseline"]] if state["next_arms"] else []
    return {
        "previous": previous,
        "heldout": [
            RECORDS.heldout_record(cid, seed)
            for cid in ids
            for seed in state["next_seeds"]
        ],
        "scores": [
            RECORDS.score_record("repeat", cid, seed)
            for cid in ids
            for seed in state["next_seeds"]
        ],
    }


def kept_chain_records(wildcards):
    """What the report reads beside the ledger: every candidate's validation record and effective diff,
    and the search run records (devices)."""
    return {
        "validations": [RECORDS.validation(cid) for cid in CANDIDATES],
        "diffs": [RECORDS.effective_diff(cid) for cid in CANDIDATES],
        "runs": search_records("run"),
        "literature": LITERATURE,
    }
