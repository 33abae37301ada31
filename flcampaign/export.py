"""A candidate as a standalone NVFlare job (`flcampaign export ID DIR`): the winner leaves the campaign.

The job is exported by the candidate's own ``job.py --export`` with the campaign's fixed budget and the
candidate's knob values, exactly as a run exports it (contained and sandboxed: it is candidate code), and
checked against the budget. The folder carries the site training splits the campaign trained on, a data
bridge that reads them without the campaign's runner, and a README saying where it came from.
"""

import json
import shutil
import tempfile
from pathlib import Path
from string import Template

from flcampaign.evidence.ledger import read_tsv
from flcampaign.execution.runner import export_job
from flcampaign.execution.sandbox import choose
from flcampaign.files import read_json, sha256_file, write_json
from flcampaign.layout import Campaign
from flcampaign.task import DATA_BRIDGE, Task
from flcampaign.workflow import CAMPAIGN_TEMPLATE

STANDALONE_BRIDGE = CAMPAIGN_TEMPLATE / "export" / DATA_BRIDGE


def export(campaign: Campaign, task: Task, config: dict, cid: str, dest: Path, seed: int | None = None) -> Path:
    """Write ``cid``'s job at ``seed`` (the search seed by default) into ``dest``; return the job folder."""
    records, dest = campaign.records, Path(dest)
    validation_path = records.validation(cid)
    if not validation_path.is_file():
        raise ValueError(f"flcampaign export: {cid} has no validation record ({validation_path}); run the campaign")
    validation = read_json(validation_path)
    if validation["state"] != "ok":
        raise ValueError(f"flcampaign export: {cid} is {validation['state']} ({validation.get('reason', '')})")
    train_dir = records.split("train")
    if not train_dir.is_dir():
        raise ValueError(f"flcampaign export: no training splits in {train_dir}; run the campaign first")
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"flcampaign export: {dest} is not empty")
    seed = task.seeds["search"] if seed is None else seed
    sandbox = choose(config["execution"]["sandbox"])
    with tempfile.TemporaryDirectory(prefix="flc-") as scratch:
        exported = export_job(task, validation, records.tree(cid), train_dir, seed, sandbox, Path(scratch))
        job_dir = dest / exported.name
        shutil.copytree(exported, job_dir)
    data_dir = (dest / "data" / "train").resolve()
    shutil.copytree(train_dir, data_dir)
    bridge = Template(STANDALONE_BRIDGE.read_text(encoding="utf-8")).substitute(data_dir=str(data_dir))
    for custom_bridge in job_dir.glob(f"app*/custom/{DATA_BRIDGE}"):
        custom_bridge.write_text(bridge, encoding="utf-8")
    for client_config in job_dir.glob("app*/config/config_fed_client.json"):
        _script_in_custom(client_config)
    (dest / "README.md").write_text(_readme(campaign, task, validation, job_dir, seed), encoding="utf-8")
    return job_dir


def _script_in_custom(client_config: Path) -> None:
    """The exported job names its training script by the path it was exported from, a folder that is gone;
    by its name NVFlare finds it in the job's own ``custom/`` folder."""
    config = read_json(client_config)
    for executor in config.get("executors", []):
        args = executor.get("executor", {}).get("args", {})
        if "task_script_path" in args:
            args["task_script_path"] = Path(args["task_script_path"]).name
    write_json(client_config, config)


def _readme(campaign: Campaign, task: Task, validation: dict, job_dir: Path, seed: int) -> str:
    records, cid = campaign.records, validation["candidate"]
    row = next((r for r in read_tsv(records.ledger) if r["candidate"] == cid), {}) if records.ledger.is_file() else {}
    winners = read_json(records.winners_json) if records.winners_json.is_file() else {}
    entry = next((e for e in winners.get("entries", []) if e.get("candidate") == cid), None)
    evidence = {k: entry.get(k) for k in ("attribution", "summary", "heldout_vs_baseline")} if entry else None
    run = records.run_record("search", cid, seed)
    model = read_json(run).get("model_sha256") if run.is_file() else None
    n = task.budget["n_clients"]
    knobs = json.dumps(task.knob_values(validation.get("args") or {}))
    lines = [
        f"# {cid}, exported from a flcampaign campaign",
        "",
        f"- campaign: `{Path(campaign.root).resolve()}`, task `{task.name}` ({task.title})",
        f"- candidate: `{cid}`; tree sha256 `{validation.get('tree_sha256')}`; budget sha256 "
        f"`{validation.get('budget_sha256')}`; knob values {knobs}",
        f"- fixed budget: {task.budget['n_clients']} clients, {task.budget['num_rounds']} rounds, batch size "
        f"{task.budget['batch_size']}; seed {seed}",
        f"- ledger: status {row.get('status', 'not in the ledger')}, {row.get('metric', task.metric['name'])} "
        f"{row.get('score', '')} on {row.get('split', 'search_val')}",
        f"- the campaign's run at seed {seed}: final model sha256 `{model}`" if model else "",
        f"- evidence (winners.json): {json.dumps(evidence, sort_keys=True)[:1500]}" if evidence else "- evidence: none",
        "",
        "## Run it",
        "",
        "```sh",
        f"nvflare simulator {job_dir.name} -w workspace -n {n} -t {n}",
        "```",
        "",
        f"Each client reads its training split from `data/train/<site>.npz` (the campaign's splits, sha256 of "
        f"site-1: `{sha256_file(job_dir.parent / 'data' / 'train' / 'site-1.npz')}`); set "
        "`FLCAMPAIGN_EXPORT_DATA` to read them from elsewhere. The final global model is "
        "`workspace/server/simulate_job/app_server/FL_global_model.pt`.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)
