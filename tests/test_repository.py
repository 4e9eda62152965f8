"""Repository-wide conventions: tests mirror the package, and the code is ruff clean."""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from granlib.project import REPO_ROOT

PACKAGE = REPO_ROOT / "granlib"


def test_every_module_has_its_test_file():
    modules = [p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(modules) > 20
    missing = [str(m) for m in modules if not (REPO_ROOT / "tests" / m.parent / f"test_{m.name}").is_file()]
    assert not missing, f"modules without tests/<same folder>/test_<module>.py: {missing}"


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is not None:
        command = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        command = [shutil.which("ruff")]
    else:
        pytest.skip("ruff is not installed (it comes with the dev extra)")
    result = subprocess.run([*command, "check", "--no-cache", str(REPO_ROOT)], capture_output=True, text=True,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-4000:]


def _imports_of(path):
    """Every granlib module that ``path`` imports, at module level or inside a function."""
    import ast

    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("granlib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("granlib"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from granlib.x import module`
    return found


def _module_name(path):
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """granlib module -> the granlib modules it imports (names that are not modules are dropped)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports_of(path) if m in paths and m != name} for name, path in paths.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                return stack[stack.index(successor):] + [successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_finder_sees_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_granlib_has_no_import_cycle():
    graph = import_graph()
    assert "granlib.training.loop" in graph and "granlib.training.trainer" in graph["granlib.training.loop"]
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


IMAGE_STUDY = ("measures", "protocol", "pilot", "claims", "report")  # its modules, in the order they may import
LAYERS = {"granlib.normalizers": {"granlib.models", "granlib.evaluation", "granlib.training", "granlib.study",
                                  "granlib.bench"},  # the registry sits beside gran.py: training and above read it
          "granlib.evaluation": {"granlib.training", "granlib.study", "granlib.bench"},
          "granlib.training": {"granlib.study", "granlib.bench"}, "granlib.study": {"granlib.bench"},
          "granlib.study.instruments": {"granlib.study.pipeline", "granlib.study.ledger"},
          "granlib.study.pipeline": {"granlib.study.ledger"},
          # the image study's package, by concern: what a run measures < the protocol < pilot and claims < report
          "granlib.study.ledger.images.measures": {f"granlib.study.ledger.images.{m}" for m in IMAGE_STUDY[1:]},
          "granlib.study.ledger.images.protocol": {f"granlib.study.ledger.images.{m}" for m in IMAGE_STUDY[2:]},
          "granlib.study.ledger.images.pilot": {f"granlib.study.ledger.images.{m}" for m in ("claims", "report")},
          "granlib.study.ledger.images.claims": {f"granlib.study.ledger.images.{m}" for m in ("pilot", "report")}}
STUDY_ROOMS = ("instruments", "pipeline", "ledger")


def test_the_layer_check_sees_a_room_that_imports_a_later_one():
    def forbidden(module: str) -> set[str]:
        return {f for package, fs in LAYERS.items() if module.startswith(package) for f in fs}

    assert forbidden("granlib.study.instruments.toy") == {"granlib.study.pipeline", "granlib.study.ledger",
                                                          "granlib.bench"}
    assert forbidden("granlib.study.pipeline.runner") == {"granlib.study.ledger", "granlib.bench"}
    assert forbidden("granlib.study.ledger.images") == {"granlib.bench"}  # the ledger may import both other rooms
    assert "granlib.study.ledger.images.report" in forbidden("granlib.study.ledger.images.protocol")


def test_no_study_module_is_longer_than_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in (PACKAGE / "study").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these by concern: {long}"


def test_sub_packages_import_only_what_their_docstrings_allow():
    """The layering: normalizers (beside the top-level modules) < evaluation < training < study < bench, and inside
    study instruments < pipeline < ledger; the top-level modules import no sub-package but models."""
    for module, imported in import_graph().items():
        for package, forbidden in LAYERS.items():
            if module.startswith(package):
                bad = [m for m in imported if any(m.startswith(f) for f in forbidden)]
                assert not bad, f"{module} imports {bad}"
        if (PACKAGE / f"{module.split('.')[-1]}.py").is_file() and module.count(".") == 1:  # a top-level module
            bad = [m for m in imported if m.count(".") >= 1 and not m.startswith("granlib.models")
                   and m.split(".")[1] in ("training", "evaluation", "study", "bench")]
            assert not bad, f"top-level {module} imports {bad}"


def test_the_package_shows_its_architecture():
    top_level = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top_level) <= 10, top_level
    for package in ("models", "normalizers", "training", "evaluation", "study", "bench",
                    *(f"study/{r}" for r in STUDY_ROOMS)):
        init = PACKAGE / package / "__init__.py"
        doc = ast_docstring(init)
        assert doc and len(doc) > 80, f"granlib/{package}/__init__.py needs a docstring saying what lives there"
    study = ast_docstring(PACKAGE / "study" / "__init__.py")
    assert all(f"``{room}``" in study for room in STUDY_ROOMS), "granlib/study/__init__.py names its three rooms"
    assert not [p.name for p in (PACKAGE / "study").glob("*.py") if p.name != "__init__.py"], "study: rooms only"
    for room in STUDY_ROOMS:
        doc = ast_docstring(PACKAGE / "study" / room / "__init__.py")
        assert "May import" in doc, f"granlib/study/{room}/__init__.py says what it may import"
        assert all(f"study.{other}" in doc for other in STUDY_ROOMS if other != room), f"{room}: the other rooms"


def ast_docstring(path):
    import ast

    return ast.get_docstring(ast.parse(path.read_text()))


def test_only_the_notebooks_are_stripped_of_outputs(tmp_path):
    """.gitattributes runs nbstripout over notebooks/*.ipynb and over nothing else: the executed copies under
    results/executed/ are committed with their outputs. Checked by git itself in an empty repository holding only
    this file (no global or clone-local attributes)."""
    attributes = (REPO_ROOT / ".gitattributes").read_text()
    filtered = [line.split()[0] for line in attributes.splitlines() if "filter=nbstripout" in line]
    assert filtered == ["notebooks/*.ipynb"]
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitattributes").write_text(attributes)
    paths = ["notebooks/01_lipschitz_intuition.ipynb", "results/executed/default/01_lipschitz_intuition.ipynb",
             "results/executed/smoke/10_train_cifar10.ipynb", "scratch.ipynb"]
    result = subprocess.run(["git", "-c", "core.attributesFile=/dev/null", "check-attr", "filter", "--", *paths],
                            capture_output=True, text=True, cwd=tmp_path, check=True)
    stripped = {line.split(": ")[0] for line in result.stdout.splitlines() if line.endswith(": nbstripout")}
    assert stripped == {"notebooks/01_lipschitz_intuition.ipynb"}
