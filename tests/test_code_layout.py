"""The site's code stays small enough to read (issue 16): no module over 300 lines, no function over 5 named
parameters or 60 lines. Migrations, settings, tests and benchmarks aside."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "tests", "benchmarks", "migrations", "var", "node_modules"}
# Signatures that copy another library's API on purpose (callers pass what that library takes).
COPIED = {
    ("accounts/forms.py", "send_mail"): "Django's PasswordResetForm.send_mail",
    ("durable/celery.py", "apply_async"): "Celery's Task.apply_async",
    ("durable/django_q.py", "schedule"): "Django Q's schedule()",
}


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if not SKIP & set(rel.parts) and rel.name != "settings.py":
            yield rel, path.read_text()


def functions(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            named = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
            yield node.name, len(named), node.end_lineno - node.lineno + 1


def test_no_module_is_over_300_lines():
    assert [(str(rel), n) for rel, src in modules() if (n := len(src.splitlines())) > 300] == []


def test_no_function_takes_over_5_parameters_or_runs_over_60_lines():
    found = [
        (str(rel), name, params, lines)
        for rel, src in modules()
        for name, params, lines in functions(src)
        if (params > 5 and (str(rel), name) not in COPIED) or lines > 60
    ]
    assert found == []


def test_the_copied_signatures_are_still_there():
    present = {(str(rel), name) for rel, src in modules() for name, _, _ in functions(src)}
    assert set(COPIED) <= present
