"""The campaign configuration (config.yaml), checked against its schema with the schema's defaults."""

from pathlib import Path
from typing import Any

from flcampaign.files import read_yaml
from flcampaign.schemas import schema_errors, validator


def _fill_defaults(schema: dict[str, Any], document: dict[str, Any]) -> None:
    for key, spec in schema.get("properties", {}).items():
        if key not in document and "default" in spec:
            document[key] = spec["default"] if not isinstance(spec["default"], dict) else {}
        if spec.get("type") == "object" and isinstance(document.get(key), dict):
            _fill_defaults(spec, document[key])


def load_config(path: Path) -> dict[str, Any]:
    """Read and check ``config.yaml`` as Snakemake does; a broken file names the key and the rule."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no campaign configuration here (run from the campaign folder)")
    config = read_yaml(path) or {}
    problems = schema_errors("config", config)
    if problems:
        raise ValueError(f"{path}: does not follow rules/schemas/config.schema.yaml: " + "; ".join(problems))
    _fill_defaults(validator("config").schema, config)
    return config
