"""What a Python module defines at its top level, read with Python's own parser (nothing is imported
or run): the names it binds, whether it runs as `python -m` (an `if __name__ == ...` block), and the
HTTP routes it declares with a route decorator (`@app.get("/health")`) or FastMCP's
`custom_route("/health", methods=[...])`.

Usage: python3 python-module-facts.py ROOT FILE... (FILE relative to ROOT); prints JSON
{file: {"names": [...], "runsAsMain": bool, "routes": ["GET /health", ...]}}, or {file: null} for a
file that does not exist.
"""
import ast
import json
import os
import sys

ROUTE_METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}


def literal_path(call):
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def route_of(call):
    """'GET /x' for app.get("/x") / router.get("/x"), 'GET /x' for custom_route("/x", methods=["GET"])."""
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return []
    path = literal_path(call)
    if path is None:
        return []
    if call.func.attr in ROUTE_METHODS:
        return [f"{call.func.attr.upper()} {path}"]
    if call.func.attr == "custom_route":
        methods = next((k.value for k in call.keywords if k.arg == "methods"), None)
        listed = [m.value for m in getattr(methods, "elts", []) if isinstance(m, ast.Constant)]
        return [f"{m} {path}" for m in listed or ["GET"]]
    return []


def facts(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names, routes = set(), set()
    runs_as_main = False

    def bind(target):
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)

    def visit(statements):
        nonlocal runs_as_main
        for s in statements:
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(s.name)
                for decorator in s.decorator_list:
                    routes.update(route_of(decorator))
            elif isinstance(s, ast.Assign):
                for target in s.targets:
                    bind(target)
            elif isinstance(s, (ast.AnnAssign, ast.AugAssign)):
                bind(s.target)
            elif isinstance(s, (ast.Import, ast.ImportFrom)):
                for alias in s.names:
                    names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(s, ast.If):
                test = s.test
                if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
                    runs_as_main = True
                visit(s.body)
                visit(s.orelse)
            elif isinstance(s, ast.Try):
                visit(s.body)
                visit(s.orelse)
                visit(s.finalbody)
                for handler in s.handlers:
                    visit(handler.body)
            elif isinstance(s, (ast.With, ast.AsyncWith, ast.For, ast.While)):
                visit(s.body)
            # A call at any depth of a top-level statement: mcp.custom_route("/health", ...)(handler).
            for node in ast.walk(s) if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else []:
                if isinstance(node, ast.Call):
                    routes.update(route_of(node) if isinstance(node.func, ast.Attribute) and node.func.attr == "custom_route" else [])

    visit(tree.body)
    return {"names": sorted(names), "runsAsMain": runs_as_main, "routes": sorted(routes)}


root = sys.argv[1]
print(json.dumps({f: (facts(os.path.join(root, f)) if os.path.isfile(os.path.join(root, f)) else None) for f in sys.argv[2:]}, sort_keys=True))
