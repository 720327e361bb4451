"""The docs match the code: the generated reference pages are current, and every
`driftwarden ...` command shown in a code block of the README or docs/ parses with the
real CLI (its sub-commands, options and values), so a renamed option breaks this test
instead of a reader's copy-paste."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_parse import leaf_context
from factories import CLI
from typer.core import TyperGroup

from monitor.cli import app
from monitor.cli_docs import PAGES, generate, render_all, setting_comments

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
# Hand-written pages: the generated reference holds usage lines, not commands to run.
PAGES_WITH_COMMANDS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_reference_pages_are_current() -> None:
    """What the lead runs before a commit: `driftwarden docs generate --check`."""
    done = subprocess.run(
        [CLI, "docs", "generate", "--check"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"run `driftwarden docs generate`:\n{done.stdout}{done.stderr}"


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    generate(out=tmp_path, check=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PAGES)
    generate(out=tmp_path, check=True)  # current: returns
    page = tmp_path / "settings.md"
    page.write_text(page.read_text().replace("DRIFTWARDEN_BATCH_SIZE", "DRIFTWARDEN_BATCH"))
    with pytest.raises(typer.Exit) as stale:
        generate(out=tmp_path, check=True)
    assert stale.value.exit_code == 1
    assert "DRIFTWARDEN_BATCH" in page.read_text()  # --check writes nothing
    generate(out=tmp_path, check=False)
    assert "DRIFTWARDEN_BATCH_SIZE" in page.read_text()


def test_reference_pages_cover_the_code() -> None:
    from monitor.api.app import create_app  # noqa: PLC0415
    from monitor.config import ENV_PREFIX, Settings  # noqa: PLC0415

    pages = render_all()
    for field in Settings.model_fields:
        assert f"`{ENV_PREFIX}{field.upper()}`" in pages["settings.md"], field
    schema = create_app(Settings.model_construct()).openapi()
    for path, item in schema["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in pages["api.md"], (method, path)
    for path, _, _ in commands(typer.main.get_command(app), None, ["driftwarden"]):
        assert f"## `{' '.join(path)}`" in pages["cli.md"], path


def commands(cmd: Any, parent: Any, path: list[str]) -> Any:
    ctx = typer.Context(cmd, info_name=path[-1], parent=parent)
    yield path, cmd, ctx
    if isinstance(cmd, TyperGroup):
        for name in cmd.list_commands(ctx):
            yield from commands(cmd.get_command(ctx, name), ctx, [*path, name])


def test_setting_comments_cover_the_fields_they_name() -> None:
    source = """
class Settings:
    plain: int = 1
    # Said of a only.
    a: int = 1
    b: int = 2
    # Window start and window_end.
    window_start: int = 0
    window_end: int = 1

    # After a blank line: retry_initial_s, and retry_max_s by its prefix.
    retry_initial_s: float = 1.0
    retry_max_s: float = 2.0
"""
    assert setting_comments(source) == {
        "plain": "",
        "a": "Said of a only.",
        "b": "",
        "window_start": "Window start and window_end.",
        "window_end": "Window start and window_end.",
        "retry_initial_s": "After a blank line: retry_initial_s, and retry_max_s by its prefix.",
        "retry_max_s": "After a blank line: retry_initial_s, and retry_max_s by its prefix.",
    }


def documented_commands() -> list[tuple[str, str]]:
    """(where, command line) of every `driftwarden ...` line in a fenced code block."""
    found = []
    for page in PAGES_WITH_COMMANDS:
        text = page.read_text()
        for block in FENCE.findall(text):
            lines = block.replace("\\\n", " ").splitlines()
            for raw in lines:
                line = raw.strip().removeprefix("$ ")
                if line.startswith("driftwarden ") and not line.startswith("driftwarden-"):
                    found.append((page.relative_to(ROOT).as_posix(), line))
    return found


DOCUMENTED = documented_commands()


def test_docs_show_commands() -> None:
    assert len(DOCUMENTED) > 30
    assert {where for where, _ in DOCUMENTED} >= {
        "README.md",
        "docs/concepts.md",
        "docs/instrumenting.md",
        "docs/production.md",
    }


@pytest.mark.parametrize(("where", "line"), DOCUMENTED, ids=[f"{w}: {c}" for w, c in DOCUMENTED])
def test_documented_command_parses(where: str, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # files the docs name (examples/, rules.yaml) are found
    # `[--name training]`: an optional part in usage notation, parsed as if given.
    args = shlex.split(re.sub(r"\[([^\]]*)\]", r"\1", line), comments=True)[1:]
    args = args[: args.index("|")] if "|" in args else args
    try:
        context = leaf_context(args)
    except typer.BadParameter as exc:
        # A placeholder file (train.csv) is the reader's: the option itself parsed.
        if "does not exist" not in str(exc):
            raise AssertionError(f"{where}: {line}\n{exc}") from None
    except Exception as exc:  # click's usage errors
        raise AssertionError(f"{where}: {line}\n{exc}") from None
    else:
        assert context.command.callback is not None
