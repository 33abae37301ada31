"""The client protocol a training script must follow (Client API, DIFF updates, the task loop), checked on its
parsed source: by validation on ``client.py`` and by the runner on whatever script the exported job launches. Kept
apart from the other static checks so a run depends on this and not on them."""

import ast
from collections.abc import Callable

from flcampaign.errors import ContractViolation

CLIENT_FILE = "client.py"


def dotted(node: ast.expr) -> list[str]:
    """``['torch', 'nn', 'Linear']`` for ``torch.nn.Linear``; [] when the chain does not start at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return []


def dotted_name(node: ast.expr | None) -> str:
    """``flare.send`` for ``flare.send``; '' for anything that is not a plain dotted name."""
    return ".".join(dotted(node)) if node is not None else ""


def call_name(node: ast.Call) -> str:
    """Dotted name of a call target (``flare.send``), or '' for computed targets."""
    return dotted_name(node.func)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def keyword_value(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_flmodel(call: ast.Call) -> bool:
    return call_name(call) in ("FLModel", "flare.FLModel")


def _attr_is(node: ast.expr | None, suffix: str) -> bool:
    return isinstance(node, ast.Attribute) and dotted_name(node).endswith(suffix)


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _branches(tree: ast.AST, test_call: str) -> list[ast.If]:
    """``if <test_call>():`` blocks; a negated or compound test does not count as that branch."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Call) and call_name(node.test) == test_call
    ]


def _sends_metrics_on_evaluate(tree: ast.AST) -> bool:
    for branch in _branches(tree, "flare.is_evaluate"):
        body = ast.Module(body=branch.body, type_ignores=[])
        if any(_is_flmodel(c) and keyword_value(c, "metrics") is not None for c in _calls(body)):
            return True
    return False


def _full_only_for_submit(tree: ast.AST) -> bool:
    allowed = {id(n) for b in _branches(tree, "flare.is_submit_model") for n in ast.walk(ast.Module(b.body, []))}
    return all(
        id(c) in allowed for c in _calls(tree) if _is_flmodel(c) and _attr_is(keyword_value(c, "params_type"), "FULL")
    )


def _loops_while_running(tree: ast.AST) -> bool:
    return any(
        isinstance(n, ast.While) and any(call_name(c) == "flare.is_running" for c in _calls(n.test))
        for n in ast.walk(tree)
    )


CLIENT_CHECKS: list[tuple[str, Callable[[ast.AST], bool]]] = [
    ("flare.init()", lambda t: any(call_name(c) == "flare.init" for c in _calls(t))),
    ("flare.receive()", lambda t: any(call_name(c) == "flare.receive" for c in _calls(t))),
    ("flare.send(...)", lambda t: any(call_name(c) == "flare.send" for c in _calls(t))),
    (
        "model.load_state_dict(..., strict=True)",
        lambda t: any(
            call_name(c).endswith(".load_state_dict") and is_true(keyword_value(c, "strict")) for c in _calls(t)
        ),
    ),
    ("compute_model_diff(...)", lambda t: any(call_name(c) == "compute_model_diff" for c in _calls(t))),
    (
        "FLModel(..., params_type=ParamsType.DIFF, ...)",
        lambda t: any(
            _is_flmodel(c) and _attr_is(keyword_value(c, "params_type"), "ParamsType.DIFF") for c in _calls(t)
        ),
    ),
    (
        'meta includes "NUM_STEPS_CURRENT_ROUND"',
        lambda t: any(isinstance(n, ast.Constant) and n.value == "NUM_STEPS_CURRENT_ROUND" for n in ast.walk(t)),
    ),
    ("flare.is_evaluate() branch sends FLModel with metrics", _sends_metrics_on_evaluate),
    ("while flare.is_running() task loop", _loops_while_running),
    ("ParamsType.FULL only in the flare.is_submit_model() branch", _full_only_for_submit),
]


def parse_source(cid: str, rel: str, source: str) -> ast.Module:
    """Parse without executing; a syntax error is the candidate's ``py-compile`` violation."""
    try:
        compile(source, rel, "exec", dont_inherit=True)
        return ast.parse(source, filename=rel)
    except (SyntaxError, ValueError) as error:
        raise ContractViolation(cid, rel, "py-compile", str(error)) from None


def check_client(cid: str, tree: ast.Module) -> None:
    missing = [label for label, check in CLIENT_CHECKS if not check(tree)]
    if missing:
        raise ContractViolation(cid, CLIENT_FILE, "client-contract", "missing or broken: " + "; ".join(missing))
