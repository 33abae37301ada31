"""The ``flcampaign`` command: run the campaign, check a candidate, read the campaign state."""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from flcampaign.candidate import ancestry
from flcampaign.contract import validate_candidate
from flcampaign.errors import ContractViolation
from flcampaign.files import read_json, read_yaml
from flcampaign.workflow import REPO_ROOT, task_of


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) the campaign in the current directory through Snakemake."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO_ROOT / "Snakefile"), "--profile", args.profile]
    cmd += ["--configfile", str(Path(args.config).resolve()), *args.snakemake_args]
    return subprocess.call(cmd)


def cmd_validate(args: argparse.Namespace) -> int:
    """Static contract checks of one candidate (and its parents), without simulating."""
    task = task_of(read_yaml(Path(args.config)))
    candidates_dir = Path(args.candidates)
    with tempfile.TemporaryDirectory(prefix="flc-validate-") as scratch:
        try:
            chain = list(reversed(ancestry(candidates_dir, args.candidate)))
        except ContractViolation:
            chain = []
        for cid in [*chain, args.candidate]:
            record = validate_candidate(candidates_dir, cid, task, Path(scratch))
    if record["state"] == "ok":
        changed = ", ".join(record["changed_files"]) or "no source change"
        print(f"OK: {args.candidate} passes every static check ({changed})")
        return 0
    print(f"INVALID: {record['reason']}", file=sys.stderr)
    return 2


def cmd_status(args: argparse.Namespace) -> int:
    """The campaign state the ledger stage wrote, for people or (``--json``) for agents."""
    path = Path(args.results) / "campaign_state.json"
    if not path.is_file():
        print(f"no campaign state yet ({path} is missing): run the campaign first", file=sys.stderr)
        return 1
    state = read_json(path)
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in state["counts"].items() if v)
    print(f"task {state['task']}: {counts}")
    for label in ("baseline", "best"):
        entry = state.get(label)
        print(
            f"{label}: " + (f"{entry['candidate']} {state['metric']['name']}={entry['score']:.4f}" if entry else "none")
        )
    print(f"next action: {state['next_action']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flcampaign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--profile", default=str(REPO_ROOT / "profiles" / "local"))
    run.add_argument("--config", default="config.yaml")
    run.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="passed to snakemake")
    run.set_defaults(func=cmd_run)
    validate = sub.add_parser("validate", help=cmd_validate.__doc__)
    validate.add_argument("candidate")
    validate.add_argument("--candidates", default="candidates")
    validate.add_argument("--config", default="config.yaml")
    validate.set_defaults(func=cmd_validate)
    status = sub.add_parser("status", help=cmd_status.__doc__)
    status.add_argument("--json", action="store_true", help="machine-readable output for agents")
    status.add_argument("--results", default="results")
    status.set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
