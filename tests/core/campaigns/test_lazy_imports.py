"""The API's part of the engine imports and works without optuna, matplotlib, torch and scipy."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    HEAVY = {"optuna", "matplotlib", "torch", "scipy"}


    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                raise ImportError(f"{name} is blocked in this test")
            return None


    sys.meta_path.insert(0, Blocker())

    from stratus import campaigns as engine

    schema = {"properties": {"n": {"type": "integer", "minimum": 1}, "mode": {"type": "string"}}}
    objectives = [{"name": "f"}]
    grid = engine.OptimizerSpec.model_validate(
        {"kind": "grid", "search_space": {"n": {"values": [1, 2]}}, "objectives": objectives, "budget": 9}
    )
    grid = engine.check_spec(grid, schema)
    rows = engine.read_rows_csv("n,mode\\n3,a\\n", schema)
    table = engine.OptimizerSpec(kind="table", rows=rows, objectives=objectives, budget=1)
    assert engine.suggest(grid, [], 5) == [{"n": 1}, {"n": 2}]
    assert engine.suggest(table, [], 5) == [{"n": 3, "mode": "a"}]
    done = engine.Observation(parameters={"n": 1}, values=[1.0], status="COMPLETED")
    assert engine.best(grid, [done]) == [0] and engine.planned_trials(grid) == 2
    trial = {"trial": 1, "status": "COMPLETED", "parameters": {"n": 1}, "kpis": {"f": 1.0}}
    text = engine.history_csv(grid, [trial])
    assert engine.read_history_csv(text, grid)[0].values == [1.0]
    assert "gp" in engine.optimizer_schemas()["optimizers"]
    assert not HEAVY & {name.split(".")[0] for name in sys.modules}
    try:
        engine.render_plot(grid, [done])
    except ImportError:
        print("ok")
    """
)


def test_campaigns_api_parts_work_without_optuna_or_matplotlib() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"  # the blocker works: the plot needs matplotlib
