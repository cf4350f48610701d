"""litellm (seconds of CPU, ~130 MB) is paid only by the process that calls models: with a hosted model
configured, `deputy worker`'s parent warms everything else before forking and leaves litellm to the job
process, which imports it as it starts, before its first job (issue 30)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from agents import runtime
from bot.worker import preload
from config.settings import load_settings

preload(load_settings())
print("parent", "litellm" in sys.modules)
runtime.started()
print("job process", "litellm" in sys.modules)
"""


def test_only_the_job_process_imports_litellm(env: dict[str, str]) -> None:
    hosted = {**env, "DEPUTY_LLM_MODEL": "openai/fake", "DEPUTY_LLM_API_BASE": "http://127.0.0.1:9/v1"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=hosted, capture_output=True, text=True, timeout=120, cwd=env["PYTHONPATH"]
    )
    assert result.stdout.splitlines() == ["parent False", "job process True"], result.stderr[-2000:]
