"""The workflow and library stay lint-clean and typed: snakemake --lint, snakefmt, ruff, mypy."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / cmd[0]), *cmd[1:]], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_snakemake_lint():
    result = run("snakemake", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt():
    result = run("snakefmt", "--check", "Snakefile", "flcampaign/workflow")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff():
    for cmd in (("ruff", "check", "."), ("ruff", "format", "--check", ".")):
        result = run(*cmd)
        assert result.returncode == 0, result.stdout + result.stderr


def test_mypy():
    """The library type-checks (configuration in pyproject.toml, [tool.mypy])."""
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_config_schema_rejects_unknown_keys(tmp_path):
    (tmp_path / "config.yaml").write_text("task: heart_disease\nrounds: 3\n")
    result = run("snakemake", "-n", "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"))
    assert result.returncode != 0
    assert "rounds" in result.stdout + result.stderr
