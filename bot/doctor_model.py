"""`deputy doctor`'s model call: one tiny real request per configured model (a few tokens; its cost is shown), in
the shapes Deputy will send, so a server that refuses one (llama-cpp-python and `json_schema`; a chat template
without a system role) is named with the setting that fits before any task meets it. `deputy doctor` checks; it
does not remember: the workers find the same out on their first call and remember it themselves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from agents.capabilities import Shape
from agents.llm import Raw
from agents.openai_compat import OpenAITransport, close_session, native, sibling
from agents.prompts import Message, fold_system
from agents.transports import LiteLLMTransport
from bot.checks import Check
from config.prices import parse_prices
from config.settings import Settings
from orchestrator.errors import ModelError, ModelRefused
from orchestrator.outbound import money

PING: list[Message] = [
    {"role": "system", "content": "Answer with one JSON object and nothing else."},
    {"role": "user", "content": 'Answer {"ok": true}'},
]


class Ping(BaseModel):
    ok: bool


@dataclass
class Probe:
    shape: Shape
    refused: list[str] = field(default_factory=list)


async def check_model_calls(settings: Settings) -> list[Check]:
    """Each configured model (drafting, verify, fallback) once; the built-in one needs no call."""
    models = [settings.llm_model, settings.verify_model, settings.llm_fallback_model]
    remote = [m for m in dict.fromkeys(models) if m and m not in ("offline", "offline/deputy")]
    if not remote:
        return []
    try:
        return [await _check(settings, model) for model in remote]
    finally:
        await close_session()


async def _check(settings: Settings, model: str) -> Check:
    remote = LiteLLMTransport(
        settings.llm_api_base,
        parse_prices(settings.llm_prices),
        structured=settings.llm_structured,
        timeout=settings.llm_timeout_s,
    )
    transport = sibling(remote) if native(model) else remote
    probe, started = Probe(Shape(transport.first_format(model))), time.monotonic()
    try:
        raw = await _ask(transport, model, probe)
    except ModelError as err:
        return Check("Model call", False, f"{model}: {err}")
    took = f"{time.monotonic() - started:.1f} s"
    cost = "unpriced" if raw.usd is None else money(raw.usd)
    said = f"{model} answers ({_format_words(probe.shape)}) in {took} · {cost}"
    if not probe.refused:
        return Check("Model call", True, said)
    return _advice(settings, said, probe)


async def _ask(transport: LiteLLMTransport | OpenAITransport, model: str, probe: Probe) -> Raw:
    """The ping, stepping down the ladder as the server refuses, as a worker's first call does."""
    while True:
        messages = PING if probe.shape.system else fold_system(PING)
        try:
            return await transport(model, messages, json_mode=True, max_tokens=20, schema=Ping, fmt=probe.shape.format)
        except ModelRefused as err:
            lower = probe.shape.down() if err.what == "format" else Shape(probe.shape.format, system=False)
            if lower is None or (err.what == "system" and not probe.shape.system):
                raise
            probe.refused.append(f"{_format_words(probe.shape)} refused: {err}")
            probe.shape = lower


def _advice(settings: Settings, said: str, probe: Probe) -> Check:
    """What the server refused and the setting that matches it. With `on` (the schema asked for) it is to fix;
    otherwise Deputy steps down by itself and the line is for information."""
    why = "; ".join(probe.refused)
    if probe.shape.format != "json_schema" and settings.llm_structured != "off":
        fix = "set DEPUTY_LLM_STRUCTURED=off: this server does not take a JSON schema"
        forced = settings.llm_structured == "on"
        return Check("Model call", not forced, f"{said}. {why}. {fix}", info=not forced)
    then = "Deputy asks in that shape by itself"
    return Check("Model call", True, f"{said}. {why}. {then}", info=True)


def _format_words(shape: Shape) -> str:
    words = {"json_schema": "JSON schema", "json_object": "JSON mode", "text": "plain text asking for JSON"}
    return words[shape.format] + ("" if shape.system else ", no system role")
