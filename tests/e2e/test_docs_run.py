"""Every bash and Python block of README.md and docs/*.md, run as a user pastes them, against a local stack.

The convention (STYLE.md §15): each Markdown file becomes ONE bash script, its ```bash blocks verbatim and
its ```python blocks as `python - <<'PY' … PY`, in document order, under `set -euo pipefail`, in a fresh
empty folder, with STRATUS_URL and STRATUS_TOKEN exported for the stack (a tenant of its own per file)
and the venv's bin first on PATH. Illustration goes in ```text blocks and commands that need a real AWS
account in ```console blocks; those are not run, and each test prints the console blocks it skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from markdown_it import MarkdownIt

if TYPE_CHECKING:
    from collections.abc import Iterator

    from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUN_KINDS = frozenset({"bash", "python"})
NOT_RUN_KIND = "console"
# Fence languages that read as runnable but that the convention would silently skip.
MISSPELT_KINDS = frozenset({"sh", "shell", "zsh", "py", "python3"})
# The README's first block is the set-up block: the only bash block that is not run (make inside make test).
SETUP_COMMANDS = ["make dev", "make test"]
HEREDOC_END = "PY"
# Under pytest-timeout's 300 s, which for the first file also covers starting the stack.
TIMEOUT_S = 200
OUTPUT_TAIL_CHARS = 4000
# What a file must print beyond exiting 0 (its walkthroughs' `wait_for` already fail unless COMPLETED).
EXPECTED_OUTPUT: dict[str, tuple[str, ...]] = {
    "README.md": (
        r"(?m)^files/unet3d\.pt ",  # the export with the best checkpoint carries the trained weights
        r"(?m)^COMPLETED 100%( [\w-]+=COMPLETED){4}$",  # the workflow ran every step
        r"(?m)^COMPLETED 100%( [\w-]+=COMPLETED\(cached\)){4}$",  # and the same DAG again came from the cache
        r'(?m)^\{"detail":"[^"]*cycle[^"]*","code":"invalid_input"\}$',  # a cycle is refused
    ),
}


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file."""

    kind: str  # the fence's language, "" when it names none
    line: int  # of the opening fence, counted from 1 as editors do
    text: str


def discover_docs() -> list[Path]:
    """README.md and every docs/*.md, found at collection so a new doc is run without a change here."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path``, in document order (indented ones inside list items too)."""
    tokens = MarkdownIt("commonmark").parse(path.read_text())
    return [
        Block(token.info.split()[0] if token.info.strip() else "", token.map[0] + 1, token.content)
        for token in tokens
        if token.type == "fence" and token.map is not None
    ]


def is_setup_block(path: Path, index: int) -> bool:
    """The README's first block: `make dev` and `make test`, shown but never run."""
    return path == README and index == 0


def commands_of(block: Block) -> list[str]:
    """The block's commands, comments and blank lines left out."""
    commands = (line.split("#", 1)[0].strip() for line in block.text.splitlines())
    return [command for command in commands if command]


def build_script(blocks: list[Block], marker: Path) -> str:
    """One bash script of the run blocks; before each, the block's line number goes to ``marker``."""
    parts = ["set -euo pipefail"]
    for block in blocks:
        parts.append(f"echo {block.line} > '{marker}'")
        if block.kind == "bash":
            parts.append(block.text)
        else:
            assert HEREDOC_END not in block.text.splitlines(), (
                f"line {block.line}: a line reads {HEREDOC_END}"
            )
            parts.append(f"python - <<'{HEREDOC_END}'\n{block.text}{HEREDOC_END}")
    return "\n".join(parts) + "\n"


def run_script(script: Path, cwd: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """Run ``script`` with bash; its exit status (None past TIMEOUT_S) and its output, stderr merged in."""
    with subprocess.Popen(
        ["bash", str(script)],  # noqa: S607  # bash from PATH, as a user's shell
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so a timeout ends the curl or python a block is waiting on, too
    ) as process:
        try:
            output, _ = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return None, output
        return process.returncode, output


def user_environment(stack: LocalStackProcess, path: Path, config: Path, scratch: Path) -> dict[str, str]:
    """A user's fresh shell with the venv active, signed in to ``stack`` as a tenant of the file's own
    (no doc sees another's files, algorithms or jobs). HOME stays the user's (the sandbox exposes the
    Python runtime from it); the CLI's config file goes to a folder of the test's own."""
    tenant = "docs-" + re.sub(r"[^A-Za-z0-9]+", "-", path.stem.lower())
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "XDG_CONFIG_HOME": str(config),
        "TMPDIR": str(scratch),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "STRATUS_URL": stack.api_url,
        "STRATUS_TOKEN": stack.headers(tenant)["Authorization"].removeprefix("Bearer "),
    }


@pytest.fixture
def scratch() -> Iterator[Path]:
    """The blocks' TMPDIR: like /tmp, open to every user (sticky), since an algorithm sandboxed under its
    own user stages its files there; pytest's tmp_path sits under a folder only its owner can enter."""
    folder = Path(tempfile.mkdtemp(prefix="stratus-docs-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_readme_first_block_is_the_setup_block() -> None:
    blocks = read_blocks(README)

    first = blocks[0]

    assert first.kind == "bash", f"README.md line {first.line}: the first block must be ```bash"
    assert commands_of(first) == SETUP_COMMANDS, f"README.md line {first.line}: {commands_of(first)}"


def test_build_script_marks_the_failing_block_by_its_line(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# A doc\n\n```bash\nGREETING=hello\n```\n\n```text\nnot run\n```\n\n"
        "```python\nprint('python ran')\n```\n\n```bash\necho \"$GREETING\"\nfalse\necho unreachable\n```\n"
    )
    runs = [block for block in read_blocks(doc) if block.kind in RUN_KINDS]
    marker = tmp_path / "block"
    script = tmp_path / "doc.sh"
    script.write_text(build_script(runs, marker))
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    status, output = run_script(script, tmp_path, env)

    assert [block.line for block in runs] == [3, 11, 15]
    assert (status, marker.read_text().strip()) == (1, "15")
    assert output.splitlines() == ["python ran", "hello"]


@pytest.mark.parametrize("path", discover_docs(), ids=lambda path: str(path.relative_to(ROOT)))
def test_doc_blocks_run(
    path: Path,
    local_stack: LocalStackProcess,
    tmp_path: Path,
    scratch: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = path.relative_to(ROOT)
    blocks = read_blocks(path)
    misspelt = [f"line {block.line}: ```{block.kind}" for block in blocks if block.kind in MISSPELT_KINDS]
    assert not misspelt, f"{name}: use ```bash or ```python (run), or ```text / ```console: {misspelt}"
    runs = [
        block
        for index, block in enumerate(blocks)
        if block.kind in RUN_KINDS and not is_setup_block(path, index)
    ]
    skipped = [block for block in blocks if block.kind == NOT_RUN_KIND]
    with capsys.disabled():  # for the reviewer: what this file shows but the test does not run
        listed = ", ".join(f"line {block.line} {commands_of(block)[:1]}" for block in skipped)
        print(f"\n{name}: {len(runs)} blocks run; console blocks not run: {listed or 'none'}")
    marker, script = tmp_path / "block", tmp_path / "doc.sh"
    script.write_text(build_script(runs, marker))
    work, config = tmp_path / "work", tmp_path / "config"
    for folder in (work, config):
        folder.mkdir()

    status, output = run_script(script, work, user_environment(local_stack, path, config, scratch))

    line = marker.read_text().strip() if marker.exists() else "?"
    failed = next((block for block in runs if str(block.line) == line), None)
    first = commands_of(failed)[:1] if failed else []
    ended = f"timed out after {TIMEOUT_S} s" if status is None else f"exited {status}"
    tail = output[-OUTPUT_TAIL_CHARS:]
    assert status == 0, f"{name}: the block at line {line} {first} {ended}; the output's end:\n{tail}"
    missing = [pattern for pattern in EXPECTED_OUTPUT.get(str(name), ()) if not re.search(pattern, output)]
    assert not missing, f"{name}: ran, but printed nothing like {missing}; the output's end:\n{tail}"
