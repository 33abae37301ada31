"""A venv layered over the project's: sees its packages through a .pth file, adds a few of its own.

Used to load the SLURM executor plugin for the cluster test and the start-up benchmark without
installing it into the project's environment (where it would probe `scontrol` at every start).
"""

import subprocess
import sys
from pathlib import Path


def layered_venv(dest: Path, packages: list[str]) -> tuple[Path, subprocess.CompletedProcess]:
    """Create ``dest`` over the running interpreter's site-packages; returns its python and the pip result."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = Path(dest) / "bin" / "python"
    query = [str(python), "-c", "import site; print(site.getsitepackages()[0])"]
    site = subprocess.run(query, capture_output=True, text=True, check=True).stdout.strip()
    base = next(p for p in sys.path if p.endswith("site-packages"))
    Path(site, "flcampaign-base.pth").write_text(base + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *packages], capture_output=True, text=True, timeout=600
    )
    return python, install
