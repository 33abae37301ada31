"""Real Snakemake driving real NVFlare simulations on heart_disease at a one-round budget."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nvflare
import psutil
import pytest
from conftest import REPO, copy_candidates

from flcampaign.evidence.ledger import COLUMNS, read_cells, read_tsv
from flcampaign.evidence.null_campaigns import write_null_candidate
from flcampaign.evidence.stats import ATTRIBUTIONS
from flcampaign.execution import nvflare_settings, nvflare_waits
from flcampaign.execution.capacity import Footprint, slots_for
from flcampaign.execution.compute import REFERENCE_ID
from flcampaign.layout import Records
from flcampaign.schemas import schema_errors
from flcampaign.task import Task

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    cmd += [
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        "--resources",
        "gpu=2",
        "--keep-going",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("campaign")
    copy_candidates(workdir, "0000-baseline", "0001-fedprox-mu001", "0002-fedavgm", "0008-thirty-rounds")
    (workdir / "config.yaml").write_text(
        "task: heart_disease\nnum_rounds: 1\n"
        "selection: {top_k: 1, racing: {contenders: 2, seeds: [1], batch: 1}}\n"
        "repeats: {seeds: [42, 43], adaptive: {seeds: [47, 48], batch: 1, min_effect: 0}}\n"
        "controls: {n: 2, tpe: {enabled: true, batch: 1}}\n"
    )
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_campaign_records_every_candidate(campaign):
    rows = read_tsv(campaign / "results" / "results.tsv")
    assert list(rows[0]) == list(COLUMNS)
    by_id = {row["candidate"]: row for row in rows}
    assert [row["candidate"] for row in rows] == [
        "0000-baseline",
        "0001-fedprox-mu001",
        "0002-fedavgm",
        "0008-thirty-rounds",
    ]
    assert by_id["0000-baseline"]["status"] == "baseline"
    assert by_id["0001-fedprox-mu001"]["status"] in ("keep", "discard")
    assert by_id["0002-fedavgm"]["status"] in ("keep", "discard")
    assert by_id["0008-thirty-rounds"]["status"] == "invalid"
    assert "rule fixed-budget" in by_id["0008-thirty-rounds"]["failure_reason"]
    assert "job.py" in by_id["0008-thirty-rounds"]["failure_reason"]
    for cid in ("0000-baseline", "0002-fedavgm"):
        score = json.loads((campaign / "results/runs/search" / cid / "seed0/score.json").read_text())
        assert 0.0 <= score["score"] <= 1.0
        assert float(by_id[cid]["score"]) == pytest.approx(score["score"], abs=1e-6)
        assert score["split"] == "search_val" and set(score["per_site"]) == {"site-1", "site-2", "site-3", "site-4"}
        run = json.loads((campaign / "results/runs/search" / cid / "seed0/run.json").read_text())
        assert run["state"] == "ok" and run["budget"]["num_rounds"] == 1 and run["reaped_processes"] >= 0
        capped = {"capped_waits": nvflare_waits.record()}  # execution.shorten_nvflare_waits defaults to true
        assert run["nvflare_settings"] == {"nvflare": nvflare.__version__, **nvflare_settings.DEFAULTS, **capped}
        reference = json.loads(Records(campaign / "results").run_record("reference", REFERENCE_ID, 0).read_text())
        cores, memory = len(os.sched_getaffinity(0)), psutil.virtual_memory().total / 2**20
        assert run["slots"] == slots_for(Footprint.of([reference]), cores, memory)  # from the measured footprint
        job = Records(campaign / "results").work_dir("search", cid, 0) / "job"
        (server_config,) = job.glob("*/app/config/config_fed_server.json")
        exported = json.loads(server_config.read_text())
        assert exported["server"]["task_request_interval"] == nvflare_settings.DEFAULTS["task_request_interval"]


def test_every_record_of_a_real_campaign_meets_its_schema(campaign):
    """The validation, run and score records each stage wrote follow rules/schemas/<kind>.schema.yaml."""
    records = Records(campaign / "results")
    found = {
        "validation": records.matching(records.validation("*")),
        "run": records.matching(records.run_dir("*", "*", "*") / "run.json"),
        "score": [
            *records.matching(records.run_dir("*", "*", "*") / "score.json"),
            *records.matching(records.run_dir("*", "*", "*") / "heldout.json"),
        ],
    }
    assert len(found["validation"]) >= 3 and len(found["run"]) >= 3 and len(found["score"]) >= 3
    for kind, paths in found.items():
        for path in paths:
            record = json.loads(path.read_text())
            assert record["record"] == kind, path
            assert schema_errors(kind, record) == [], path


def test_campaign_writes_state_and_report(campaign):
    state = json.loads((campaign / "results" / "campaign_state.json").read_text())
    assert state["counts"]["total"] == 4 and state["counts"]["invalid"] == 1
    assert state["baseline"]["candidate"] == "0000-baseline"
    report = (campaign / "reports" / "report.md").read_text()
    assert "rounds shortened to 1" in report and "0008-thirty-rounds" in report
    assert (campaign / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (campaign / "reports" / "progress.png").stat().st_size > 10_000


def test_second_run_does_nothing(campaign):
    result = snakemake(campaign)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_finished_campaign_moved_elsewhere_rebuilds_its_report_and_verifies_without_simulating(campaign, tmp_path):
    """Copied to another folder (file times kept, as cp -a, tar or a move keep them), nothing re-runs;
    its report rebuilds from the records alone; verify finds it clean."""
    moved = tmp_path / "elsewhere" / "campaign"
    shutil.copytree(campaign, moved, symlinks=True)
    dry = snakemake(moved, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    (moved / "reports" / "report.md").unlink()
    rebuilt = snakemake(moved, "-n")
    assert set(planned_jobs(rebuilt.stdout)) == {"report", "all"}, rebuilt.stdout[-2000:]  # zero simulations
    result = snakemake(moved, "report")
    assert result.returncode == 0 and (moved / "reports" / "report.md").is_file(), result.stderr[-2000:]
    verify = subprocess.run(
        [sys.executable, "-m", "flcampaign.cli", "verify"], cwd=moved, capture_output=True, text=True, timeout=600
    )
    assert verify.returncode == 0 and "no tampering found" in verify.stdout, verify.stdout + verify.stderr


def test_the_race_gives_contenders_more_search_seeds_and_picks_by_their_mean(campaign):
    records = Records(campaign / "results")
    selection = json.loads(records.selection.read_text())
    race = selection["race"]
    contenders = ["0001-fedprox-mu001", "0002-fedavgm"]
    assert race["entered"] == 2 and race["steps"] == 1 and race["reference"] == "0000-baseline"
    for cid in [*contenders, "0000-baseline"]:  # the baseline runs the race seed beside the contenders
        score = json.loads(records.score_record("race", cid, 1).read_text())
        assert score["state"] == "ok" and score["split"] == "search_val"
    runs = {cid: {int(seed): value for seed, value in race["search_runs"][cid].items()} for cid in contenders}
    assert all(set(seeds) == {0, 1} for seeds in runs.values())
    best = max(contenders, key=lambda cid: (sum(runs[cid].values()), -contenders.index(cid)))
    winner = selection["winners"][0]  # a later kept candidate may join it as the final kept one
    assert winner["candidate"] == best and winner["reasons"][0] == "top-1 by race mean over 2 search seeds"
    assert race["simulations"] == 3
    table = read_cells(records.race_tsv)
    assert [row["candidate"] for row in table][0] == best and {row["seeds"] for row in table} == {"2"}
    evidence = json.loads(records.winners_json.read_text())
    assert evidence["cost"]["race"] == 3 and evidence["entries"][0]["race_gain"]["n"] == 2
    assert evidence["entries"][0]["search_seeds"] == 2
    report = (campaign / "reports" / "report.md").read_text()
    assert "### Selection: the race" in report and "race 3 runs in 1 steps" in report
    assert (campaign / "reports" / "race.png").stat().st_size > 10_000


def test_winners_are_repeated_held_out_and_attributed(campaign):
    selection = json.loads((campaign / "results" / "selection.json").read_text())
    assert selection["baseline"] == "0000-baseline"
    winners = [w["candidate"] for w in selection["winners"]]
    assert [c["id"] for c in selection["controls"]] == ["_ctl-001", "_ctl-002"]
    for cid in ("0000-baseline", *winners, "_ctl-best"):
        for seed in (42, 43):
            run_dir = campaign / "results" / "runs" / "repeat" / cid / f"seed{seed}"
            assert json.loads((run_dir / "run.json").read_text())["seed"] == seed
            heldout = json.loads((run_dir / "heldout.json").read_text())
            assert heldout["split"] == "heldout" and heldout["state"] == "ok"
    rerun = json.loads((campaign / "results/runs/rerun/0000-baseline/seed42/score.json").read_text())
    assert rerun["state"] == "ok"
    evidence = json.loads((campaign / "results" / "winners.json").read_text())
    winner = evidence["entries"][0]
    assert winner["candidate"] == winners[0] and winner["attribution"] in ATTRIBUTIONS
    assert winner["repeat"]["n"] == len(winner["seeds"]) and set(winner["scores"]) == {str(s) for s in winner["seeds"]}
    assert winner["seeds"][:2] == [42, 43]
    assert evidence["noise_floor"]["same_seed"]["seed"] == 42
    rows = {row["candidate"]: row for row in read_cells(campaign / "results" / "winners.tsv")}
    assert rows[winners[0]]["attribution"] == winner["attribution"]
    assert rows["_ctl-best"]["role"] == "best control"
    report = (campaign / "reports" / "report.md").read_text()
    assert "### Evidence and attribution" in report and winner["attribution"] in report and "0.0625" in report
    assert (campaign / "reports" / "repeats.png").stat().st_size > 10_000


def test_a_promising_winner_gets_added_seeds_and_a_sequential_test(campaign):
    """min_effect 0: a winner whose held-out gain is not negative and not separated runs seed 47 (then 48) beside
    the baseline; one that is separated or negative stops at the fixed seeds. Either way the records agree."""
    records = Records(campaign / "results")
    (chain,) = {path.parent.name for path in records.matching(records.seeds_step("*", 0))}
    steps = [json.loads(records.seeds_step(chain, step).read_text()) for step in range(3)]
    (winner,) = steps[0]["arms"]
    first = steps[0]["arms"][winner]["history"][0]
    assert steps[0]["looks"] == [2, 3, 4] and first["seeds"] == 2
    assert first["status"] == (
        "more seeds" if first["p_sequential"] >= 0.025 and first["mean"] >= 0 else first["status"]
    )
    final = steps[-1]["arms"][winner]
    evidence = json.loads(records.winners_json.read_text())
    entry = next(e for e in evidence["entries"] if e["candidate"] == winner)
    assert entry["seeds"] == final["seeds"] and entry["added_seeds"] == final["history"][-1]
    assert entry["heldout_vs_baseline"]["p_sequential"] is not None
    added = final["seeds"][2:]
    assert added == [47, 48][: len(added)]
    assert evidence["cost"]["added_seeds"] == 2 * len(added)
    for cid in (winner, "0000-baseline"):
        for seed in (47, 48):
            held = records.heldout_record(cid, seed)
            assert held.is_file() == (seed in added), (cid, seed)
    if first["status"] == "more seeds":
        assert added and entry["heldout_vs_baseline"]["n"] == len(final["seeds"])
    report = (campaign / "reports" / "report.md").read_text()
    assert "### Added seeds" in report and f"added seeds {2 * len(added)} runs" in report
    assert "p sequential, Holm" in report  # the tables name the p the decision took


def test_the_tpe_arm_asks_each_batch_after_the_scores_of_the_one_before(campaign):
    """Two TPE controls in batches of one: step 1 is told _tpe-001's recorded score and asks _tpe-002, which starts
    only after _tpe-001 was scored; the best control is the best of both arms and the report compares the arms."""
    records = Records(campaign / "results")
    (chain,) = {path.parent.name for path in records.matching(records.tpe_step("*", 0))}
    steps = [json.loads(records.tpe_step(chain, step).read_text()) for step in range(3)]
    assert [[a["id"] for a in s["next"]] for s in steps] == [["_tpe-001"], ["_tpe-002"], []]
    assert steps[2]["done"] and not records.tpe_step(chain, 3).exists()
    first_score = json.loads(records.score_record("control", "_tpe-001", 0).read_text())
    assert steps[1]["trials"] == [{**steps[0]["next"][0], "score": first_score["score"]}]
    second_run = json.loads(records.run_record("control", "_tpe-002", 0).read_text())
    assert (
        second_run["started_at"] > json.loads(records.run_record("control", "_tpe-001", 0).read_text())["finished_at"]
    )
    evidence = json.loads(records.winners_json.read_text())
    arms = [(c["id"], c["arm"]) for c in evidence["controls"]]
    assert arms == [("_ctl-001", "random"), ("_ctl-002", "random"), ("_tpe-001", "tpe"), ("_tpe-002", "tpe")]
    best = max(
        evidence["controls"], key=lambda c: -1.0 if c["search_score"] is None else c["search_score"]
    )  # ties go to the lower id, listed first
    assert json.loads(records.validation("_ctl-best").read_text())["source_control"] == best["id"]
    assert evidence["cost"]["controls"] == 2 and evidence["cost"]["tpe_controls"] == 2
    report = (campaign / "reports" / "report.md").read_text()
    assert "#### Agent against scalar tuning at equal cost" in report and "| TPE on the knobs | 2 | 2 |" in report
    assert (campaign / "reports" / "control_arms.png").stat().st_size > 10_000


def test_heldout_split_is_read_only_by_the_heldout_stage(campaign):
    heldout_files = sorted(
        p.relative_to(campaign / "results" / "runs") for p in (campaign / "results" / "runs").rglob("heldout.json")
    )
    assert heldout_files and all(p.parts[0] == "repeat" for p in heldout_files)
    for score in (campaign / "results" / "runs").rglob("score.json"):
        assert json.loads(score.read_text())["split"] == "search_val"
    assert "heldout" not in (campaign / "results" / "campaign_state.json").read_text()
    mentions = ('split("heldout")', "output.heldout", 'split_of("heldout"')  # the layout's, a rule's or a run's
    readers = [
        p.name
        for p in (REPO / "flcampaign" / "workflow" / "rules").glob("*.smk")
        if any(m in p.read_text() for m in mentions)
    ]
    assert sorted(readers) == ["prepare.smk", "score.smk"]
    score_rules = (REPO / "flcampaign" / "workflow" / "rules" / "score.smk").read_text().split("rule heldout:")
    assert not any(m in score_rules[0] for m in mentions)


def test_review_notebook_rebuilds_the_tables(campaign, tmp_path):
    import jupytext

    notebook = jupytext.read(REPO / "notebooks" / "review.py")
    assert sum(cell.cell_type == "code" for cell in notebook.cells) >= 6
    env = {**os.environ, "FLCAMPAIGN_RESULTS": str(campaign / "results"), "REVIEW_OUTPUT": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(REPO / "notebooks" / "review.py")], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    evidence = json.loads((campaign / "results" / "winners.json").read_text())
    assert evidence["entries"][0]["attribution"] in result.stdout
    assert f"{evidence['entries'][0]['repeat']['mean']:.6f}" in result.stdout
    assert (tmp_path / "progress.png").stat().st_size > 10_000 and (tmp_path / "repeats.png").stat().st_size > 10_000


def test_snakemake_html_report_holds_the_results(campaign):
    result = snakemake(campaign, "--report", "report.zip")
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(campaign / "report.zip") as archive:
        names = "\n".join(archive.namelist())
    for item in (
        "results.tsv", "winners.tsv", "progress.png", "repeats.png", "control_arms.png", "lineage.png", "shrinkage.png",
        "report.pdf", "dashboard.html",
    ):  # fmt: skip
        assert item in names


def test_the_campaign_is_seen_in_its_dashboard_tree_and_cost(campaign):
    """The workflow's last products: the final dashboard (no reload) with one table row per ledger row, the tree
    and shrinkage figures in the report, each row's measured cost, and the state's cost per phase."""
    rows = read_cells(campaign / "results" / "results.tsv")
    page = (campaign / "reports" / "dashboard.html").read_text(encoding="utf-8")
    assert page.count('<tr data-status="') == len(rows) and "location.reload()" not in page
    assert "<script src=" not in page
    for plot in ("lineage.png", "shrinkage.png"):
        assert (campaign / "reports" / plot).stat().st_size > 10_000
    report = (campaign / "reports" / "report.md").read_text()
    assert "![Candidate tree](lineage.png)" in report and "(shrinkage.png)" in report
    ran = [row for row in rows if row["runtime_seconds"]]
    assert ran and all(float(row["peak_memory_mb"]) > 0 and row["device"] and row["slot"] for row in ran)
    cost = json.loads((campaign / "results" / "campaign_state.json").read_text())["cost"]
    assert cost["phases"]["search"]["runs"] == len(ran)
    assert "| repeats |" in report and "| held-out scoring |" in report


def test_new_candidate_runs_alone_plus_downstream(campaign):
    before = {p: p.stat().st_mtime_ns for p in (campaign / "results" / "runs").rglob("*.json")}
    copy_candidates(campaign, "0003-median")
    meta_path = campaign / "candidates" / "0003-median" / "candidate.yaml"
    meta_path.write_text(meta_path.read_text().replace("2026-11-24T00:03:00+00:00", "2026-11-25T00:00:00+00:00"))
    plan = planned_jobs(snakemake(campaign, "-n").stdout)
    assert {rule: plan.get(rule) for rule in ("validate", "simulate", "score", "ledger", "select_winners")} == {
        "validate": 1,
        "simulate": 1,
        "score": 1,
        "ledger": 1,
        "select_winners": 1,
    }
    result = snakemake(campaign)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = ("/search/", "/control/", "/repeat/_ctl-best/")  # the controls and the best control's repeats stay
    search_before = {p: t for p, t in before.items() if any(part in str(p) for part in kept)}
    assert {p: p.stat().st_mtime_ns for p in search_before} == search_before
    rows = read_tsv(campaign / "results" / "results.tsv")
    assert [row["candidate"] for row in rows][-1] == "0003-median"
    assert rows[-1]["status"] in ("keep", "discard")


def test_verify_finds_the_finished_campaign_clean_and_a_tampered_model(campaign):
    exe = Path(sys.executable).with_name("flcampaign")
    clean = subprocess.run([str(exe), "verify"], cwd=campaign, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.fullmatch(
        r"verified: \d+ artifacts checked, \d+ scores recomputed \(\d+\.\d s\), no tampering found\n", clean.stdout
    )
    model = campaign / "results" / "runs" / "search" / "0002-fedavgm" / "seed0" / "global_model.pt"
    original, stamp = model.read_bytes(), model.stat()
    try:
        model.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
        tampered = subprocess.run([str(exe), "verify"], cwd=campaign, capture_output=True, text=True, timeout=300)
    finally:  # the campaign fixture is shared: put the model back as it was
        model.write_bytes(original)
        os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    [line] = tampered.stdout.splitlines()
    assert line.startswith(f"TAMPERED {model.relative_to(campaign).as_posix()}: model: hashes to ")
    assert "run.json recorded" in line


def test_repeats_can_vary_the_client_partition(tmp_path):
    """FEMNIST's writers dealt to clients by each repeat seed: a repeat run and its baseline at seed S train and
    are scored on partition S, the search runs on the campaign's own; the held-out rows stay the same rows; the
    records and the report say the partition was varied, and verify checks the partitions' split files."""
    copy_candidates(tmp_path, "0000-baseline")
    femnist = Task.load(REPO / "flcampaign" / "tasks" / "femnist")
    write_null_candidate(tmp_path / "candidates" / "0001-null", femnist, offset=7, order=1)
    (tmp_path / "config.yaml").write_text(
        "task: femnist\nnum_rounds: 1\nselection: {top_k: 1, racing: {contenders: 1, seeds: []}}\n"
        "repeats: {seeds: [42, 43], vary_partition: true}\ncontrols: {n: 0}\n"
    )
    result = snakemake(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    records = Records(tmp_path / "results")
    manifests = {p: json.loads(records.splits_manifest_of(p).read_text()) for p in (None, 42, 43)}
    assert {m["partition_seed"] for m in manifests.values()} == {None, 42, 43}
    assert len({m["heldout_rows_sha256"] for m in manifests.values()}) == 1
    assert manifests[42]["files"]["train/site-1.npz"] != manifests[None]["files"]["train/site-1.npz"]
    expected = {"search": None, "reference": None, "repeat": "seed", "rerun": "seed"}
    runs = records.matching(records.run_dir("*", "*", "*") / "*.json")
    assert {json.loads(p.read_text())["phase"] for p in runs} == set(expected)
    for path in runs:
        record = json.loads(path.read_text())
        wanted = record["seed"] if expected[record["phase"]] else None
        assert record["partition_seed"] == wanted, path
        if record["record"] == "score" and record["state"] == "ok":  # scored on the files of that partition
            split = records.split(record["split"], wanted)
            assert record["split_sha256"] == {
                site: manifests[wanted]["files"][f"{record['split']}/{site}.npz"] for site in record["split_sha256"]
            }, split
    evidence = json.loads(records.winners_json.read_text())
    assert "data.options.grouping_seed = the run's seed, 2 partitions" in evidence["variance_sources"]["varied"]
    assert "data.options.grouping_seed" in (tmp_path / "reports" / "report.md").read_text()
    exe = Path(sys.executable).with_name("flcampaign")
    clean = subprocess.run([str(exe), "verify"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    partition_file = records.split("heldout", 43) / "site-2.npz"
    partition_file.write_bytes(partition_file.read_bytes() + b"\0")
    tampered = subprocess.run([str(exe), "verify"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert tampered.returncode == 1 and "partition-43/heldout/site-2.npz: score: hashes to" in tampered.stdout


def test_varying_the_partition_of_fixed_sites_is_refused(tmp_path):
    copy_candidates(tmp_path, "0000-baseline")
    (tmp_path / "config.yaml").write_text("task: heart_disease\nrepeats: {vary_partition: true}\n")
    result = snakemake(tmp_path, "--dry-run")
    assert result.returncode != 0
    assert "repeats.vary_partition: task heart_disease's clients are fixed sites" in result.stdout + result.stderr


def test_no_simulator_left_running(campaign):
    leftovers = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if str(campaign).encode() in environ:
                leftovers.append(pid)
    assert leftovers == []
