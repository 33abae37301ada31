"""The conda environment used on clusters parses and pins exactly what the project pins."""

import tomllib

import yaml
from conftest import REPO


def project_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        pins[name.lower()] = version
    return pins


def test_conda_env_parses_and_agrees_with_the_project_pins():
    env = yaml.safe_load((REPO / "flcampaign" / "workflow" / "envs" / "flcampaign.yaml").read_text())
    assert env["name"] == "flcampaign"
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    pinned = dict(item.split("==") for item in pip_section if "==" in item)
    assert {name.lower(): version for name, version in pinned.items()} == project_pins()
    assert "-e .." in pip_section  # the project itself, from the checkout
    python = next(item for item in env["dependencies"] if isinstance(item, str) and item.startswith("python="))
    assert python == "python=3.11"


def test_every_rule_uses_the_environment():
    for smk in sorted((REPO / "flcampaign" / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        rules = text.count("\nrule ") + text.startswith("rule ") + text.count("checkpoint ")
        assert text.count('"../envs/flcampaign.yaml"') == rules, smk.name
