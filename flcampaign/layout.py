"""Where everything of a campaign lives: one definition that the workflow, the library and the CLI use.

``Campaign(root)`` is the campaign folder: what people and agents write (candidates, literature,
drafts, the config) and where the workflow writes (``results/``, ``reports/``). ``Records(results)``
is the workflow's results folder: validation records, runs, scores, the ledger, the selection,
the winners. Paths are relative when the campaign is the working directory (``Campaign()``), so the
ledger names its artifacts the same way wherever the campaign is, and a campaign keeps working when
it is copied or moved. The methods take wildcards as well as ids (``"{candidate}"``): the Snakemake
rules are written from the same definitions.
"""

from dataclasses import dataclass
from pathlib import Path

CANDIDATES_DIR = "candidates"
LITERATURE_DIR = "literature"
DRAFTS_DIR = "drafts"
TASKS_DIR = "tasks"  # a campaign's own tasks (flcampaign init copies one in)
RESULTS_DIR = "results"
REPORTS_DIR = "reports"
RACE_PHASE = "race"
PHASES = ("search", RACE_PHASE, "control", "repeat", "rerun", "reference")
SCORE_RECORD = "score.json"  # a run scored on search-validation
HELDOUT_RECORD = "heldout.json"  # a repeat run scored on the held-out split
SPLITS_MANIFEST = "splits.json"  # beside the prepared splits: their hashes and the partition they come from


@dataclass(frozen=True)
class Records:
    """The workflow's results folder (``results/`` of a campaign)."""

    root: Path = Path(RESULTS_DIR)

    @staticmethod
    def holding(path: Path) -> Path:
        """The results folder that holds ``path`` (a file a rule declared), for the scripts: the folder
        comes from the paths Snakemake hands them, not from a literal."""
        path = Path(path)
        for parent in (path, *path.parents):
            if parent.name == RESULTS_DIR:
                return parent
        raise ValueError(f"{path} is not inside a {RESULTS_DIR}/ folder")

    @property
    def splits(self) -> Path:
        """The prepared splits (train, search_val, heldout) and their manifest."""
        return self.root / "task"

    def partition_splits(self, partition: int | str | None) -> Path:
        """The splits a run used: the campaign's own, or those of one partition seed (``repeats.vary_partition``)."""
        return self.splits if partition is None else self.splits / f"partition-{partition}"

    def split(self, name: str, partition: int | str | None = None) -> Path:
        return self.partition_splits(partition) / name

    def splits_manifest_of(self, partition: int | str | None) -> Path:
        return self.partition_splits(partition) / SPLITS_MANIFEST

    @property
    def splits_manifest(self) -> Path:
        return self.splits_manifest_of(None)

    def candidate(self, cid: str) -> Path:
        """A candidate's validation output folder (also controls and the compute reference)."""
        return self.root / "candidates" / cid

    def validation(self, cid: str) -> Path:
        return self.candidate(cid) / "validation.json"

    def tree(self, cid: str) -> Path:
        """The candidate's materialised source tree."""
        return self.candidate(cid) / "src"

    def effective_diff(self, cid: str) -> Path:
        return self.candidate(cid) / "effective.diff"

    def scalar_candidate(self, record_id: str) -> Path:
        """The candidate folder written for a control or the compute reference (knob values only)."""
        return self.root / "controls" / record_id.removeprefix("_")

    def run_dir(self, phase: str, cid: str, seed: int | str) -> Path:
        return self.root / "runs" / phase / cid / f"seed{seed}"

    def run_record(self, phase: str, cid: str, seed: int | str) -> Path:
        return self.run_dir(phase, cid, seed) / "run.json"

    def score_record(self, phase: str, cid: str, seed: int | str) -> Path:
        return self.run_dir(phase, cid, seed) / SCORE_RECORD

    def heldout_record(self, cid: str, seed: int | str) -> Path:
        return self.run_dir("repeat", cid, seed) / HELDOUT_RECORD

    def work_dir(self, phase: str, cid: str, seed: int | str) -> Path:
        """A run's scratch folder (code copy, job, workspace), removed and remade by each attempt."""
        return self.root / "work" / phase / cid / f"seed{seed}"

    @property
    def ledger(self) -> Path:
        return self.root / "results.tsv"

    @property
    def state(self) -> Path:
        return self.root / "campaign_state.json"

    @property
    def order(self) -> Path:
        return self.root / "order.json"

    @property
    def selection(self) -> Path:
        return self.root / "selection.json"

    def race_step(self, step: int | str) -> Path:
        """The race's state after ``step`` batches (step 0: who entered it)."""
        return self.root / "race" / f"step{step}.json"

    def seeds_step(self, chain: str, step: int | str) -> Path:
        """The adaptive repeat seeds after ``step`` batches (step 0: each winner's look at the fixed repeats), in the
        folder of their chain (named by the digest of what its first step takes from the selection and config)."""
        return self.root / "added_seeds" / chain / f"step{step}.json"

    def tpe_step(self, chain: str, step: int | str) -> Path:
        """The TPE control arm after ``step`` batches: every control told so far and the batch it asks next, in the
        folder of its chain (as ``seeds_step``)."""
        return self.root / "tpe" / chain / f"step{step}.json"

    @property
    def control_arms(self) -> Path:
        """Every control of both arms with its knob values and search score, and the TPE arm's settings."""
        return self.root / "controls.json"

    @property
    def race_tsv(self) -> Path:
        """Per screened candidate: the search seeds it ran, its mean, whether the race dropped it."""
        return self.root / "race.tsv"

    @property
    def winners_tsv(self) -> Path:
        return self.root / "winners.tsv"

    @property
    def winners_json(self) -> Path:
        return self.root / "winners.json"

    @property
    def slots(self) -> Path:
        return self.root / ".slots"

    def log(self, *parts: str) -> Path:
        return self.root / "logs" / Path(*parts)

    def benchmark(self, *parts: str) -> Path:
        return self.root / "benchmarks" / Path(*parts)

    @property
    def campaign(self) -> Path:
        """The campaign folder holding these results, against which ledger artifacts are named."""
        return self.root.parent

    def matching(self, pattern: Path) -> list[Path]:
        """The existing paths a layout path with ``*`` parts names (``matching(run_dir("*", "*", "*"))``)."""
        return list(self.root.glob(Path(pattern).relative_to(self.root).as_posix()))

    def artifact(self, path: Path) -> str:
        """How the ledger names a file below this folder: from the campaign folder, whatever the working
        directory (``results/runs/search/x/seed0``)."""
        return (Path(self.root.name) / Path(path).relative_to(self.root)).as_posix()


@dataclass(frozen=True)
class Campaign:
    """A campaign folder."""

    root: Path = Path(".")

    def _at(self, name: str) -> Path:
        return Path(name) if self.root == Path(".") else self.root / name

    @property
    def candidates(self) -> Path:
        return self._at(CANDIDATES_DIR)

    @property
    def literature(self) -> Path:
        return self._at(LITERATURE_DIR)

    @property
    def tasks(self) -> Path:
        return self._at(TASKS_DIR)

    @property
    def drafts(self) -> Path:
        return self._at(DRAFTS_DIR)

    @property
    def config(self) -> Path:
        return self._at("config.yaml")

    @property
    def snakefile(self) -> Path:
        """The campaign's own Snakefile (using the installed workflow as a module), where it has one."""
        return self._at("Snakefile")

    @property
    def records(self) -> Records:
        return Records(self._at(RESULTS_DIR))

    @property
    def reports(self) -> Path:
        return self._at(REPORTS_DIR)

    @property
    def report_md(self) -> Path:
        return self.reports / "report.md"

    @property
    def report_pdf(self) -> Path:
        return self.reports / "report.pdf"

    @property
    def progress_plot(self) -> Path:
        return self.reports / "progress.png"

    @property
    def repeats_plot(self) -> Path:
        return self.reports / "repeats.png"

    @property
    def race_plot(self) -> Path:
        return self.reports / "race.png"

    @property
    def control_arms_plot(self) -> Path:
        return self.reports / "control_arms.png"

    @property
    def lineage_plot(self) -> Path:
        """The candidate tree: parent to child, coloured by status, the incumbent chain highlighted."""
        return self.reports / "lineage.png"

    @property
    def shrinkage_plot(self) -> Path:
        """Per winner: its search, multi-seed search, repeat and held-out gains with their intervals."""
        return self.reports / "shrinkage.png"

    @property
    def dashboard(self) -> Path:
        """One self-contained HTML page of the campaign (no server, nothing fetched)."""
        return self.reports / "dashboard.html"
