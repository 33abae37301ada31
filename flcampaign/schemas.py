"""JSON Schemas (YAML) of the config, candidate, task-profile and record files, shipped with the workflow's rules."""

from functools import cache
from pathlib import Path

import jsonschema

from flcampaign.files import read_yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "workflow" / "rules" / "schemas"
MAX_QUOTED = 80  # characters of an offending value an error message quotes


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = read_yaml(SCHEMA_DIR / f"{name}.schema.yaml")
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_errors(name: str, document: object) -> list[str]:
    """Human-readable messages, each with the path of the offending key."""
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(top level)'}: {_short_message(e)}" for e in errors]


def _short_message(error: jsonschema.ValidationError) -> str:
    """The validator's message with the offending value cut: a message may not quote megabytes of input."""
    shown = repr(error.instance)
    if len(shown) <= MAX_QUOTED:
        return error.message
    cut = f"{shown[:MAX_QUOTED]}... ({len(shown)} characters)"
    return error.message.replace(shown, cut) if shown in error.message else error.message[: 2 * MAX_QUOTED] + "..."
