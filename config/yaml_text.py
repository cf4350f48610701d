"""YAML read the quick way, with the helpful message when it can't be.

PyYAML's pure-Python parser spends about 0.1 s of CPU on the built-in playbooks, in every process that reads them
(the web app, each worker, `deputy doctor`). libyaml's parser, shipped in PyYAML's wheels, reads the same files in a
tenth of that and builds the same values with the same safe constructor. Its error messages are terser ("did not
find expected key", no snippet), so a file that fails is read again with the pure-Python parser for the message
that names what it found and where."""

from __future__ import annotations

from typing import Any

import yaml

_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Any:
    """`yaml.safe_load(text)`, quickly; raises `yaml.YAMLError` with the pure-Python parser's message."""
    try:
        return yaml.load(text, Loader=_FAST)
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
    return yaml.safe_load(text)  # the same document again, for the message; it raises as the fast one did
