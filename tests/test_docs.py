"""The README keeps its promises: every setting documented, the two commands present, .ci/run calls
the README's test command."""

from __future__ import annotations

from pathlib import Path

from latentwalk.config import documented_settings, settings_from_env

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name, help_text in documented_settings():
        assert help_text, f"setting {name} has no help text"
        assert f"| `{name}` |" in README, f"setting {name} is missing from the README's settings table"


def test_readme_commands_and_ci_agree() -> None:
    assert "make serve" in README and "make test" in README
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci.split("\n", 3)[-1]


def test_env_overrides(tmp_path: Path) -> None:
    s = settings_from_env(
        {
            "LATENTWALK_MODELS": f"{tmp_path}/a:{tmp_path}/b",
            "LATENTWALK_PORT": "9001",
            "LATENTWALK_DEVICE": "cpu",
        }
    )
    assert s.models_dirs[:2] == (tmp_path / "a", tmp_path / "b") and s.port == 9001 and s.device == "cpu"
