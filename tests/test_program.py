"""program.md is rendered from the task profile and config.yaml, and the committed copy never drifts."""

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from flcampaign.agent import program
from flcampaign.config import load_config
from flcampaign.files import read_yaml
from flcampaign.task import Task
from flcampaign.workflow import task_of


def campaign_config(tmp_path: Path, **overrides) -> dict:
    """The bundled config.yaml with some keys replaced, loaded as the CLI loads it (defaults filled)."""
    document = read_yaml(REPO / "config.yaml") | overrides
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(path)


def task_copy(tmp_path: Path, edit) -> Task:
    """The heart_disease profile in a scratch task folder, changed by ``edit`` first."""
    profile = read_yaml(REPO / "flcampaign" / "tasks" / "heart_disease" / "profile.yaml")
    edit(profile)
    root = tmp_path / "heart_disease"
    root.mkdir()
    (root / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return Task.load(root)


@pytest.fixture(scope="module")
def bundled() -> tuple[Task, dict, str]:
    config = load_config(REPO / "config.yaml")
    task = task_of(config)
    return task, config, program.render(task, config, REPO)


def test_committed_program_matches_the_profile_and_config(bundled):
    task, config, text = bundled
    committed = (REPO / "program.md").read_text(encoding="utf-8")
    assert committed == text, "program.md differs from the task profile and config.yaml: run `flcampaign program`"
    assert program.is_current(task, config, REPO / "program.md")


def test_every_surface_entry_of_the_profile_appears(bundled):
    task, _, text = bundled
    for path in (*task.surface["editable"], *task.surface["creatable"], *task.surface["fixed"]):
        assert f"`{path}`" in text
    for line in task.surface["forbidden"]:
        assert f"- {line}\n" in text
    for name, spec in task.knobs.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` | {spec['type']} |"))
        for key in ("min", "max", "default"):
            if key in spec:
                assert str(spec[key]) in row, (name, key, row)
        for choice in spec.get("choices", []):
            assert f"`{choice}`" in row
        assert ("| yes |" in row) == bool(spec.get("log_scale"))
    for key, value in task.budget.items():
        assert f"| `{key}` | {value} |" in text
    assert task.title in text
    assert f"{task.metric['name']} ({task.metric['kind']})" in text


def test_default_guard_thresholds_appear(bundled):
    _, config, text = bundled
    guard = config["guard"]
    for key in ("plateau", "material_gain", "literature_batch", "family_repeat", "hard_crash"):
        assert f"| `{key}` | {guard[key]} |" in text
    assert "| `max_candidates` | null (no cap) |" in text
    assert f"stop file `{guard['stop_file']}` present" in text
    assert f"by more than `ledger.keep_margin` = {config['ledger']['keep_margin']}" in text


def test_changed_guard_thresholds_change_the_rules(tmp_path, heart_task):
    guard = {
        "plateau": 5,
        "material_gain": 0.01,
        "literature_batch": 4,
        "family_repeat": 3,
        "hard_crash": 2,
        "max_candidates": 40,
        "stop_file": "HALT",
    }
    config = campaign_config(tmp_path, guard=guard, ledger={"keep_margin": 0.002})
    text = program.render(heart_task, config)
    for key, value in guard.items():
        shown = f"`{value}`" if key == "stop_file" else value
        assert f"| `{key}` | {shown} |" in text
    assert "stop file `HALT` present" in text and "`STOP`" not in text
    assert "attempts reach the cap of 40" in text
    assert "the last 2 attempts all `crash` or `timeout`" in text
    assert "fewer than 4 scored source-edited candidates" in text
    assert "the last 3 scored attempts are argument-only" in text
    assert "5 scored candidates since the last material gain (> 0.01 over the best)" in text
    assert "Develop the batch: 4 source-edited candidates" in text
    assert "`ledger.keep_margin` = 0.002" in text


def test_changed_profile_changes_the_rendered_numbers(tmp_path, bundled):
    def edit(profile: dict) -> None:
        profile["budget"]["timeout_seconds"] = 1234
        profile["budget"]["batch_size"] = 16
        profile["seeds"]["search"] = 7
        profile["surface"]["knobs"]["lr"]["max"] = 0.05
        profile["surface"]["knobs"]["mu"] = {"type": "float", "min": 0.0, "max": 0.5, "default": 0.01}
        profile["surface"]["creatable"].append("fl_prox_*.py")
        profile["surface"]["forbidden"].append("calling the network")

    _, config, before = bundled
    text = program.render(task_copy(tmp_path, edit), config)
    assert text != before
    assert "| `timeout_seconds` | 1234 |" in text and "| `batch_size` | 16 |" in text
    assert "every search run uses seed 7" in text
    assert "| `lr` | float | 0.0001 | 0.05 |" in text
    assert "| `mu` | float | 0.0 | 0.5 | — | no | `0.01` |" in text
    assert "`fl_prox_*.py`" in text and "- calling the network\n" in text


def test_round_override_is_stated_openly(tmp_path):
    config = campaign_config(tmp_path, num_rounds=3)
    text = program.render(task_of(config), config)
    assert "| `num_rounds` | 3 (config.yaml `num_rounds` override) |" in text
    assert "config.yaml sets the rounds to 3 (`num_rounds: 3`)" in text
    assert "keeps the task profile's rounds" not in text


def test_repeat_and_race_seeds_follow_the_config(tmp_path, heart_task):
    config = campaign_config(tmp_path, repeats={"seeds": [7, 8, 9]}, selection={"racing": {"seeds": [11, 12]}})
    text = program.render(heart_task, config)
    assert "repeats the winners on seeds 7, 8, 9" in text and "more search seeds (11, 12)" in text
    off = campaign_config(tmp_path, selection={"racing": {"seeds": []}})
    assert "more search seeds (none: racing is off)" in program.render(heart_task, off)


def test_write_is_checked_by_is_current(tmp_path, bundled):
    task, config, text = bundled
    out = tmp_path / "program.md"
    assert not program.is_current(task, config, out)
    program.write(task, config, out)
    text = program.render(task, config, tmp_path)  # the task's sources named from where program.md is
    assert out.read_text(encoding="utf-8") == text
    assert program.is_current(task, config, out)
    out.write_text(text.replace("| `plateau` | 8 |", "| `plateau` | 80 |"), encoding="utf-8")
    assert not program.is_current(task, config, out)
