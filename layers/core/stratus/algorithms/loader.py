"""Import a package's Runner in a namespace of its own, Compox's modules served by our runtime."""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from stratus.algorithms.runtime import context, io_schemas, runners, training, typed
from stratus.algorithms.runtime.runners import BaseRunner
from stratus.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stratus.algorithms.runtime.context import RunnerContext

NAMESPACE_PREFIX = "_stratus_algorithm_"
# Bound and deleted again by a rewritten `import a.b.c`, so no name of the module is touched.
_SCRATCH_NAME = "_stratus_import_scratch"
COMPOX = "compox"
# Compox's module paths that algorithms import, each served by the runtime module holding those names.
COMPOX_MODULES: dict[str, types.ModuleType] = {
    "algorithm_utils.BaseRunner": runners,
    "algorithm_utils.io_schemas": io_schemas,
    "algorithm_utils.runner_context": context,
    "algorithm_utils.Image2ImageRunner": typed,
    "algorithm_utils.Image2SegmentationRunner": typed,
    "algorithm_utils.Segmentation2SegmentationRunner": typed,
    "algorithm_utils.Image2EmbeddingRunner": typed,
    "algorithm_utils.Image2AlignmentRunner": typed,
    "algorithm_utils.Image2MultiRegionSegmentationRunner": typed,
    "training.TrainingDataset": training,
    "training.TrainingSample": training,
    "training.SampleManifest": training,
}


def load_runner(package_dir: Path, context: RunnerContext, device: str) -> BaseRunner:
    """Import `Runner.py`, build the Runner on `device` and load its assets, as Compox's fetch does.
    Raises InvalidInputError when Runner.py has no `Runner(BaseRunner)`; anything the algorithm raises
    propagates as it is. Call `unload_runner` when the runner is done with."""
    runner_class = import_runner(package_dir)
    try:
        # As Compox: the instance is made without arguments, then `initialize` runs __init__ on the device.
        runner = runner_class.__new__(runner_class)
        runner.attach(context)
        runner.initialize(device)
        runner.load()
    except BaseException:
        _unload_class(runner_class)
        raise
    return runner


def import_runner(package_dir: Path) -> type[BaseRunner]:
    """Import `Runner.py` in a namespace of its own and return its Runner class (the deploy check and
    `load_runner` alike). Raises InvalidInputError when it has no `Runner(BaseRunner)`; anything the
    import raises propagates as it is."""
    namespace = f"{NAMESPACE_PREFIX}{uuid.uuid4().hex}"
    finder = _PackageFinder(namespace, package_dir.resolve())
    install_compox_modules(f"{namespace}.{COMPOX}")
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(f"{namespace}.Runner")
        runner_class = getattr(module, "Runner", None)
        if not (isinstance(runner_class, type) and issubclass(runner_class, BaseRunner)):
            raise InvalidInputError("Runner.py must define `class Runner(BaseRunner)`")
    except BaseException:
        _remove_namespace(namespace)
        raise
    return runner_class


def unload_runner(runner: BaseRunner) -> None:
    """Drop the runner's import namespace (its modules and finder) from the interpreter."""
    _unload_class(type(runner))


def _unload_class(runner_class: type[BaseRunner]) -> None:
    namespace = runner_class.__module__.split(".", 1)[0]
    if namespace.startswith(NAMESPACE_PREFIX):
        _remove_namespace(namespace)


def _remove_namespace(namespace: str) -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "namespace", None) != namespace]
    for name in [name for name in sys.modules if name == namespace or name.startswith(f"{namespace}.")]:
        del sys.modules[name]


def install_compox_modules(root: str) -> types.ModuleType:
    """Serve Compox's module paths (COMPOX_MODULES) under the package name ``root``; returns its module.

    The worker installs them under each algorithm's own namespace (imports are rewritten to reach them
    there), so no top-level `compox` is importable there and a real compox installation is never
    shadowed; only the author kit installs them as top-level `compox`, on request.
    """
    for dotted, module in COMPOX_MODULES.items():
        parent = root
        for part in dotted.split(".")[:-1]:
            child = f"{parent}.{part}"
            setattr(_ensure_stub(parent), part, _ensure_stub(child))
            parent = child
        leaf = dotted.rsplit(".", 1)[-1]
        setattr(_ensure_stub(parent), leaf, module)
        sys.modules[f"{parent}.{leaf}"] = module
    return sys.modules[root]


def _ensure_stub(name: str) -> types.ModuleType:
    if name not in sys.modules:
        stub = types.ModuleType(name, "Compox's module path, served by stratus.algorithms.runtime")
        stub.__path__ = []  # a package, so a missing submodule reads as ModuleNotFoundError
        sys.modules[name] = stub
    return sys.modules[name]


def _local_tops(root: Path) -> frozenset[str]:
    """The names a package's absolute imports may use for its own modules (Compox's relativizer's rule)."""
    names = {COMPOX}
    for item in root.iterdir():
        if item.is_file() and item.suffix == ".py" and item.stem != "__init__":
            names.add(item.stem)
        elif item.is_dir() and item.name.isidentifier() and any(item.rglob("*.py")):
            names.add(item.name)
    return frozenset(names)


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of one package under its synthetic namespace; answers for nothing else."""

    def __init__(self, namespace: str, root: Path) -> None:
        self.namespace = namespace
        self.root = root
        self.local_tops = _local_tops(root)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 (the finder protocol's signature)
        target: types.ModuleType | None = None,  # noqa: ARG002 (the finder protocol's signature)
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.namespace and not fullname.startswith(f"{self.namespace}."):
            return None
        parts = fullname.split(".")[1:]
        if parts[:1] == [COMPOX]:
            return None  # only the aliases in sys.modules exist there
        base = self.root.joinpath(*parts)
        if base.is_dir():
            init = base / "__init__.py"
            source = init if init.is_file() else None
            loader = _RewritingLoader(source, parts, self.local_tops)
            spec = importlib.machinery.ModuleSpec(
                fullname, loader, origin=str(source) if source else None, is_package=True
            )
            spec.submodule_search_locations = [str(base)]
            spec.has_location = source is not None
            return spec
        source = base.with_suffix(".py")
        if parts and source.is_file():
            loader = _RewritingLoader(source, parts[:-1], self.local_tops)
            spec = importlib.machinery.ModuleSpec(fullname, loader, origin=str(source))
            spec.has_location = True
            return spec
        return None


class _RewritingLoader(importlib.abc.Loader):
    """Executes a source file with its absolute imports of the package's own modules made relative."""

    def __init__(self, source: Path | None, package_parts: list[str], local_tops: frozenset[str]) -> None:
        self.source = source
        self.package_parts = package_parts
        self.local_tops = local_tops

    def create_module(
        self,
        spec: importlib.machinery.ModuleSpec,  # noqa: ARG002 (the loader protocol's signature)
    ) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        if self.source is None:
            return  # a folder without __init__.py: an empty package, as Compox's deployer would make it
        tree = ast.parse(self.source.read_bytes(), filename=str(self.source))
        tree = _ImportRewriter(self.local_tops, len(self.package_parts) + 1).visit(tree)
        ast.fix_missing_locations(tree)
        # Compiled under the real path with original line numbers, so tracebacks point into the package.
        code = compile(tree, str(self.source), "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _ImportRewriter(ast.NodeTransformer):
    """`from helpers.x import y` → `from .helpers.x import y` (dots up to the package root), and the like."""

    def __init__(self, local_tops: frozenset[str], level: int) -> None:
        self.local_tops = local_tops
        self.level = level

    def _is_local(self, dotted: str | None) -> bool:
        return bool(dotted) and str(dotted).split(".", 1)[0] in self.local_tops

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        if node.level == 0 and self._is_local(node.module):
            return ast.copy_location(
                ast.ImportFrom(module=node.module, names=node.names, level=self.level), node
            )
        return node

    def visit_Import(self, node: ast.Import) -> list[ast.stmt]:
        statements: list[ast.stmt] = []
        for alias in node.names:
            if not self._is_local(alias.name):
                statements.append(ast.Import(names=[alias]))
                continue
            head, _, leaf = alias.name.rpartition(".")
            if alias.asname:
                # `import a.b.c as x` binds the leaf module itself.
                statements.append(
                    ast.ImportFrom(
                        module=head or None, names=[ast.alias(leaf, alias.asname)], level=self.level
                    )
                )
                continue
            top = alias.name.split(".", 1)[0]
            if head:
                # `import a.b.c` loads every level, then binds `a`; importing the leaf loads its parents.
                statements.append(
                    ast.ImportFrom(module=head, names=[ast.alias(leaf, _SCRATCH_NAME)], level=self.level)
                )
                statements.append(ast.Delete(targets=[ast.Name(_SCRATCH_NAME, ctx=ast.Del())]))
            statements.append(ast.ImportFrom(module=None, names=[ast.alias(top)], level=self.level))
        return [ast.copy_location(statement, node) for statement in statements]
