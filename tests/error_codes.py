"""The rule codes of the typed errors (shared/errors.py), read from the source with `ast`.

Every `InvalidInput(...)`, `NotFound(...)`, `Conflict(...)`, `ServiceUnavailable(...)` and `DomainError(...)` call in
services/ and shared/ is a raise site; its `code=` keyword names the rule. A code is a string
literal at the site, or (shared/identity.py) a literal `(code, rule)` pair the site looks up.

`python -m tests.error_codes` rewrites the generated table in docs/errors.md;
tests/unit/test_error_codes.py checks the sites and that the table lists every code.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("services", "shared")
ERRORS = ("InvalidInput", "NotFound", "Conflict", "ServiceUnavailable", "DomainError")
PREFIXES = ("dibao", "relief", "welfare", "affairs", "military", "conduct", "community", "input", "identity", "money", "feed", "report",
            "store", "audit",
            "subscription")
CODE = re.compile(rf"^({'|'.join(PREFIXES)})\.[a-z][a-z_]*[a-z]$")
DOC = ROOT / "docs" / "errors.md"
BEGIN, END = "<!-- codes: begin (python -m tests.error_codes) -->", "<!-- codes: end -->"


@dataclass(frozen=True)
class Site:
    path: str          # relative to the repository
    line: int
    error: str         # InvalidInput, NotFound, Conflict or DomainError
    code: str | None   # None: the call passes no code= keyword
    rule: str          # the English rule as written, with … for interpolated values
    literal: bool      # the code is a string literal at the site


def _text(node: ast.AST | None, scope: ast.AST) -> str:
    """The English of a rule argument: literals as they are, interpolations as …"""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v, scope) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, scope) + _text(node.right, scope)
    if isinstance(node, ast.IfExp):
        return f"{_text(node.body, scope)} / {_text(node.orelse, scope)}"
    if isinstance(node, ast.Name):  # a local `rule = "..."` in the same function
        for assign in ast.walk(scope):
            if (isinstance(assign, ast.Assign) and len(assign.targets) == 1
                    and isinstance(assign.targets[0], ast.Name) and assign.targets[0].id == node.id
                    and isinstance(assign.value, (ast.Constant, ast.JoinedStr))):
                return _text(assign.value, scope)
    return "…"


def _pairs(tree: ast.AST) -> list[tuple[str, str]]:
    """Literal (code, rule) pairs of a module, for sites that look their code up."""
    return [(t.elts[0].value, _text(t.elts[1], tree)) for t in ast.walk(tree)
            if isinstance(t, ast.Tuple) and len(t.elts) == 2
            and isinstance(t.elts[0], ast.Constant) and isinstance(t.elts[0].value, str)
            and CODE.match(t.elts[0].value)]


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):  # errors.InvalidInput(...)
        return func.attr
    return None


def sites() -> list[Site]:
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            functions = [f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
            relative = path.relative_to(ROOT).as_posix()
            for call in ast.walk(tree):
                if not (isinstance(call, ast.Call) and _name(call.func) in ERRORS):
                    continue
                scope = min((f for f in functions if f.lineno <= call.lineno <= f.end_lineno),
                            key=lambda f: f.end_lineno - f.lineno, default=tree)
                rule = _text(call.args[1] if len(call.args) > 1 else None, scope)
                code = next((k.value for k in call.keywords if k.arg == "code"), None)
                if code is None:
                    found.append(Site(relative, call.lineno, _name(call.func), None, rule, False))
                elif isinstance(code, ast.Constant) and isinstance(code.value, str):
                    found.append(Site(relative, call.lineno, _name(call.func), code.value, rule, True))
                else:  # looked up: every literal (code, rule) pair of the module
                    found.extend(Site(relative, call.lineno, _name(call.func), pair_code, pair_rule, False)
                                 for pair_code, pair_rule in _pairs(tree))
    return found


def table(found: list[Site] | None = None) -> str:
    by_code: dict[str, list[Site]] = {}
    for site in found if found is not None else sites():
        if site.code:
            by_code.setdefault(site.code, []).append(site)
    rows = ["| code | error | rule (the English `rule`; … is a value) | raised in |",
            "|---|---|---|---|"]
    for code in sorted(by_code, key=lambda c: (PREFIXES.index(c.split(".")[0]), c)):
        group = by_code[code]
        errors = ", ".join(sorted({s.error for s in group}))
        rules = " · ".join(dict.fromkeys(s.rule.replace("|", "\\|") for s in group))
        where = ", ".join(dict.fromkeys(f"`{s.path}`" for s in group))
        rows.append(f"| `{code}` | {errors} | {rules} | {where} |")
    return "\n".join(rows) + "\n"


def documented(text: str | None = None) -> dict[str, str]:
    """code -> error type(s), as docs/errors.md lists them."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^\| `([a-z_.]+)` \| ([A-Za-z, ]+) \|", text, re.MULTILINE)}


def write_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + table() + text[stop:], encoding="utf-8")


if __name__ == "__main__":
    write_doc()
    print(f"{DOC.relative_to(ROOT)}: {len(documented())} codes", file=sys.stderr)
