"""Words a user sees: config descriptions in the user's terms, pointers that an installed wheel can
follow, docs that agree with the README, every table column explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dis_rl.cli import build_parser
from dis_rl.resources import config_names, configs_dir, doc_path

REPO = Path(__file__).parents[1]


def test_shipped_configs_speak_of_what_they_do_not_of_tracker_issues():
    for name in config_names():
        comments = [line for line in (configs_dir() / f"{name}.yaml").read_text().splitlines()
                    if line.lstrip().startswith("#") or " # " in line]
        found = [line for line in comments if re.search(r"\bissues?\s*#?\d+", line, re.I)]
        assert not found, (name, found)


def test_help_points_at_guides_the_wheel_ships():
    tomllib = pytest.importorskip("tomllib")
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"]["dis_rl.docs"] == "docs" and "dis_rl.docs" in tool["packages"]
    assert "*.md" in tool["package-data"]["*"]
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    text = " ".join(p.format_help() for p in subcommands.values())
    assert str(doc_path("RL.md")) in text.replace("\n", "").replace(" ", "") or "RL.md" in text
    for name in re.findall(r"([A-Z]+\.md)", text):
        assert doc_path(name).is_file(), name
    assert "docs/RL.md" not in subcommands["rl"].format_help().replace(str(doc_path("RL.md")), "")


def test_rl_guide_agrees_with_the_readme_and_sweep_columns_are_explained():
    rl = (REPO / "docs" / "RL.md").read_text()
    assert "Not measured yet" not in rl and "compare_rl_nqueens" in rl
    assert "RL baselines on N-Queens" in (REPO / "README.md").read_text()
    guidance = (REPO / "docs" / "GUIDANCE.md").read_text()
    assert "`distance` (cells differing from the" in guidance
