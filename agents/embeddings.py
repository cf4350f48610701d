"""Embeddings from a provider (`DEPUTY_EMBEDDING_MODEL`): `openai/<name>` (e.g. `openai/text-embedding-3-small`,
or an OpenAI-compatible server at `DEPUTY_LLM_API_BASE`) over Deputy's own client (agents/openai_compat.py),
any other provider through litellm."""

from __future__ import annotations

import numpy as np

from agents.litellm_lib import litellm
from agents.openai_compat import embed, native
from memory.embedder import Vectors


class LiteLLMEmbedder:
    """Named for the model names it takes (litellm's); only a non-OpenAI provider's calls load litellm."""

    def __init__(self, model: str, api_base: str | None = None, dims: int = 0) -> None:
        self.model, self.api_base, self.dims = model, api_base, dims
        self.name = model.replace("/", "_")

    async def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        vectors = np.asarray(await self._vectors(texts), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.dims = vectors.shape[1]
        unit: Vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        return unit

    async def _vectors(self, texts: list[str]) -> list[list[float]]:
        if native(self.model):
            return await embed(self.model, texts, self.api_base)
        options = {"api_base": self.api_base} if self.api_base else {}
        response = await litellm().aembedding(model=self.model, input=texts, **options)
        return [item["embedding"] for item in response.data]
