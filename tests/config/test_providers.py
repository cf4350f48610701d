"""A provider's variables come from the environment, else from `./.env`, read once per version of the file: a model
call asks for several (the key, the base URL, the organization, the project), and an edited file counts at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.providers import missing_key, provider_env


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_environment_first_then_the_last_assignment_in_dotenv(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (here / ".env").write_text("OPENAI_API_KEY=old\n# a comment\nOPENAI_API_KEY='sk-new'\nOPENAI_PROJECT_ID=\n")
    assert provider_env("OPENAI_API_KEY") == "sk-new" and provider_env("OPENAI_PROJECT_ID") == ""
    assert missing_key("openai/gpt-4o-mini", None) == ""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert provider_env("OPENAI_API_KEY") == "sk-env"


def test_dotenv_is_read_once_per_version(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = here / ".env"
    dotenv.write_text("OPENAI_API_KEY=sk-1\n")
    reads: list[Path] = []
    read_text = Path.read_text

    def counted(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    assert [provider_env(n) for n in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY")] == ["sk-1", "", "sk-1"]
    assert len(reads) <= 1
    dotenv.write_text("OPENAI_API_KEY=sk-22\n")  # edited (another size): read again
    assert provider_env("OPENAI_API_KEY") == "sk-22"
    dotenv.unlink()
    assert provider_env("OPENAI_API_KEY") == "" and missing_key("openai/gpt-4o-mini", None) == "OPENAI_API_KEY"
