"""Forbidden APIs in candidate code: files, processes, network, dynamic code, the environment.

Candidate code gets its data only through the task's data bridge and talks only through NVFlare.
This static check refuses the obvious routes around that (reading the held-out split, forging
result files, spawning detached processes, calling home) before anything runs; the sandbox and
the process containment of the runner are the defence against what a static check cannot see.
"""

import ast

FORBIDDEN_MODULES = {
    "asyncio", "builtins", "concurrent", "ctypes", "cffi", "flcampaign", "ftplib", "glob", "http", "importlib",
    "marshal", "mmap", "multiprocessing", "pathlib", "pickle", "pty", "requests", "shelve", "shutil", "signal",
    "smtplib", "socket", "ssl", "subprocess", "tempfile", "urllib", "webbrowser", "zipfile", "tarfile",
}  # fmt: skip
FORBIDDEN_BUILTINS = {"open", "eval", "exec", "compile", "__import__", "globals", "vars", "breakpoint", "input"}
FORBIDDEN_NAMES = {"__builtins__", "__globals__", "__subclasses__", "__code__", "__loader__", "__spec__"}
OS_ALLOWED = {"path", "sep", "linesep", "cpu_count"}
DATA_LOADERS = {
    "numpy": {"load", "fromfile", "loadtxt", "genfromtxt", "memmap", "save", "savez", "savetxt", "tofile"},
    "torch": {"load", "save", "from_file"},
    "pandas": {"read_csv", "read_parquet", "read_pickle", "read_json", "read_table", "read_excel", "to_csv"},
}
FILE_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "tofile", "to_csv", "to_pickle"}


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> imported module (``np`` -> ``numpy``), so ``np.load`` is recognised."""
    aliases = {"np": "numpy", "numpy": "numpy", "pd": "pandas", "pandas": "pandas", "os": "os", "torch": "torch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name
    return aliases


def _dotted(node: ast.expr) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def _computed_getattr(node: ast.AST) -> bool:
    """``getattr(obj, name)`` with a name built at run time: a way around every other check."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and not isinstance(node.args[1], ast.Constant)
    )


def violations(tree: ast.Module) -> list[str]:
    """Each forbidden use as ``line N: what`` (empty when the source is clean)."""
    found = []
    aliases = _module_aliases(tree)

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"line {node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    flag(node, f"imports {name}")
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                for alias in node.names:
                    if alias.name not in OS_ALLOWED:
                        flag(node, f"imports os.{alias.name}")
            if isinstance(node, ast.ImportFrom) and node.module in DATA_LOADERS:
                for alias in node.names:
                    if alias.name in DATA_LOADERS[node.module]:
                        flag(node, f"imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Name) and (
            node.id in FORBIDDEN_NAMES or (node.id in FORBIDDEN_BUILTINS and isinstance(node.ctx, ast.Load))
        ):
            flag(node, f"uses {node.id}")
        elif isinstance(node, ast.Attribute):
            parts = _dotted(node)
            module = aliases.get(parts[0], "") if parts else ""
            if node.attr in FORBIDDEN_NAMES:
                flag(node, f"uses .{node.attr}")
            elif module == "os" and len(parts) == 2 and parts[1] not in OS_ALLOWED:
                flag(node, f"uses os.{parts[1]}")
            elif module.split(".")[0] in DATA_LOADERS and node.attr in DATA_LOADERS[module.split(".")[0]]:
                flag(node, f"uses {'.'.join(parts)}")
            elif node.attr in FILE_METHODS:
                flag(node, f"uses .{node.attr}()")
        elif _computed_getattr(node):
            flag(node, "getattr() with a computed name")
    return sorted(set(found), key=lambda entry: int(entry.split(":")[0].split()[1]))
