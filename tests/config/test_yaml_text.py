"""Deputy's YAML files are read with libyaml's parser, and a file that fails says what the pure-Python parser
says: what it found and where."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import yaml_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "config").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_file_reads_the_same_as_safe_load(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yaml_text.parse(text) == yaml.safe_load(text)


def test_a_broken_file_names_what_was_found_and_shows_the_line() -> None:
    with pytest.raises(yaml.YAMLError) as err:
        yaml_text.parse("auto_approve: [\n  - name: x\n")
    assert "expected the node content, but found '-'" in str(err.value) and "  - name: x" in str(err.value)


def test_tags_that_build_python_objects_are_refused() -> None:
    with pytest.raises(yaml.YAMLError, match="could not determine a constructor"):
        yaml_text.parse("a: !!python/object/apply:os.system [echo hi]\n")
