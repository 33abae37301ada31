"""What candidate code may import and touch: an allowlist, checked on the source text before anything runs.

Candidate code gets its data only through the task's data bridge and talks only through NVFlare. A
denylist of dangerous modules always misses one (``codecs.open``, ``posix.system``, ``ctypes``,
``torch.hub``...), so this check works the other way round: a source file may import only the
modules its task allows (a default set for model, training and aggregation code, more for
``job.py``, which builds the recipe; a task widens either in ``surface.imports``). Within allowed
modules, the attributes that reach files, processes, the network, native code or code loading are
refused by name (``torch.load``, ``torch.hub``, ``numpy.fromfile``...), and so is every way to
reach an object the check cannot follow: dunder attributes, frame and code attributes, ``getattr``
and friends, ``eval``/``exec``/``open``/``__import__``, a module passed around as a value, a format
string that reads attributes, an attribute named after a module that is not allowed (``torch.os``).

This is the first line; the runtime containment (audit hook, Landlock, the sandbox) holds against
what a static check cannot see.
"""

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from flcampaign.contract.client_protocol import dotted

IMPORT_RULE, API_RULE = "import-allowlist", "forbidden-api"

DEFAULT_IMPORTS = (
    "__future__", "abc", "argparse", "collections", "copy", "dataclasses", "enum", "functools", "itertools", "math",
    "random", "typing", "numpy", "torch", "nvflare.client", "nvflare.app_common.abstract.fl_model",
    "nvflare.app_common.aggregators.model_aggregator", "nvflare.apis.dxo",
)  # fmt: skip
# job.py builds the NVFlare recipe and names the training script by its path
FILE_IMPORTS = {"job.py": ("os.path", "shlex", "nvflare.recipe", "nvflare.app_opt.pt.recipes.fedavg")}

# APIs of allowed modules that reach files, processes, the network, native code or code loading
REFUSED_APIS = (
    "torch.load", "torch.save", "torch.hub", "torch.jit", "torch.package", "torch.multiprocessing",
    "torch.distributed", "torch.compile", "torch.ops", "torch.library", "torch.classes", "torch.from_file",
    "torch.serialization", "torch.onnx", "torch.export", "torch.profiler", "torch.utils.cpp_extension",
    "torch.utils.tensorboard", "torch.utils.data.DataLoader", "torch.cuda.memory", "numpy.load", "numpy.save",
    "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile",
    "numpy.fromregex", "numpy.memmap", "numpy.ctypeslib", "numpy.lib", "numpy.f2py", "numpy.distutils",
    "numpy.testing", "numpy.DataSource", "argparse.FileType", "typing.get_type_hints", "typing.ForwardRef",
    "dataclasses.make_dataclass", "os.path.expanduser", "nvflare.client.api_context",
)  # fmt: skip
# attribute names refused on any object: file and process methods, native loading, frames and code objects,
# shared memory, and the names of modules that are not allowed (``torch.os``, ``np.sys``)
REFUSED_ATTRIBUTES = frozenset(
    {
        "read_text", "read_bytes", "write_text", "write_bytes", "tofile", "to_csv", "to_pickle", "from_file",
        "fromfile", "memmap", "load_library", "cpp_extension", "ctypeslib", "share_memory_", "hub", "load", "save",
        "savez", "savetxt", "loadtxt", "genfromtxt", "FileType", "get_type_hints", "make_dataclass", "serialization",
        "system", "popen", "spawnv", "execv", "execve", "fork", "kill", "environ", "getenv", "putenv", "remove",
        "unlink", "rmdir", "rename", "replace_file", "chmod", "listdir", "scandir", "walk", "makedirs", "mkdir",
        "open", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "gi_frame", "gi_code", "cr_frame",
        "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code", "co_consts", "func_globals",
        "os", "sys", "subprocess", "builtins", "importlib", "ctypes", "cffi", "io", "codecs", "shutil", "pathlib",
        "socket", "pickle", "marshal", "shelve", "inspect", "gc", "threading", "multiprocessing", "signal", "posix",
        "nt", "tempfile", "glob", "mmap", "urllib", "http", "requests", "types", "resource", "pty", "fcntl",
    }
)  # fmt: skip
REFUSED_BUILTINS = frozenset(
    {
        "getattr", "setattr", "delattr", "vars", "globals", "locals", "eval", "exec", "compile", "open",
        "__import__", "breakpoint", "input", "help", "memoryview", "exit", "quit",
    }
)  # fmt: skip
ALLOWED_DUNDER_NAMES = frozenset({"__name__", "__file__", "__doc__"})
ALLOWED_DUNDER_ATTRIBUTES = frozenset({"__init__"})  # super().__init__(...)
FORMAT_FIELD_ACCESS = re.compile(r"\{[^{}!:]*[.\[][^{}]*\}")  # "{0.__globals__}", "{x[0]}"


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _under(name: str, prefixes: Iterable[str]) -> str | None:
    """The entry of ``prefixes`` that ``name`` is (or lies below), else None."""
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def allowed_imports(rel: str, surface: dict) -> tuple[str, ...]:
    """The modules ``rel`` may import: the default set, the file's own extra set, the task's widening."""
    widen = surface.get("imports") or {}
    return (
        *DEFAULT_IMPORTS,
        *FILE_IMPORTS.get(rel, ()),
        *widen.get("all", ()),
        *(widen.get("files") or {}).get(rel, ()),
    )


def module_exports(tree: ast.Module) -> set[str]:
    """Names a module binds by importing (``fl_data.torch``): other files may not reach them through it."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return found


@dataclass
class _Checker:
    """One source file's check; ``own`` maps the task tree's modules to the names they import."""

    allowed: tuple[str, ...]
    own: dict[str, set[str]]
    found: list[tuple[int, str, str]] = field(default_factory=list)  # (line, rule, what)
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> dotted name it stands for
    modules: set[str] = field(default_factory=set)  # local names bound to modules
    parents: dict[int, ast.AST] = field(default_factory=dict)  # id(node) -> its parent

    def flag(self, node: ast.AST, rule: str, what: str) -> None:
        self.found.append((getattr(node, "lineno", 0), rule, what))

    def may_import(self, name: str) -> bool:
        root = name.split(".")[0]
        if root in self.own:
            return True
        return _under(name, self.allowed) is not None or any(a.startswith(name + ".") for a in self.allowed)

    def check_api(self, node: ast.AST, name: str) -> None:
        """A dotted name reached through an import: allowed, below a refused API, or through a re-export."""
        root, *rest = name.split(".")
        if root in self.own:
            if rest and rest[0] in self.own[root]:
                self.flag(node, API_RULE, f"reaches {rest[0]} through the task module {root}")
            return
        refused = _under(name, REFUSED_APIS)
        if refused:
            self.flag(node, API_RULE, f"uses {refused}")
        elif not _under(name, self.allowed) and not any(a.startswith(name + ".") for a in self.allowed):
            self.flag(node, IMPORT_RULE, f"uses {name}, which this file may not import")
        elif any(part.startswith("_") for part in rest):
            self.flag(node, API_RULE, f"uses the private {name}")

    def imports(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if not self.may_import(alias.name):
                        self.flag(node, IMPORT_RULE, f"imports {alias.name}")
                        continue
                    self.check_api(node, alias.name)
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
                    self.modules.add(local)
            elif isinstance(node, ast.ImportFrom):
                if node.level or not node.module:
                    self.flag(node, IMPORT_RULE, "relative import (task modules are imported by name)")
                    continue
                if not self.may_import(node.module):
                    self.flag(node, IMPORT_RULE, f"imports {node.module}")
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        self.flag(node, IMPORT_RULE, f"from {node.module} import *")
                        continue
                    full = f"{node.module}.{alias.name}"
                    self.check_api(node, full)
                    local = alias.asname or alias.name
                    self.aliases[local] = full
                    if full in self.allowed:
                        self.modules.add(local)

    def uses(self, tree: ast.Module) -> None:
        chained: set[int] = set()  # Name nodes at the root of an attribute chain
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                parts = dotted(node)
                if parts and isinstance(node.value, ast.Name | ast.Attribute):
                    chained.add(id(_root(node)))
                self.attribute(node, parts)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                chained.add(id(node.func))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and FORMAT_FIELD_ACCESS.search(node.value)
            ):
                self.flag(node, API_RULE, "a format string that reads attributes or items")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                self.name(node, chained)

    def attribute(self, node: ast.Attribute, parts: list[str]) -> None:
        if _is_dunder(node.attr) and node.attr not in ALLOWED_DUNDER_ATTRIBUTES:
            self.flag(node, API_RULE, f"uses .{node.attr}")
        elif parts and parts[0] in self.aliases:
            # a chain from an import is checked once, whole: ``torch.hub.load`` as ``torch.hub``
            if isinstance(self.parents.get(id(node)), ast.Attribute):
                return
            full = ".".join([self.aliases[parts[0]], *parts[1:]])
            before = len(self.found)
            self.check_api(node, full)
            if len(self.found) == before and any(part in REFUSED_ATTRIBUTES for part in parts[1:]):
                self.flag(node, API_RULE, f"uses {full}")
        elif node.attr in REFUSED_ATTRIBUTES:
            self.flag(node, API_RULE, f"uses .{node.attr}")

    def name(self, node: ast.Name, chained: set[int]) -> None:
        if (
            _is_dunder(node.id)
            and node.id not in ALLOWED_DUNDER_NAMES
            or node.id in REFUSED_BUILTINS
            and isinstance(node.ctx, ast.Load)
            and node.id not in self.aliases
        ):
            self.flag(node, API_RULE, f"uses {node.id}")
        elif node.id in self.modules and id(node) not in chained and isinstance(node.ctx, ast.Load):
            self.flag(node, API_RULE, f"passes the module {node.id} around as a value")


def _root(node: ast.Attribute) -> ast.expr:
    root: ast.expr = node
    while isinstance(root, ast.Attribute):
        root = root.value
    return root


def violations(tree: ast.Module, allowed: tuple[str, ...], own: dict[str, set[str]]) -> list[tuple[int, str, str]]:
    """Each breach as (line, rule, what), in line order; empty when the source keeps to the allowlist.

    ``allowed`` is what this file may import (``allowed_imports``); ``own`` maps every module of the
    task tree to the names it imports (``module_exports``)."""
    checker = _Checker(allowed, own)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            checker.parents[id(child)] = parent
    checker.imports(tree)
    checker.uses(tree)
    return sorted(set(checker.found))
