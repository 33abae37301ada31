"""A scripted agent runs a short real campaign through the CLI only, under watch mode, to the report.

It scaffolds and edits drafts, finishes them, reads the live status, records a literature event and
links a candidate to it; the user's stop file ends the watch, which builds the final report. Every
simulation is a real NVFlare run (one round) driven by the real workflow.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import copy_candidates, one_round_task
from test_literature import review

from flcampaign.evidence.ledger import read_tsv

pytestmark = pytest.mark.slow
FLCAMPAIGN = Path(sys.executable).with_name("flcampaign")
CONFIG = """\
task: heart_disease
num_rounds: 1
selection: {top_k: 1, racing: {seeds: [1, 2]}}
repeats: {seeds: [42, 43]}
controls: {n: 1}
"""


def cli(campaign: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(FLCAMPAIGN), *args], cwd=campaign, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"flcampaign {' '.join(args)}: {result.stderr}"
    return result


def status(campaign: Path) -> dict:
    return json.loads(cli(campaign, "status", "--json").stdout)


def wait_for(campaign: Path, recorded: set[str], watcher: subprocess.Popen, log: Path, timeout: float = 900) -> dict:
    """Poll the live status, as an agent would, until every id in ``recorded`` is in the ledger."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert watcher.poll() is None, f"watch exited early:\n{log.read_text()}"
        ledger = campaign / "results" / "results.tsv"
        if ledger.is_file() and recorded <= {row["candidate"] for row in read_tsv(ledger)}:
            return status(campaign)
        time.sleep(2)
    raise AssertionError(f"{recorded} not recorded in {timeout} s:\n{log.read_text()}")


def draft(campaign: Path, *args: str) -> Path:
    out = cli(campaign, "new", *args).stdout
    return campaign / "drafts" / out.split()[1]


def edit_meta(folder: Path, **fields) -> None:
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()) | fields))


def edit_client(folder: Path, old: str, new: str) -> None:
    client = folder / "tree" / "client.py"
    text = client.read_text()
    assert old in text
    client.write_text(text.replace(old, new))


def test_scripted_agent_campaign(tmp_path):
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, "0000-baseline")
    one_round_task(campaign)
    (campaign / "config.yaml").write_text(CONFIG)
    assert status(campaign)["next_action"] == "run_baseline"

    log = tmp_path / "watch.log"
    with open(log, "w") as sink:
        watcher = subprocess.Popen(
            [str(FLCAMPAIGN), "watch", "--interval", "1"],
            cwd=campaign,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # While the baseline runs, the agent proposes two candidates from drafts.
        momentum = draft(campaign, "server-momentum", "--family", "fedavgm")
        edit_meta(momentum, title="FedAvgM", hypothesis="server momentum smooths site drift")
        edit_meta(momentum, args={"aggregator": "fedavgm", "server_momentum": 0.9})
        assert "OK: " in cli(campaign, "validate", momentum.name).stdout
        cli(campaign, "new", "--finish", momentum.name)
        decay = draft(campaign, "weight-decay", "--family", "regularise")
        edit_meta(decay, title="SGD weight decay", hypothesis="shrinks weights fitted to tiny sites")
        edit_client(decay, "lr=args.lr)", "lr=args.lr, weight_decay=1e-3)")
        cli(campaign, "new", "--finish", decay.name)
        busy = cli(campaign, "run", check=False)
        assert busy.returncode == 2 and "one workflow per campaign folder" in busy.stderr

        state = wait_for(campaign, {"0000-baseline", momentum.name, decay.name}, watcher, log)
        assert state["counts"]["baseline"] == 1 and state["counts"]["keep"] + state["counts"]["discard"] == 2
        assert state["next_action"] in ("propose_candidate", "run_literature_loop")

        # A literature review, then one candidate of its batch, linked to it and to a proposal.
        (campaign / "review.yaml").write_text(yaml.safe_dump(review()))
        assert "lit-0001 recorded" in cli(campaign, "literature", "add", "review.yaml").stdout
        linked = draft(campaign, "prox-literature", "--literature", "lit-0001", "--proposal", "P3")
        edit_meta(linked, family="fedprox")
        edit_client(linked, "lr=args.lr)", "lr=args.lr, weight_decay=1e-4)")
        cli(campaign, "new", "--finish", linked.name)
        diff = cli(campaign, "diff", linked.name).stdout
        assert "weight_decay=1e-4" in diff and "# files: client.py" in diff

        state = wait_for(campaign, {"lit-0001", linked.name}, watcher, log)
        assert state["counts"]["literature"] == 1
        assert state["next_action"] == "develop_literature_batch"
        assert state["facts"]["literature_batch"]["event"] == "lit-0001"

        (campaign / "STOP").touch()  # the user ends the campaign
        assert watcher.wait(timeout=900) == 0, log.read_text()
    finally:  # the watch and everything it started end here, even when the test failed
        if watcher.poll() is None:
            watcher.terminate()
            try:
                watcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(watcher.pid, signal.SIGKILL)
                watcher.wait()

    output = log.read_text()
    assert output.count("running the search stages") >= 2  # Snakemake may pick up early drops in its first pass
    assert "stop file STOP" in output and "building the final report" in output
    state = status(campaign)
    assert (state["next_action"], state["final_response_allowed"]) == ("final_report", True)
    rows = read_tsv(campaign / "results" / "results.tsv")
    assert [row["candidate"] for row in rows] == ["0000-baseline", momentum.name, decay.name, "lit-0001", linked.name]
    assert rows[3]["status"] == "literature" and rows[3]["score"] is None
    assert rows[4]["literature_event"] == "lit-0001" and rows[4]["kind"] == "source_edit"
    assert all(row["status"] in ("baseline", "keep", "discard", "literature") for row in rows)
    report = (campaign / "reports" / "report.md").read_text()
    assert "### lit-0001: Server-side momentum and proximal terms" in report
    assert f"| {linked.name} |" in report and "## Winners: repeats, held-out checks and controls" in report
    assert (campaign / "reports" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (campaign / "reports" / "progress.png").stat().st_size > 10_000
    assert not (campaign / "drafts").exists() or not list((campaign / "drafts").iterdir())
