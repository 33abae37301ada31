"""Folders that once stopped a whole campaign, dropped into a real one beside good candidates.

Each becomes one ``invalid`` ledger row naming its rule; the good candidates' rows, selection, the
winners' statistics and the report go on, nothing recorded before is lost, and ``verify`` finds the
campaign clean.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, copy_candidates

from flcampaign.evidence.ledger import read_tsv

pytestmark = pytest.mark.slow

GOOD = ("0000-baseline", "0005-fedadam")  # 0005 links literature event lit-0001
GOOD_METADATA = (REPO / "candidates" / "0002-fedavgm" / "candidate.yaml").read_text()
LEVELS = "abcdefghi"  # nine levels of nine aliases each: 9**9 strings once expanded
ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{child}: &{child} [{', '.join([f'*{parent}'] * 9)}]\n" for parent, child in zip(LEVELS, LEVELS[1:], strict=False)
)
YAML = "candidate.yaml"
# folder name -> (candidate.yaml bytes, rule, file named in the reason)
BAD_METADATA = {
    "h-deep-nesting": (b"[" * 60_000, "candidate-yaml", YAML),  # within the size cap: the depth rule
    "h-non-utf8": (GOOD_METADATA.encode().replace(b"FedAvgM", b"FedAvg\xff"), "candidate-yaml", YAML),
    "h-alias-bomb": (ALIAS_BOMB.encode(), "candidate-yaml", YAML),
    "h-long-ref": ((GOOD_METADATA + f"literature:\n  - ref: '{'r' * 20_000}'\n").encode(), "candidate-schema", YAML),
    "h-5mb-ref": ((GOOD_METADATA + f"literature:\n  - ref: '{'r' * 5_000_000}'\n").encode(), "candidate-yaml", YAML),
    "h-20mb-title": (GOOD_METADATA.replace("title: '", "title: '" + "T" * 20_000_000).encode(), "candidate-yaml", YAML),
}
BAD_NAMES = {  # a well-formed candidate under a name that cannot be an id -> its ledger row
    "lit-0001": "candidates/lit-0001",
    "baseline": "candidates/baseline",
    "dotted.name": "candidates/dotted.name",
    "non-ascii-\u00e9": "candidates/non-ascii-\\xe9",
    "tab\tname": "candidates/tab\\tname",
    "_ctl-forged": "candidates/_ctl-forged",
}


def drop_hostile(campaign: Path) -> None:
    candidates = campaign / "candidates"
    for name, (metadata, _, _) in BAD_METADATA.items():
        (candidates / name).mkdir()
        (candidates / name / "candidate.yaml").write_bytes(metadata)
    (candidates / "h-patch-dir" / "patches" / "001-x.patch").mkdir(parents=True)  # a folder named like a patch
    (candidates / "h-patch-dir" / "candidate.yaml").write_text(GOOD_METADATA)
    for name in BAD_NAMES:
        (candidates / name).mkdir()
        (candidates / name / "candidate.yaml").write_text(GOOD_METADATA)


def snakemake(campaign: Path, *targets: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(campaign), *targets]
    cmd += ["--cores", "2", "--resources", "gpu=2", "--keep-going"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)


def test_hostile_folders_become_invalid_rows_and_the_campaign_completes(tmp_path):
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, *GOOD)
    (campaign / "config.yaml").write_text(
        "task: heart_disease\nnum_rounds: 1\n"
        "selection: {top_k: 1, racing: {seeds: []}}\n"
        "repeats: {seeds: [42, 43]}\n"
        "controls: {n: 0, tpe: {enabled: false}}\n"
    )
    first = snakemake(campaign, "results/results.tsv")
    assert first.returncode == 0, first.stderr[-3000:]
    recorded = {row["candidate"]: row for row in read_tsv(campaign / "results" / "results.tsv")}
    assert set(recorded) == {*GOOD, "lit-0001"}

    drop_hostile(campaign)
    result = snakemake(campaign)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["candidate"]: row for row in read_tsv(campaign / "results" / "results.tsv")}
    assert set(rows) == {*recorded, *BAD_METADATA, "h-patch-dir", *BAD_NAMES.values()}
    for cid, row in recorded.items():  # nothing recorded before is lost or changed
        assert {k: v for k, v in rows[cid].items() if k != "best_so_far"} == {
            k: v for k, v in row.items() if k != "best_so_far"
        }, cid
    assert rows["lit-0001"]["kind"] == "literature"  # the event keeps its row; the folder has its own
    for name, (_, rule, file) in BAD_METADATA.items():
        assert rows[name]["status"] == "invalid", name
        assert f"candidate {name}: {file}: rule {rule}: " in rows[name]["failure_reason"], rows[name]["failure_reason"]
        assert len(rows[name]["failure_reason"]) < 1_000  # a reason quotes no megabytes of the offending value
    assert "patches/001-x.patch: rule candidate-layout: " in rows["h-patch-dir"]["failure_reason"]
    for row_id in BAD_NAMES.values():
        assert rows[row_id]["status"] == "invalid"
        assert f"candidate folder {row_id}: rule candidate-id: " in rows[row_id]["failure_reason"]
    assert max(len(cell) for cell in (campaign / "results" / "results.tsv").read_text().split("\t")) < 10_000

    # selection, the winners' statistics and the report went on
    assert (campaign / "results" / "winners.json").is_file()
    report = (campaign / "reports" / "report.md").read_text()
    assert "candidates/dotted.name" in report and "rule candidate-id" in report
    assert (campaign / "reports" / "report.pdf").stat().st_size > 10_000

    exe = Path(sys.executable).with_name("flcampaign")
    status = subprocess.run([str(exe), "status"], cwd=campaign, capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr
    verify = subprocess.run([str(exe), "verify"], cwd=campaign, capture_output=True, text=True, timeout=900)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "no tampering found" in verify.stdout
