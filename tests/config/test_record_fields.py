"""`records.yaml`: extra fields join the built-in ones and are checked like them; a wrong file is one line naming
the file and the entry, in `deputy doctor` too."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.record_fields import record_schema
from orchestrator.errors import BadRequest, ConfigError
from orchestrator.records import Schema, check, split_edit
from tests.conftest import deputy


def test_extra_fields_join_the_built_in_ones(tmp_path: Path) -> None:
    path = tmp_path / "records.yaml"
    path.write_text("client:\n  size: {type: choice, choices: [small, large]}\n  vat_id: {names: [nip]}\n")
    schema = record_schema(path)
    assert split_edit(schema, "Acme nip PL123") == ("client", "Acme", "vat_id", "PL123")
    assert check(schema.client["size"], "size", "Large") == "large"
    with pytest.raises(BadRequest, match="size is one of small, large"):
        check(schema.client["size"], "size", "huge")
    assert record_schema(tmp_path / "none.yaml") == Schema()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("client:\n  terms: {type: line}\n", "client already has the field terms"),
        ("client:\n  size: {type: choice}\n", "a choice field needs choices"),
        ("client:\n  size: {type: colour}\n", "client.size.type"),
        ("clients: {}\n", "clients"),
    ],
)
def test_a_wrong_file_names_the_entry(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "records.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=said):
        record_schema(path)


def test_doctor_names_a_wrong_records_file(env: dict[str, str], tmp_path: Path) -> None:
    data = Path(env["DEPUTY_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "records.yaml").write_text("client:\n  terms: {type: line}\n")
    result = deputy("doctor", env=env, cwd=tmp_path)
    assert "FIX Policies and playbooks:" in result.stdout and "records.yaml" in result.stdout
    assert "Traceback" not in result.stderr
