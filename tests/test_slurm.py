"""A small campaign through `snakemake --profile profiles/slurm` on a real single-node SLURM.

The cluster (munge, slurmctld, slurmd, two fake GPUs) is brought up by tests/cluster/local_slurm.sh.
The executor plugin lives in a side environment layered over the project's venv, so the project's
own installs never load it (it probes `scontrol` at every Snakemake start).
"""

import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import nvflare
import pytest
from cluster.layered_venv import layered_venv
from conftest import REPO, copy_candidates

from flcampaign.evidence.ledger import read_tsv
from flcampaign.execution import nvflare_settings, nvflare_waits

pytestmark = pytest.mark.slow
LOCAL_SLURM = REPO / "tests" / "cluster" / "local_slurm.sh"
PLUGIN = "snakemake-executor-plugin-slurm==2.8.0"
UNAVAILABLE = re.compile(r"Could not resolve|Failed to fetch|Temporary failure|Unable to locate package")


def why_no_slurm() -> str | None:
    if os.geteuid() != 0:
        return "bringing up SLURM needs root (daemons and Debian packages)"
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        return "no Debian package tools on this machine"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = why_no_slurm()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "SLURM_FAKE_GPUS": "2", "SLURM_NODE_CPUS": "4"}
    start = subprocess.run(
        ["timeout", "-k", "10", "600", "bash", str(LOCAL_SLURM), "start"], env=env, capture_output=True, text=True
    )
    if start.returncode != 0 and UNAVAILABLE.search(start.stderr + start.stdout):
        pytest.skip(f"SLURM packages cannot be installed here: {start.stderr[-300:]}")
    assert start.returncode == 0, start.stderr[-3000:]
    yield
    subprocess.run(["timeout", "-k", "10", "120", "bash", str(LOCAL_SLURM), "stop"], capture_output=True)


@pytest.fixture(scope="module")
def slurm_python(tmp_path_factory) -> Path:
    """A venv that sees the project's packages plus the SLURM executor plugin."""
    python, install = layered_venv(tmp_path_factory.mktemp("venv-slurm"), [PLUGIN])
    if install.returncode != 0 and UNAVAILABLE.search(install.stderr):
        pytest.skip(f"the SLURM executor plugin cannot be installed here: {install.stderr[-300:]}")
    assert install.returncode == 0, install.stderr[-3000:]
    return python


@pytest.fixture(scope="module")
def campaign(cluster, slurm_python, tmp_path_factory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("slurm-campaign")
    copy_candidates(workdir, "0000-baseline", "0002-fedavgm")
    (workdir / "config.yaml").write_text(
        "task: heart_disease\nnum_rounds: 1\nselection: {top_k: 1}\nrepeats: {seeds: [42, 43]}\ncontrols: {n: 0}\n"
    )
    cmd = ["timeout", "-k", "30", "1500", str(slurm_python), "-m", "snakemake", "-s", str(REPO / "Snakefile")]
    cmd += ["-d", str(workdir), "--configfile", str(workdir / "config.yaml"), "--verbose"]
    cmd += ["--profile", str(REPO / "profiles" / "slurm"), "--profile", str(REPO / "tests" / "cluster" / "profile")]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return workdir, result.stdout + result.stderr


def simulation_records(workdir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (workdir / "results" / "runs").rglob("run.json")]
    return [r for r in records if r["state"] == "ok"]


def test_campaign_completes_on_slurm(campaign):
    workdir, _ = campaign
    statuses = {row["candidate"]: row["status"] for row in read_tsv(workdir / "results" / "results.tsv")}
    assert statuses["0000-baseline"] == "baseline" and statuses["0002-fedavgm"] in ("keep", "discard")
    assert (workdir / "results" / "winners.tsv").is_file() and (workdir / "reports" / "report.pdf").is_file()
    assert len(simulation_records(workdir)) == 8  # 2 search + 2 x 2 repeats + 1 same-seed re-run + compute reference


def simulate_submissions(log: str) -> dict[str, list[str]]:
    """The sbatch calls of each simulation, keyed by its Snakemake target job."""
    submissions: dict[str, list[str]] = {}
    for line in log.splitlines():
        target = re.search(r"--target-jobs '(simulate:[^']+)'", line)
        if "sbatch call:" in line and target:
            submissions.setdefault(target.group(1), []).append(line)
    return submissions


def test_every_simulation_went_through_sbatch_with_one_gpu(campaign):
    workdir, log = campaign
    calls = [line for line in log.splitlines() if "sbatch call:" in line]
    submissions = simulate_submissions(log)
    assert len(submissions) == 8
    assert all("--gpus=1" in call for target_calls in submissions.values() for call in target_calls)
    resubmitted = {target: len(calls) for target, calls in submissions.items() if len(calls) > 1}
    if resubmitted:  # the profile's `retries: 1` covers a failed job once, and says so in the log
        assert max(resubmitted.values()) == 2 and "Trying to restart job" in log, resubmitted
        failed_logs = [p.read_text()[-1500:] for p in (workdir / "results/logs/slurm/rule_simulate").rglob("*.log")]
        warnings.warn(f"SLURM re-ran {sorted(resubmitted)} once; its kept logs: {failed_logs}", stacklevel=1)
    assert not any("--gpus" in c for c in calls if "rule_simulate" not in c)
    job_ids = {r["scheduler"]["SLURM_JOB_ID"] for r in simulation_records(workdir)}
    assert len(job_ids) == 8
    # the runner's NVFlare settings and capped waits hold on the cluster as on one machine
    expected = {"nvflare": nvflare.__version__, **nvflare_settings.DEFAULTS, "capped_waits": nvflare_waits.record()}
    assert all(r["nvflare_settings"] == expected for r in simulation_records(workdir))


def test_each_simulation_saw_its_own_gpu(campaign):
    workdir, _ = campaign
    records = simulation_records(workdir)
    for record in records:
        visible = record["scheduler"]["CUDA_VISIBLE_DEVICES"]
        assert visible in ("0", "1") and record["device"] == visible and record["slot"] == f"gpu{visible}#0"
    overlapping = [
        (a, b)
        for i, a in enumerate(records)
        for b in records[i + 1 :]
        if a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
    ]
    assert overlapping, "two fake GPUs should let simulations run side by side"
    assert all(a["device"] != b["device"] for a, b in overlapping)
