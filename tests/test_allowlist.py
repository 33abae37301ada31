"""The static allowlist: every way around a denylist that an attacker tried, refused; honest code passes."""

import ast

import pytest
from conftest import REPO

from flcampaign.contract import allowlist
from flcampaign.contract.allowlist import API_RULE, IMPORT_RULE
from flcampaign.task import Task

OWN = {"model": {"torch", "nn"}, "fl_data": {"torch", "own_training_split"}, "aggregators": {"np"}}

# each: a way to reach files, processes, the network, native code, the environment or dynamic code
BYPASSES = {
    "codecs.open": "import codecs\ncodecs.open('/etc/passwd').read()",
    "io.open": "import io\nio.open('/etc/passwd')",
    "posix.system": "import posix\nposix.system('id')",
    "os.system": "import os\nos.system('id')",
    "from os import system": "from os import system\nsystem('id')",
    "ctypes": "import ctypes\nctypes.CDLL(None)",
    "from ctypes import CDLL": "from ctypes import CDLL",
    "torch.hub": "import torch\ntorch.hub.load('a', 'b')",
    "from torch import hub": "from torch import hub",
    "torch alias hub": "import torch as t\nt.hub.list('x')",
    "torch.load": "import torch\ntorch.load('/tmp/x.pt')",
    "torch.save": "import torch\ntorch.save({}, '/tmp/x.pt')",
    "torch.from_file": "import torch\ntorch.from_file('/etc/passwd')",
    "UntypedStorage.from_file": "import torch\ntorch.UntypedStorage.from_file('/etc/passwd', False, 10)",
    "cpp_extension": "import torch.utils.cpp_extension as ext\next.load_inline('x', '')",
    "torch.utils.cpp_extension chain": "import torch\ntorch.utils.cpp_extension.load_inline('x', '')",
    "torch.ops.load_library": "import torch\ntorch.ops.load_library('/tmp/x.so')",
    "torch.jit.load": "import torch\ntorch.jit.load('/tmp/x.pt')",
    "torch.multiprocessing": "import torch.multiprocessing as mp\nmp.Process(target=print).start()",
    "torch.os": "import torch\ntorch.os.system('id')",
    "torch._C": "import torch\ntorch._C._get_tracing_state()",
    "numpy.load": "import numpy as np\nnp.load('/tmp/x.npy')",
    "numpy.fromfile": "import numpy as np\nnp.fromfile('/etc/passwd')",
    "numpy.memmap": "import numpy\nnumpy.memmap('/etc/passwd')",
    "from numpy import memmap": "from numpy import memmap",
    "numpy.lib.format": "import numpy as np\nnp.lib.format.open_memmap('/tmp/x')",
    "numpy.ctypeslib": "import numpy as np\nnp.ctypeslib.load_library('x', '.')",
    "ndarray.tofile": "import numpy as np\nnp.zeros(3).tofile('/tmp/x')",
    "F.torch re-export": "import torch.nn.functional as F\nF.torch.load('/tmp/x')",
    "task module re-export": "import fl_data\nfl_data.torch.zeros(1)",
    "from task module import re-export": "from model import torch",
    "importlib": "import importlib\nimportlib.import_module('os')",
    "__import__": "__import__('os').system('id')",
    "builtins.open": "import builtins\nbuiltins.open('/etc/passwd')",
    "open": "open('/etc/passwd').read()",
    "eval": "eval('1+1')",
    "exec": "exec('import os')",
    "compile": "compile('1', 'x', 'eval')",
    "getattr computed": "import torch\ngetattr(torch, 'lo' + 'ad')('/tmp/x')",
    "getattr constant": "import torch\ngetattr(torch, 'load')",
    "setattr": "setattr(object, 'x', 1)",
    "vars": "vars()['x'] = 1",
    "globals": "globals()['__builtins__']",
    "locals": "locals()",
    "__builtins__": "__builtins__['open']('/etc/passwd')",
    "__subclasses__": "().__class__.__bases__[0].__subclasses__()",
    "__globals__": "def f():\n    pass\nf.__globals__['os']",
    "__dict__": "import torch\ntorch.__dict__['load']",
    "__class__": "x = 1\nx.__class__",
    "frame globals": "g = (i for i in [])\ng.gi_frame.f_globals['__builtins__']",
    "traceback frame": "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_globals",
    "format string attribute": "'{0.__globals__}'.format(print)",
    "format string item": "'{0[os]}'.format({})",
    "module as value": "import torch\nt = torch\nt.hub",
    "module as argument": "import numpy\nf = print\nf(numpy)",
    "sys.modules": "import sys\nsys.modules['os']",
    "subprocess": "import subprocess\nsubprocess.run(['id'])",
    "socket": "import socket\nsocket.create_connection(('example.org', 80))",
    "urllib": "from urllib.request import urlopen",
    "pathlib read_text": "import pathlib\npathlib.Path('/etc/passwd').read_text()",
    "read_text on anything": "p = object()\np.read_text()",
    "shutil": "import shutil\nshutil.copy('/etc/passwd', '/tmp/x')",
    "tempfile": "import tempfile",
    "glob": "import glob\nglob.glob('/*')",
    "pickle": "import pickle\npickle.loads(b'')",
    "marshal": "import marshal",
    "mmap": "import mmap",
    "multiprocessing": "import multiprocessing",
    "threading": "import threading\nthreading.Thread(target=print).start()",
    "signal": "import signal",
    "gc": "import gc\ngc.get_objects()",
    "inspect": "import inspect\ninspect.currentframe()",
    "star import": "from torch import *",
    "relative import": "from . import model",
    "argparse.FileType": "import argparse\nargparse.FileType('r')('/etc/passwd')",
    "typing.get_type_hints": "import typing\ntyping.get_type_hints(print)",
    "dataclasses.make_dataclass": "import dataclasses\ndataclasses.make_dataclass('X', [])",
    "shared memory": "import torch\ntorch.zeros(3).share_memory_()",
    "DataLoader workers": "import torch\ntorch.utils.data.DataLoader([], num_workers=4)",
    "breakpoint": "breakpoint()",
    "input": "input()",
    "flcampaign": "import flcampaign.execution.site_data",
    "nvflare internals": "import nvflare.private.fed.app.simulator.simulator_runner",
    "os.environ": "import os\nos.environ['HOME']",
}

HONEST = """
import argparse
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import nvflare.client as flare
import torch
import torch.nn.functional as F
from fl_data import load_train
from model import HeartLogReg
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from torch import nn


@dataclass
class Settings:
    lr: float = 0.001


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(13, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(x)).squeeze(-1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.001)
    args = parser.parse_args()
    flare.init()
    features, labels = load_train(flare.get_site_name())
    model = HeartLogReg(in_features=13, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr * math.sqrt(1.0))
    loss = F.binary_cross_entropy(model(features), labels)
    model.load_state_dict(model.state_dict(), strict=True)
    print(f"loss {loss.item():.3f} {np.mean([1.0, 2.0]):.2f} {random.random()}", isinstance(model, nn.Module))
    flare.send(FLModel(params={}, params_type=ParamsType.DIFF, meta={}))
"""


def check(source: str, rel: str = "client.py", surface: dict | None = None) -> list[tuple[int, str, str]]:
    return allowlist.violations(ast.parse(source), allowlist.allowed_imports(rel, surface or {}), OWN)


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_every_known_way_around_is_refused(name):
    found = check(BYPASSES[name])
    assert found, f"{name} passed the allowlist"
    assert {rule for _, rule, _ in found} <= {IMPORT_RULE, API_RULE}


def test_the_corpus_of_bypasses_is_large():
    assert len(BYPASSES) >= 60


def test_honest_client_code_passes():
    assert check(HONEST) == []


def test_every_bundled_task_source_passes():
    for profile in sorted(REPO.glob("flcampaign/tasks/*/profile.yaml")):
        tree = Task.load(profile.parent).sources
        own = {p.stem: allowlist.module_exports(ast.parse(p.read_text())) for p in tree.glob("*.py")}
        for path in sorted(tree.glob("*.py")):
            if path.name == "fl_data.py":  # fixed: trusted, never checked as candidate code
                continue
            found = allowlist.violations(ast.parse(path.read_text()), allowlist.allowed_imports(path.name, {}), own)
            assert found == [], (profile.parent.name, path.name, found)


def test_job_py_may_build_the_recipe_and_nothing_else_may():
    source = (
        "import os\nimport shlex\nfrom nvflare.recipe import SimEnv\nHERE = os.path.dirname(os.path.abspath(__file__))"
    )
    assert check(source, "job.py") == []
    assert {rule for _, rule, _ in check(source, "client.py")} == {IMPORT_RULE}
    assert check("import os\nos.system('id')", "job.py")  # os.path only, not os
    assert check("import os\nos.path.expanduser('~')", "job.py")


def test_a_task_widens_the_allowlist_per_file_or_for_all():
    assert check("import statistics\nstatistics.mean([1])")
    assert check("import statistics\nstatistics.mean([1])", surface={"imports": {"all": ["statistics"]}}) == []
    widened = {"imports": {"files": {"aggregators.py": ["statistics"]}}}
    assert check("import statistics", "aggregators.py", widened) == []
    assert check("import statistics", "client.py", widened)
    # widening a module does not lift the refusals of its dangerous APIs
    assert check("import torch\ntorch.load('x')", surface={"imports": {"all": ["torch"]}})


def test_refusals_name_the_line_and_what():
    found = check("import torch\n\n\nx = torch.hub.load('a', 'b')\n")
    assert (4, API_RULE, "uses torch.hub") in found
