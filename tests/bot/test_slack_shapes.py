"""Shapes Bolt would choke on behind the ack are refused before they are stored (a 400 from the web app)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.payloads import Malformed
from bot.slack.requests import check

FORM = "application/x-www-form-urlencoded"


def submission(**view: object) -> bytes:
    payload = {"type": "view_submission", "user": {"id": "U1"}, "view": {"state": {"values": {}}, **view}}
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize("missing", ["id", "type", "callback_id"])
def test_a_view_submission_without_a_field_bolt_indexes_is_malformed(missing: str) -> None:
    view = {"id": "V1", "type": "modal", "callback_id": "deputy-reject"}
    del view[missing]
    with pytest.raises(Malformed, match=f"view.{missing}"):
        check(submission(**view), FORM)


def test_a_whole_view_submission_passes() -> None:
    assert check(submission(id="V1", type="modal", callback_id="deputy-reject"), FORM).kind == "interaction"
