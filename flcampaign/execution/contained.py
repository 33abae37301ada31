"""Entry point of every process that runs candidate code: install the policy, then run the target.

Usage: python -m flcampaign.execution.contained --policy JSON [--interpreter PATH] (-m MODULE | SCRIPT) [ARGS...]

``--interpreter`` becomes ``sys.executable``: the simulator starts its client workers with it
(the trusted launcher of ``flcampaign.execution.isolation``).
"""

import os
import runpy
import sys

from flcampaign.execution import nvflare_waits
from flcampaign.execution.containment import Policy, install


def main(argv: list[str]) -> None:
    if argv[:1] != ["--policy"] or len(argv) < 3:
        raise SystemExit(__doc__)
    policy, rest = Policy.from_json(argv[1]), argv[2:]
    if rest[:1] == ["--interpreter"]:
        sys.executable, rest = rest[1], rest[2:]
    if policy.short_waits:
        nvflare_waits.install()
    install(policy)
    if rest[:1] == ["-m"]:
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(rest)
        sys.path.insert(0, os.path.dirname(os.path.abspath(rest[0])))
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
