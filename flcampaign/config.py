"""The campaign configuration (config.yaml), checked against its schema with the schema's defaults.

Defaults are filled by Snakemake's own ``validate`` (as the workflow's ``rules/common.smk`` does for the workflow), so
the CLI and the workflow see the same configuration.
"""

from pathlib import Path
from typing import Any

from snakemake.utils import validate

from flcampaign.files import read_yaml
from flcampaign.schemas import SCHEMA_DIR, schema_errors


def load_config(path: Path) -> dict[str, Any]:
    """Read and check ``config.yaml`` as Snakemake does; a broken file names the key and the rule."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no campaign configuration here (run from the campaign folder)")
    config = read_yaml(path) or {}
    problems = schema_errors("config", config)
    if problems:
        raise ValueError(
            f"{path}: does not follow the config schema (flcampaign/workflow/rules/schemas/config.schema.yaml): "
            + "; ".join(problems)
        )
    return with_defaults(config)


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (changed in place) with every key it leaves out at the schema's default, as Snakemake fills it."""
    validate(config, str(SCHEMA_DIR / "config.schema.yaml"), set_default=True)
    return config


def defaults(task: str) -> dict[str, Any]:
    """The configuration of a campaign that sets nothing but its task: every key at the schema's default."""
    return with_defaults({"task": task})
