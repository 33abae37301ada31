"""JSON Schemas (YAML) of the config, candidate, task-profile and record files, shipped with the workflow's rules."""

from functools import cache
from pathlib import Path

import jsonschema

from flcampaign.files import read_yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "workflow" / "rules" / "schemas"


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = read_yaml(SCHEMA_DIR / f"{name}.schema.yaml")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_errors(name: str, document: object) -> list[str]:
    """Human-readable messages, each with the path of the offending key."""
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(top level)'}: {e.message}" for e in errors]
