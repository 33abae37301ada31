"""Re-check a finished campaign: every artifact against the hashes recorded when it was made.

Each stage writes the sha256 of what it consumed and produced (validation.json: patches, tree,
budget, fixed files; run.json: the final model; score.json / heldout.json: the model and split
files it judged), and the ledger is rebuilt from those records. ``verify`` re-hashes the files,
compares the records with each other and rebuilds the ledger in memory, so an artifact edited
after the fact (by a candidate, an agent or a person) is reported instead of trusted.

A hash only shows that a file is the one a record names; a score is a value a record states. So
every ok score record whose model and split files check out is scored again by the trusted evaluator
(``scoring.evaluator``: the same views drawn from the same hashes, the same metric): where the task
fixes the architecture, in this process with the task's own model class and the weights read as
tensors only, so no candidate code is imported or run; where the architecture is the candidate's,
through the contained prediction step scoring used, under the configured sandbox (the candidate's
model class runs only there). The ledger's and the winners' scores are then tied to those records.
Nothing is written to the campaign (a contained prediction step keeps its files in a scratch folder).

Checks (the ``check`` of a finding):
- ``patch``: a candidate's patches and candidate.yaml still match its validation record;
- ``tree``: a valid candidate's materialised ``src/`` still hashes to its ``tree_sha256``;
- ``fixed``: the task's fixed files and budget still hash to what each validation recorded;
- ``model``: each ``global_model.pt`` still hashes to its run.json ``model_sha256``;
- ``score``: each scored record names its run's model, the split it is computed on (search-validation for
  ``score.json``, held-out for ``heldout.json``, of the run's partition), and split files that are unchanged;
- ``rescore``: each ok score whose model and split files check out equals the score the trusted evaluator
  computes again from them (within ``RESCORE_TOLERANCE``);
- ``ledger``: ``results/results.tsv`` equals the ledger rebuilt from the records;
- ``winners``: ``results/winners.json`` uses the scores the score records hold, and ``results/winners.tsv``
  is ``winners.json`` as the winners stage renders it.
"""

import csv
import io
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flcampaign.contract.candidate import METADATA, PATCH_DIR, read_metadata, refused_folders
from flcampaign.contract.literature import load_events
from flcampaign.data.splits import load_split, partition_seed
from flcampaign.evidence.controls import BEST_CONTROL
from flcampaign.evidence.ledger import COLUMNS, build_rows, read_cells
from flcampaign.evidence.winners import to_tsv
from flcampaign.execution.sandbox import Sandbox, SandboxUnavailable, choose
from flcampaign.files import UnreadableYaml, read_json, sha256_bytes, sha256_file, sha256_tree
from flcampaign.layout import HELDOUT_RECORD, RACE_PHASE, RESULTS_DIR, SCORE_RECORD, Campaign, Records
from flcampaign.records import State, format_row, scored_records
from flcampaign.scoring.evaluator import (
    OwnModel,
    PredictionFailed,
    contained_predictions,
    judge,
    own_spec,
    scored_views,
)
from flcampaign.task import Task

CHECKS = ("patch", "tree", "fixed", "model", "score", "rescore", "ledger", "winners")
SCORE_RECORDS = (SCORE_RECORD, HELDOUT_RECORD)
RECORD_SPLIT = {SCORE_RECORD: "search_val", HELDOUT_RECORD: "heldout"}  # the split each score record judges
SCORE_TOLERANCE = 1e-12  # scores travel through JSON unchanged; this only absorbs float printing
# A recomputed score repeats scoring's computation on the same inputs (the same rows in the same order, one call per
# block of rows on one thread), so it is the same float; the tolerance absorbs only a last-bit difference in the
# metric's sums (another numpy or BLAS build), far below what one row changes (1 / rows of the split).
RESCORE_TOLERANCE = 1e-9


@dataclass(frozen=True, order=True)
class Finding:
    """One tampered (or missing) artifact: its path relative to the campaign folder, the check and why."""

    artifact: str
    check: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Verification:
    """What ``audit`` found and which artifacts it looked at (paths relative to the campaign folder)."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    recomputed: int = 0  # ok scores the trusted evaluator computed again (and found equal, or flagged)
    not_recomputed: dict[str, int] = field(default_factory=dict)  # why -> how many ok scores were not (no finding)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings


def _cell(value: str | None) -> str:
    return "missing" if value is None else value if value else "empty"


def _short(digest: Any) -> str:
    return str(digest)[:12] if digest else "nothing"


class Audit:
    """What the checks share: the campaign's layout, the findings in discovery order, what was looked at."""

    def __init__(self, campaign_dir: Path, task: Task, config: dict):
        self.root = Path(campaign_dir).absolute()
        self.records = Records(self.root / RESULTS_DIR)
        self.task, self.config = task, config
        self.findings: dict[Finding, None] = {}  # discovery order (rows, then columns), without repeats
        self.checked: set[str] = set()
        self._hashes: dict[Path, str | None] = {}
        self.intact_trees: set[str] = set()  # valid candidates whose source tree hashes to its validation record
        self.rescorer = Rescorer(self)
        self.recomputed = 0
        self.not_recomputed: Counter[str] = Counter()

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def saw(self, path: Path) -> None:
        self.checked.add(self.rel(path))

    def flag(self, path: Path, check: str, detail: str) -> None:
        self.findings.setdefault(Finding(self.rel(path), check, detail))

    def sha(self, path: Path) -> str | None:
        """Hash of a file (cached: split files are named by many score records); None when it is missing."""
        if path not in self._hashes:
            self._hashes[path] = sha256_file(path) if path.is_file() else None
        return self._hashes[path]

    def record(self, path: Path, check: str) -> dict | None:
        """A JSON record, or None (with a finding) when it cannot be read as an object."""
        self.saw(path)
        try:
            data = read_json(path)
        except (OSError, ValueError) as error:
            self.flag(path, check, f"cannot be read as JSON: {error}")
            return None
        if not isinstance(data, dict):
            self.flag(path, check, "is not a JSON object")
            return None
        return data


# -- candidates: patch, tree, fixed -------------------------------------------------------------------


def validations(audit: Audit) -> dict[str, dict]:
    """Every validation record that can be read, by candidate id."""
    out = {}
    for path in sorted(audit.records.matching(audit.records.validation("*"))):
        record = audit.record(path, "patch")
        if record is not None:
            out[path.parent.name] = record
    return out


def candidate_folder(audit: Audit, cid: str, record: dict) -> Path | None:
    """Where the validated folder lives: candidates/<id>, or the workflow's own folder for a knob-only
    candidate it wrote itself (a control ``_ctl-NNN``, the compute reference ``_compute-ref``)."""
    if cid == BEST_CONTROL:
        source = record.get("source_control")
        return audit.records.scalar_candidate(source) if isinstance(source, str) else None
    if cid.startswith("_"):
        return audit.records.scalar_candidate(cid)
    return Campaign(audit.root).candidates / cid


def check_patch(audit: Audit, cid: str, record: dict) -> None:
    """The candidate's patches and candidate.yaml still match what validation recorded."""
    if "patch_sha256" not in record:
        return  # refused before its patches were hashed: nothing was recorded to compare with
    folder = candidate_folder(audit, cid, record)
    if folder is None or not folder.is_dir():
        audit.flag(audit.records.validation(cid), "patch", f"the validated candidate folder of {cid} is gone")
        return
    patch_files = sorted((folder / PATCH_DIR).glob("*.patch"))
    for path in patch_files:
        audit.saw(path)
    digest = sha256_bytes(b"".join(path.read_bytes() for path in patch_files))
    if digest != record["patch_sha256"]:
        audit.flag(
            folder / PATCH_DIR,
            "patch",
            f"patches hash to {_short(digest)}, validation recorded {_short(record['patch_sha256'])} "
            "(edited after validation)",
        )
    meta_path = folder / METADATA
    if "meta" in record:
        audit.saw(meta_path)
        try:
            meta = read_metadata(meta_path)
        except (OSError, UnreadableYaml) as error:
            meta = f"unreadable ({error})"
        if meta != record["meta"]:
            audit.flag(meta_path, "patch", "differs from the metadata recorded at validation")


def check_tree(audit: Audit, cid: str, record: dict) -> None:
    """A valid candidate's materialised sources still hash to its ``tree_sha256``."""
    if record.get("state") != State.OK:
        return
    src = audit.records.tree(cid)
    audit.saw(src)
    if not src.is_dir():
        audit.flag(src, "tree", "the validated source tree is missing")
        return
    digest = sha256_tree(src)
    if digest != record.get("tree_sha256"):
        audit.flag(src, "tree", f"hashes to {_short(digest)}, validation recorded {_short(record.get('tree_sha256'))}")
    else:
        audit.intact_trees.add(cid)


def check_fixed(audit: Audit, cid: str, record: dict) -> None:
    """The task's fixed files and budget still hash to what the validation recorded."""
    path, task = audit.records.validation(cid), audit.task
    recorded, now = record.get("fixed_sha256") or {}, task.fixed_hashes
    changed = sorted(rel for rel in set(recorded) | set(now) if recorded.get(rel) != now.get(rel))
    if changed:
        audit.flag(
            path,
            "fixed",
            f"fixed files of task {task.name} differ from their hashes at validation: {', '.join(changed)}",
        )
    if record.get("budget_sha256") != task.budget_sha256:
        audit.flag(
            path,
            "fixed",
            f"budget_sha256 {_short(record.get('budget_sha256'))} differs from the task's budget now "
            f"({_short(task.budget_sha256)})",
        )


# -- runs: model, score -------------------------------------------------------------------------------


def check_runs(audit: Audit) -> None:
    """Each ok run's model still hashes to its record; each ok score judged that model on unchanged splits."""
    every_run = audit.records.run_dir("*", "*", "*")
    run_dirs = sorted(
        {p.parent for name in ("run.json", *SCORE_RECORDS) for p in audit.records.matching(every_run / name)}
    )
    for run_dir in run_dirs:
        run_path = run_dir / "run.json"
        run = audit.record(run_path, "model") if run_path.is_file() else None
        model_intact = run is not None and run.get("state") == State.OK and check_model(audit, run_dir, run)
        for name in SCORE_RECORDS:
            if (run_dir / name).is_file():
                score = audit.record(run_dir / name, "score")
                if score is not None and score.get("state") == State.OK:
                    inputs_intact = check_score(audit, run_dir / name, score, run)
                    if run is not None and model_intact and inputs_intact:  # else already named: not twice
                        check_rescore(audit, run_dir / name, score, run)


def check_model(audit: Audit, run_dir: Path, run: dict) -> bool:
    """The run's final model is the one its record names (True), or a finding says why not."""
    model = run_dir / "global_model.pt"
    audit.saw(model)
    digest = audit.sha(model)
    if digest is None:
        audit.flag(model, "model", "run.json is ok but its final global model is missing")
    elif digest != run.get("model_sha256"):
        audit.flag(model, "model", f"hashes to {_short(digest)}, run.json recorded {_short(run.get('model_sha256'))}")
    return digest is not None and digest == run.get("model_sha256")


def check_score(audit: Audit, path: Path, score: dict, run: dict | None) -> bool:
    """The score record judged its run's model on its run's split, whose files are unchanged (True), or findings
    say why not."""
    intact = True
    if run is None or run.get("state") != State.OK:
        state = "missing" if run is None else run.get("state")
        audit.flag(path, "score", f"is ok but its run.json is {state}")
        intact = False
    elif score.get("model_sha256") != run.get("model_sha256"):
        audit.flag(
            path,
            "score",
            f"judged model {_short(score.get('model_sha256'))}, run.json has {_short(run.get('model_sha256'))}",
        )
        intact = False
    split, hashes = score.get("split"), score.get("split_sha256")
    if not isinstance(split, str) or not isinstance(hashes, dict) or not hashes:
        audit.flag(path, "score", "does not name the split files it was computed on")
        return False
    phase, seed = path.parent.parent.parent.name, path.parent.name.removeprefix("seed")
    vary = bool((audit.config.get("repeats") or {}).get("vary_partition"))
    want = (RECORD_SPLIT[path.name], partition_seed(phase, int(seed), vary) if seed.isdigit() else None)
    if (split, score.get("partition_seed")) != want:
        audit.flag(
            path,
            "score",
            f"was computed on split {split} of partition {score.get('partition_seed')}; its run is scored on "
            f"{want[0]} of partition {want[1]}",
        )
        intact = False
    for site, recorded in sorted(hashes.items()):
        split_file = audit.records.split(split, score.get("partition_seed")) / f"{site}.npz"
        audit.saw(split_file)
        digest = audit.sha(split_file)
        if digest != recorded:
            now = "is missing" if digest is None else f"hashes to {_short(digest)}"
            audit.flag(split_file, "score", f"{now}, {audit.rel(path)} recorded {_short(recorded)}")
            intact = False
    return intact


# -- rescore: each ok score computed again by the trusted evaluator ----------------------------------------------


class NotRecomputed(Exception):
    """This machine cannot recompute the score (no sandbox, the task's class will not import, a timeout): said in
    the summary, not a finding."""


class Rescorer:
    """Recomputes scores as scoring computed them, loading torch, the task's own model class, the sandbox and each
    split once per verify."""

    def __init__(self, audit: "Audit"):
        self.audit = audit
        self._splits: dict[tuple[Path, str], dict[str, tuple]] = {}
        self._own: OwnModel | NotRecomputed | None = None
        self._sandbox: Sandbox | NotRecomputed | None = None

    def split(self, folder: Path, name: str, sites: dict[str, str]) -> tuple[dict[str, tuple], dict[str, str]]:
        """The rows of the sites a record names, in the order scoring loaded them, and their hashes in that order
        (which seeds the views)."""
        if (folder, name) not in self._splits:
            self._splits[folder, name] = load_split(folder, name)
        data = {site: rows for site, rows in self._splits[folder, name].items() if site in sites}
        return data, {site: sites[site] for site in data}

    def own(self) -> OwnModel:
        if self._own is None:
            try:
                self._own = OwnModel(self.audit.task)
            except Exception as error:  # whatever the task's own module raises while it is imported
                self._own = NotRecomputed(f"the task's own model class cannot be imported: {error}")
        if isinstance(self._own, NotRecomputed):
            raise self._own
        return self._own

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            mode = (self.audit.config.get("execution") or {}).get("sandbox", "auto")
            try:
                self._sandbox = choose(mode)
            except (SandboxUnavailable, ValueError) as error:
                self._sandbox = NotRecomputed(f"the candidate's model class runs only contained: {error}")
        if isinstance(self._sandbox, NotRecomputed):
            raise self._sandbox
        return self._sandbox

    def judge(self, run_dir: Path, score: dict, run: dict) -> dict:
        """What the trusted evaluator computes from the run's model on the split the record names: the score, the
        pooled and mean-over-sites values and each site's (``evaluator.judge``)."""
        folder = self.audit.records.partition_splits(score.get("partition_seed"))
        data, hashes = self.split(folder, score["split"], score["split_sha256"])
        views = scored_views(self.audit.task, data, run["model_sha256"], hashes, scored_only=True)
        model = run_dir / "global_model.pt"
        if own_spec(self.audit.task) is not None:  # the task's own class: no candidate code, in this process
            predictions = self.own().predictions(model, views)
        else:
            cid = run_dir.parent.name
            if cid not in self.audit.intact_trees:
                raise NotRecomputed("the candidate's model class is in a source tree that is not intact or not valid")
            spec = run.get("model_spec")
            if not isinstance(spec, dict):
                raise PredictionFailed("run.json names no model class (model_spec)")
            tree = self.audit.records.tree(cid)
            try:
                predictions = contained_predictions(self.audit.task, model, tree, spec, views, folder, self.sandbox())
            except PredictionFailed as error:
                if error.timed_out:
                    raise NotRecomputed(f"the prediction step timed out: {error}") from None
                raise
        return judge(self.audit.task, views, predictions, data)


def check_rescore(audit: Audit, path: Path, score: dict, run: dict) -> None:
    """An ok score whose model and split files check out is the score the trusted evaluator computes from them."""
    recorded = score.get("score")
    if isinstance(recorded, bool) or not isinstance(recorded, int | float):
        audit.flag(path, "rescore", f"is ok but holds no score ({recorded!r})")
        return
    try:
        judged = audit.rescorer.judge(path.parent, score, run)
    except NotRecomputed as why:
        audit.not_recomputed[str(why)] += 1
        return
    except (PredictionFailed, ValueError, KeyError, TypeError, OSError, RuntimeError) as error:
        audit.flag(path, "rescore", f"records {recorded!r}, but the trusted evaluator cannot recompute it: {error}")
        return
    audit.recomputed += 1
    differ = [] if same(recorded, judged["score"]) else [f"recorded {recorded!r}, recomputed {judged['score']!r}"]
    # the other aggregation (the winners' second analysis reads it) and each site's value, where the record has them
    others = [(name, score[name], judged[name]) for name in ("pooled", "mean_over_sites") if name in score]
    per_site = score.get("per_site") if isinstance(score.get("per_site"), dict) else {}
    others += [(f"site {site}", per_site.get(site), value) for site, value in judged["per_site"].items() if per_site]
    differ += [f"{name}: recorded {have!r}, recomputed {want!r}" for name, have, want in others if not same(have, want)]
    if differ:
        where = f"(the trusted evaluator, from global_model.pt on {score['split']})"
        audit.flag(path, "rescore", f"{'; '.join(differ)} {where}")


def same(recorded: Any, recomputed: float) -> bool:
    """A recorded value is the recomputed one, within ``RESCORE_TOLERANCE``."""
    if isinstance(recorded, bool) or not isinstance(recorded, int | float) or not math.isfinite(recorded):
        return False
    return abs(recorded - recomputed) <= RESCORE_TOLERANCE


# -- ledger -------------------------------------------------------------------------------------------


def check_ledger(audit: Audit, validated: dict[str, dict]) -> None:
    """``results.tsv`` equals the ledger rebuilt from the records, cell by cell and in campaign order."""
    tsv = audit.records.ledger
    audit.saw(tsv)
    if not tsv.is_file():
        audit.flag(tsv, "ledger", "the ledger is missing")
        return
    literature = Campaign(audit.root).literature
    for path in sorted(literature.glob("lit-*.yaml")):
        audit.saw(path)
    ids = [cid for cid in validated if not cid.startswith("_")]  # workflow-written ids start with _
    try:
        rows = build_rows(
            audit.task,
            audit.records.root,
            ids,
            audit.task.seeds["search"],
            float(audit.config["ledger"]["keep_margin"]),
            load_events(literature),
            refused=refused_folders(Campaign(audit.root).candidates),
        )
        expected = [format_row(row) for row in rows]
        actual = read_cells(tsv)
        with open(tsv, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t"), [])
    except (OSError, ValueError, KeyError, TypeError) as error:
        audit.flag(tsv, "ledger", f"cannot be compared with the records: {error}")
        return
    if header != list(COLUMNS):
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "columns are out of order"
        audit.flag(tsv, "ledger", f"results.tsv header: {detail}")
    compare_rows(audit, tsv, [column for column in COLUMNS if column in header], actual, expected)


def compare_rows(audit: Audit, tsv: Path, columns: list[str], actual: list[dict], expected: list[dict]) -> None:
    """Rows are matched by candidate: extra, missing and moved rows are one finding each, then cell by cell."""
    wanted = {row["candidate"]: (number, row) for number, row in enumerate(expected, start=1)}
    seen: dict[str, int] = {}
    for number, have in enumerate(actual, start=1):
        cid = have.get("candidate")
        if cid is None or cid not in wanted or cid in seen:  # a short row has no candidate cell
            again = f" (again; first at row {seen[cid]})" if cid in seen else ""
            audit.flag(tsv, "ledger", f"results.tsv row {number} (candidate {cid}) is not in the records{again}")
            continue
        seen[cid] = number
        want = wanted[cid][1]
        for column in columns:
            if have.get(column) != want[column]:
                audit.flag(
                    tsv,
                    "ledger",
                    f"results.tsv row {number} (candidate {cid}): column {column} is {_cell(have.get(column))} "
                    f"in the ledger, {_cell(want[column])} in the records",
                )
    for cid, (number, _) in wanted.items():
        if cid not in seen:
            audit.flag(tsv, "ledger", f"results.tsv row {number} (candidate {cid}) is missing")
    ledger_order = list(seen)  # candidates present in both, in the ledger's order
    campaign_order = [cid for cid in wanted if cid in seen]
    for have_cid, want_cid in zip(ledger_order, campaign_order, strict=True):
        if have_cid != want_cid:
            audit.flag(
                tsv,
                "ledger",
                f"results.tsv row {seen[have_cid]} (candidate {have_cid}) is out of campaign order: "
                f"the records put it at row {wanted[have_cid][0]}",
            )


# -- winners ------------------------------------------------------------------------------------------


def recorded_scores(audit: Audit, phase: str, cid: str, seeds: list, name: str) -> dict[str, tuple[float, Path]]:
    """Seed (as winners.json keys it) -> (score, record), found the way the winners stage finds them."""
    found = scored_records(audit.records, phase, cid, seeds, name, read=readable)
    for _, path in found.values():
        audit.saw(path)
    return {str(seed): value for seed, value in found.items()}


def readable(path: Path) -> dict | None:
    """A JSON record, or None when it cannot be read (the score check reports those)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def compare_scores(audit: Audit, path: Path, label: str, used: dict, recorded: dict[str, tuple[float, Path]]) -> None:
    used = {str(seed): value for seed, value in (used or {}).items()}
    for seed in sorted(set(used) | set(recorded), key=lambda s: (len(s), s)):
        value = used.get(seed)
        score, source = recorded.get(seed, (None, None))
        if value is None or score is None or not math.isclose(value, score, rel_tol=0, abs_tol=SCORE_TOLERANCE):
            where = audit.rel(source) if source else "no ok score record"
            audit.flag(path, "winners", f"{label} seed {seed}: {value} in winners.json, {score} in {where}")


def check_winners(audit: Audit, validated: dict[str, dict]) -> None:
    """``winners.json`` uses exactly the scores the score records hold."""
    path = audit.records.winners_json
    if not path.is_file():
        return
    evidence = audit.record(path, "winners")
    if evidence is None:
        return
    try:
        search_seed = audit.task.seeds["search"]
        baseline = evidence.get("baseline")
        arms = (
            [(baseline, evidence["baseline_seeds"], evidence["baseline_scores"], evidence["baseline_heldout"])]
            if baseline
            else []
        )
        arms += [(e["candidate"], e["seeds"], e["scores"], e["heldout"]) for e in evidence["entries"]]
        for cid, arm_seeds, scores, heldout in arms:
            recorded = recorded_scores(audit, "repeat", cid, arm_seeds, SCORE_RECORD)
            compare_scores(audit, path, cid, scores, recorded)
            held = recorded_scores(audit, "repeat", cid, arm_seeds, HELDOUT_RECORD)
            compare_scores(audit, path, f"{cid} held-out", heldout, held)
        for entry in evidence["entries"]:
            cid = entry["candidate"]
            if cid == BEST_CONTROL:
                source = (validated.get(cid) or {}).get("source_control")
                search = recorded_scores(audit, "control", source, [search_seed], SCORE_RECORD) if source else {}
            else:
                search = recorded_scores(audit, "search", cid, [search_seed], SCORE_RECORD)
            used = {} if entry.get("search_score") is None else {search_seed: entry["search_score"]}
            compare_scores(audit, path, f"{cid} search", used, search)
        check_race(audit, path, evidence["race"], search_seed)
        check_winners_tsv(audit, evidence)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        audit.flag(path, "winners", f"does not have the structure winners.py writes: {error!r}")


def as_built(evidence: dict) -> dict:
    """``winners.json`` read back as the winners stage held it when it rendered ``winners.tsv``: JSON keeps seeds as
    sorted strings, the stage had each arm's scores in its seeds' order and the differences in numeric order."""

    def in_order(values: dict, seeds: list) -> dict:
        order = [str(seed) for seed in seeds] + sorted(set(values) - {str(seed) for seed in seeds}, key=int)
        return {seed: values[seed] for seed in order if seed in values}

    entries = [
        entry
        | {
            "scores": in_order(entry["scores"], entry["seeds"]),
            "heldout": in_order(entry["heldout"], entry["seeds"]),
            "diff_per_seed": in_order(entry["diff_per_seed"], []),
            "heldout_diff_per_seed": in_order(entry["heldout_diff_per_seed"], []),
        }
        for entry in evidence["entries"]
    ]
    return evidence | {"entries": entries}


def check_winners_tsv(audit: Audit, evidence: dict) -> None:
    """``winners.tsv`` is ``winners.json`` as the winners stage renders it (``winners.to_tsv``), cell by cell: its
    scores are those of winners.json, which ``check_winners`` ties to the score records."""
    path = audit.records.winners_tsv
    if not path.is_file():
        return
    audit.saw(path)
    expected = list(csv.DictReader(io.StringIO(to_tsv(as_built(evidence))), delimiter="\t"))
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            actual = list(csv.DictReader(handle, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        audit.flag(path, "winners", f"cannot be read: {error}")
        return
    if len(actual) != len(expected):
        audit.flag(path, "winners", f"winners.tsv has {len(actual)} rows, winners.json {len(expected)} entries")
    for number, (have, want) in enumerate(zip(actual, expected, strict=False), start=1):
        for column, value in want.items():
            if have.get(column) != value:
                audit.flag(
                    path,
                    "winners",
                    f"winners.tsv row {number} (candidate {want['candidate']}): column {column} is "
                    f"{_cell(have.get(column))} in winners.tsv, {_cell(value)} in winners.json",
                )


def check_race(audit: Audit, path: Path, race: dict, search_seed: int) -> None:
    """The race's scores (each candidate's search seeds, the baseline's on the same seeds) are those recorded."""
    arms = list(race["search_runs"].items())
    if race.get("reference"):
        arms.append((race["reference"], race["reference_runs"]))
    for cid, runs in arms:
        race_seeds = [int(seed) for seed in runs if int(seed) != search_seed]
        recorded = {
            **recorded_scores(audit, "search", cid, [search_seed], SCORE_RECORD),
            **recorded_scores(audit, RACE_PHASE, cid, race_seeds, SCORE_RECORD),
        }
        compare_scores(audit, path, f"{cid} race", runs, recorded)


def audit(campaign_dir: Path, task: Task, config: dict) -> Verification:
    """Run every check on the campaign in ``campaign_dir``, with the artifacts looked at.

    Findings are sorted by artifact and check, and within those in the order they were found
    (a ledger's rows and columns in file order).
    """
    start = time.perf_counter()
    found = Audit(campaign_dir, task, config)
    validated = validations(found)
    for cid, record in validated.items():
        check_patch(found, cid, record)
        check_tree(found, cid, record)
        check_fixed(found, cid, record)
    check_runs(found)
    check_ledger(found, validated)
    check_winners(found, validated)
    findings = sorted(found.findings, key=lambda finding: (finding.artifact, finding.check))
    seconds = time.perf_counter() - start
    return Verification(findings, sorted(found.checked), found.recomputed, dict(found.not_recomputed), seconds)


def verify(campaign_dir: Path, task: Task, config: dict) -> list[Finding]:
    """Findings of every check, sorted by artifact and check; an empty list means no tampered artifact was found."""
    return audit(campaign_dir, task, config).findings
