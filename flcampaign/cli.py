"""The ``flcampaign`` command: scaffold and check candidates, record literature, run and watch the campaign.

Run it from the campaign folder (the one holding config.yaml and candidates/).
"""

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from flcampaign import export, verify
from flcampaign.agent import agent_shell, drafts, program
from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import live_state
from flcampaign.agent.watch import (
    CampaignBusy,
    campaign_lock,
    release_stale_locks,
    run_workflow,
    snakemake_command,
    watch,
)
from flcampaign.config import defaults, load_config
from flcampaign.contract import literature
from flcampaign.contract.candidate import parent_of
from flcampaign.contract.validation import validate_chain
from flcampaign.errors import ContractViolation
from flcampaign.evidence import calibration, racing
from flcampaign.evidence.adaptive_seeds import NO_ADDED_SEEDS, AdaptiveSettings
from flcampaign.evidence.cost import HELDOUT_SCORING, PHASE_NAMES
from flcampaign.execution.sandbox import choose
from flcampaign.files import write_json
from flcampaign.layout import DRAFTS_DIR, Campaign
from flcampaign.onboarding import campaign_folder, job_import
from flcampaign.task import Task
from flcampaign.workflow import PROFILES, bundled_tasks, task_of


def _campaign(args: argparse.Namespace) -> tuple[dict, Task]:
    config = load_config(Path(args.config))
    return config, task_of(config)


def cmd_init(args: argparse.Namespace) -> int:
    """Write a new campaign folder around a bundled task or an imported NVFlare job (read, never run)."""
    folder = Path(args.folder)
    if args.task:
        written = campaign_folder.init(folder, args.task)
        print(f"wrote a campaign on {args.task} in {folder}: " + ", ".join(str(p.relative_to(folder)) for p in written))
        print(f"next: cd {folder} && flcampaign run   (or: snakemake --profile profiles/local)")
        return 0
    imported, task_dir = campaign_folder.init_from_job(folder, Path(args.from_job))
    print(f"imported {args.from_job} ({imported.recipe}) into {task_dir}; nothing of it was run")
    print(job_import.report(imported, job_import.unresolved_of(task_dir)))
    print(f"next: resolve each entry of {task_dir / 'profile.yaml'}'s unresolved list and make the changes above;")
    print(f"`flcampaign validate 0000-baseline` (in {folder}) refuses the task until then, naming what is left")
    return 0


def _profile(args: argparse.Namespace) -> str:
    """The profile asked for, else the campaign's own local profile, else the installed one."""
    if args.profile:
        return args.profile
    own = Path("profiles") / "local"
    return str(own if own.is_dir() else PROFILES / "local")


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) the whole campaign once through Snakemake."""
    cmd = snakemake_command(_profile(args), Path(args.config), (), args.snakemake_args, Path.cwd())
    with campaign_lock(Path.cwd()):
        release_stale_locks(_profile(args), Path(args.config), Path.cwd())
        return run_workflow(cmd, Path.cwd())


def cmd_watch(args: argparse.Namespace) -> int:
    """Keep the campaign running while candidates are dropped; stop on the stop file or the guard's stop."""
    config, task = _campaign(args)
    with campaign_lock(Path.cwd()):
        release_stale_locks(_profile(args), Path(args.config), Path.cwd())
        return watch(
            Path.cwd(),
            task,
            GuardConfig.from_config(config),
            lambda targets: run_workflow(
                snakemake_command(_profile(args), Path(args.config), targets, args.snakemake_args, Path.cwd()),
                Path.cwd(),
            ),
            interval=args.interval,
            final_report=not args.no_final_report,
            say=lambda line: print(line, flush=True),
        )


def cmd_new(args: argparse.Namespace) -> int:
    """Scaffold a draft from a parent (default: the current best), or finish or abandon a draft."""
    _, task = _campaign(args)
    if args.abandon:
        drafts.abandon(Path.cwd(), args.abandon)
        print(f"abandoned draft {args.abandon}")
        return 0
    if args.finish:
        folder = drafts.finish(Path.cwd(), args.finish, task)
        changed = [p.name for p in sorted((folder / "patches").glob("*.patch"))]
        print(f"candidate {folder.name} written to candidates/{folder.name}/ ({', '.join(changed) or 'args only'})")
        return 0
    if not args.slug:
        raise ValueError("new: give a slug for the draft, or --finish ID / --abandon ID")
    draft = drafts.new(Path.cwd(), args.slug, task, args.parent, args.family, args.literature, args.proposal)
    parent = parent_of(draft)
    print(f"draft {draft.name} (parent {parent}): edit {DRAFTS_DIR}/{draft.name}/tree/ and candidate.yaml,")
    print(f"then `flcampaign validate {draft.name}` and `flcampaign new --finish {draft.name}`")
    return 0


def _record(cid: str, task: Task, scratch: Path) -> dict:
    """Validation record of a finished candidate, or of a draft built as it would be finished."""
    if (Path.cwd() / DRAFTS_DIR / cid).is_dir() and not (Path("candidates") / cid).is_dir():
        try:
            return drafts.check(Path.cwd(), cid, task)
        except ContractViolation as violation:
            return {"state": "invalid", "reason": str(violation)}
    if not (Path("candidates") / cid).is_dir():
        raise ValueError(f"{cid}: no such candidate (candidates/{cid}) or draft ({DRAFTS_DIR}/{cid})")
    return validate_chain(Path("candidates"), cid, task, scratch)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a candidate as a standalone NVFlare job folder: fixed budget, its knob values, data and provenance."""
    config, task = _campaign(args)
    job_dir = export.export(Campaign(), task, config, args.candidate, Path(args.folder), args.seed)
    print(f"exported {args.candidate} to {job_dir} (see {Path(args.folder) / 'README.md'})")
    n = task.budget["n_clients"]
    print(f"run it: cd {args.folder} && nvflare simulator {job_dir.name} -w workspace -n {n} -t {n}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Static contract checks of a candidate or draft (and its parents), without simulating."""
    _, task = _campaign(args)
    with tempfile.TemporaryDirectory(prefix="flc-validate-") as scratch:
        record = _record(args.candidate, task, Path(scratch))
    if record["state"] == "ok":
        changed = ", ".join(record["changed_files"]) or "no source change"
        print(f"OK: {args.candidate} passes every static check ({changed})")
        return 0
    print(f"INVALID: {record['reason']}", file=sys.stderr)
    return 2


def cmd_diff(args: argparse.Namespace) -> int:
    """A candidate's effective change against the task's baseline: knob values and source diff."""
    _, task = _campaign(args)
    with tempfile.TemporaryDirectory(prefix="flc-diff-") as scratch:
        record = _record(args.candidate, task, Path(scratch))
        if record["state"] != "ok":
            print(f"INVALID: {record['reason']}", file=sys.stderr)
            return 2
        diff = next(Path(scratch).rglob(f"candidates/{args.candidate}/effective.diff"), None)
        text = diff.read_text(encoding="utf-8") if diff else ""
    defaults = task.knob_values({})
    changed = {k: v for k, v in record["effective_args"].items() if v != defaults.get(k)}
    print(f"# {args.candidate} against the {task.name} baseline")
    print("# knobs: " + (", ".join(f"{k}={v!r} (baseline {defaults[k]!r})" for k, v in changed.items()) or "unchanged"))
    print("# files: " + (", ".join(record["changed_files"]) or "unchanged"))
    sys.stdout.write(text)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The campaign state now: counts, best, the guard's decision and next action (``--json`` for agents)."""
    config, task = _campaign(args)
    state = live_state(task, Path.cwd(), GuardConfig.from_config(config))
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in state["counts"].items() if v) or "no rows yet"
    print(f"task {state['task']}: {counts}")
    for label in ("baseline", "best"):
        entry = state.get(label)
        print(
            f"{label}: " + (f"{entry['candidate']} {state['metric']['name']}={entry['score']:.4f}" if entry else "none")
        )
    if state["queued"]:
        print(f"queued (not in the ledger yet): {', '.join(state['queued'])}")
    print(f"guard: {state['decision']} - {state['reason']}")
    print(f"next action: {state['next_action']}")
    totals = state["cost"]["totals"]
    if totals["runs"]:
        phases = ", ".join(
            f"{PHASE_NAMES[name]} {spent['runs']}"
            for name, spent in state["cost"]["phases"].items()
            if name != HELDOUT_SCORING
        )
        print(f"cost: {totals['runs']} runs ({phases}), {totals['wall_seconds']:.0f} s wall, "
              f"{totals['cpu_seconds']:.0f} CPU-s, {totals['scoring_seconds']:.0f} s scoring")  # fmt: skip
    dashboard = Campaign().dashboard
    if dashboard.is_file():
        print(f"dashboard: {dashboard}")
    if state.get("sandbox_notice"):
        print(f"WARNING: {state['sandbox_notice']}")
    return 0


def cmd_literature(args: argparse.Namespace) -> int:
    """Record a literature event (sources, challenge and proposal cards), or print a template to fill."""
    if args.action == "template":
        sys.stdout.write(literature.TEMPLATE)
        return 0
    if not args.file:
        raise ValueError("literature add: give the review file (start from `flcampaign literature template`)")
    event_id, path = literature.add(Path(args.file), Path.cwd() / literature.LITERATURE_DIR)
    event = literature.find(path.parent, event_id)
    if event is None:
        raise FileNotFoundError(f"literature event {event_id} is no longer in {path.parent}")
    ranked = ", ".join(f"{p['id']} ({p['total']})" for p in literature.ranked_proposals(event))
    print(f"literature event {event_id} recorded in {literature.LITERATURE_DIR}/{path.name}; proposals: {ranked}")
    print(f"link its batch with `flcampaign new <slug> --literature {event_id} --proposal <P>`")
    return 0


def cmd_program(args: argparse.Namespace) -> int:
    """Render program.md (the agent's control plane) from the task profile and config.yaml."""
    config, task = _campaign(args)
    out = Path(args.out)
    if args.check:
        if program.is_current(task, config, out):
            print(f"{out} is current")
            return 0
        print(f"{out} differs from the task profile and config: run `flcampaign program`", file=sys.stderr)
        return 1
    program.write(task, config, out)
    print(f"wrote {out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-hash a finished campaign's artifacts, recompute its scores with the trusted evaluator and rebuild its
    ledger (exit 1 on tampering), never importing candidate code (a candidate's own model class runs only in the
    contained prediction step): the ledger and report are only as trustworthy as the files they were built from."""
    config, task = _campaign(args)
    outcome = verify.audit(Path.cwd(), task, config)
    scope = (
        f"{len(outcome.checked)} artifacts checked, {outcome.recomputed} scores recomputed ({outcome.seconds:.1f} s)"
    )
    if args.json:
        print(json.dumps([finding.as_dict() for finding in outcome.findings], indent=2))
    elif outcome.clean:
        print(f"verified: {scope}, no tampering found")
    else:
        for finding in outcome.findings:
            print(f"TAMPERED {finding.artifact}: {finding.check}: {finding.detail}")
        print(f"{len(outcome.findings)} finding(s) in {scope}", file=sys.stderr)
    for why, count in sorted(outcome.not_recomputed.items()):
        print(f"not recomputed: {count} ok score(s), hash-checked only: {why}", file=sys.stderr)
    return 0 if outcome.clean else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Error rates of the decision rules on a seed study's runs (bench/seed_study.py): how often each rule calls
    a null change and each known change a gain when a campaign repeats on --seeds seeds; with --campaigns, whole
    campaigns with one search run per candidate, with the default race (``selection.racing``), and with the race
    and --added-seeds adaptive seeds for promising winners (``repeats.adaptive``)."""
    try:
        study = calibration.SeedStudy.from_dict(json.loads(Path(args.study).read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{args.study}: not a seed study ({error})") from None
    result = calibration.calibrate(study, args.seeds, known_effects=tuple(args.known_effect))
    print(calibration.render(result))
    if args.campaigns:
        effects = tuple(args.known_effect)
        selection = defaults(study.task)["selection"] | {"top_k": args.top_k}
        raced = racing.RaceSettings.from_config(selection)
        one_run = dataclasses.replace(raced, seeds=())
        added = AdaptiveSettings(seeds=tuple(range(args.added_seeds)), batch=args.added_batch)
        plans = [(one_run, NO_ADDED_SEEDS), (raced, NO_ADDED_SEEDS)] + ([(raced, added)] if added.enabled else [])
        result["campaigns"] = []
        for race, adaptive in plans:
            try:
                rates = calibration.campaign_rates(study, args.seeds, args.campaigns, race, effects, adaptive=adaptive)
            except ValueError as error:  # a small study cannot also hold the added seeds
                print(f"\nwhole campaigns with {len(adaptive.seeds)} added seeds left out: {error}")
                continue
            result["campaigns"].append(rates)
            print()
            print(calibration.render_campaigns(rates))
    if args.out:
        write_json(Path(args.out), result)
    return 0


def cmd_agent_shell(args: argparse.Namespace) -> int:
    """Run an agent's command where it sees candidates, drafts, literature, program.md and the status, but
    not the split files or the raw data (bubblewrap): an agent that can read the labels can copy them."""
    command = args.agent_command[1:] if args.agent_command[:1] == ["--"] else args.agent_command
    if not command:
        raise ValueError("agent-shell: give the agent's command after --, e.g. flcampaign agent-shell -- claude")
    _, task = _campaign(args)
    sandbox = choose("auto")
    try:
        return agent_shell.run(Path.cwd(), task, command, sandbox, network=not args.no_network, home=not args.no_home)
    except agent_shell.AgentShellUnavailable as error:
        raise ValueError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flcampaign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, **kwargs) -> argparse.ArgumentParser:
        sub_parser = sub.add_parser(name, help=func.__doc__, description=func.__doc__, **kwargs)
        sub_parser.add_argument("--config", default="config.yaml", help="the campaign configuration")
        sub_parser.set_defaults(func=func)
        return sub_parser

    for name, func in (("run", cmd_run), ("watch", cmd_watch)):
        workflow = command(name, func)
        workflow.add_argument(
            "--profile",
            default=None,
            help="Snakemake profile (default: the campaign's profiles/local, else the installed one)",
        )
        if name == "watch":
            workflow.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
            workflow.add_argument(
                "--no-final-report", action="store_true", help="stop without the winners stage and the report"
            )
        workflow.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="passed to snakemake")
    init = command("init", cmd_init)
    init.add_argument("folder", help="the new campaign folder (created; must not hold a campaign)")
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", choices=bundled_tasks(), help="a bundled task, copied in")
    source.add_argument("--from-job", metavar="JOB_PY", help="import an NVFlare Recipe-API job.py (read, never run)")
    exp = command("export", cmd_export)
    exp.add_argument("candidate", help="a validated candidate's id")
    exp.add_argument("folder", help="where the job folder, its data and README.md go (new or empty)")
    exp.add_argument("--seed", type=int, help="the seed the job runs with (default: the task's search seed)")
    new = command("new", cmd_new)
    new.add_argument("slug", nargs="?", help="short name; the id becomes NNNN-slug")
    new.add_argument("--parent", help="candidate id or 'baseline' (default: the current best)")
    new.add_argument("--family", help="algorithm family slug (default: the parent's)")
    new.add_argument("--literature", metavar="EVENT", help="link to a literature event (lit-NNNN)")
    new.add_argument("--proposal", help="pre-fill title, hypothesis and sources from this proposal card")
    done = new.add_mutually_exclusive_group()
    done.add_argument("--finish", metavar="ID", help="turn the edited draft into candidates/ID/")
    done.add_argument("--abandon", metavar="ID", help="delete the draft")
    for name, func in (("validate", cmd_validate), ("diff", cmd_diff)):
        command(name, func).add_argument("candidate", help="candidate or draft id")
    command("status", cmd_status).add_argument("--json", action="store_true", help="machine-readable, for agents")
    lit = command("literature", cmd_literature)
    lit.add_argument("action", choices=["add", "template"])
    lit.add_argument("file", nargs="?", help="the filled review (YAML) for add")
    prog = command("program", cmd_program)
    prog.add_argument("--out", default="program.md")
    prog.add_argument("--check", action="store_true", help="only report whether the file is current")
    command("verify", cmd_verify).add_argument("--json", action="store_true", help="findings as a JSON list")
    cal = command("calibrate", cmd_calibrate)
    cal.add_argument("study", help="a seed study's JSON (bench/seed_study.py)")
    cal.add_argument("--seeds", type=int, default=5, help="seeds per campaign's repeat stage")
    cal.add_argument(
        "--known-effect",
        type=float,
        action="append",
        default=[],
        help="also each change's runs shifted to this mean gain (its own noise, a known effect); repeatable",
    )
    cal.add_argument(
        "--campaigns",
        type=int,
        metavar="CANDIDATES",
        help="also simulate whole campaigns of this many candidates (selection included) from the study's runs",
    )
    cal.add_argument("--top-k", type=int, default=2, help="winners repeated per simulated campaign")
    cal.add_argument(
        "--added-seeds", type=int, default=10, help="with --campaigns: at most this many seeds added to a winner"
    )
    cal.add_argument("--added-batch", type=int, default=5, help="with --campaigns: seeds added per step")
    cal.add_argument("--out", help="also write the rates as JSON here")
    shell = command("agent-shell", cmd_agent_shell)
    shell.add_argument("--no-network", action="store_true", help="no network either (an agent served locally)")
    shell.add_argument("--no-home", action="store_true", help="do not mount the user's home (agent settings)")
    shell.add_argument("agent_command", nargs=argparse.REMAINDER, help="-- and the agent's command")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ContractViolation, literature.LiteratureError, CampaignBusy, ValueError, FileNotFoundError) as error:
        print(f"flcampaign {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
