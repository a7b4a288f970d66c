"""The bundled all-MiniLM-L6-v2 on CPU, with transformers and torch only.

The model is a BERT encoder whose token vectors are averaged over the text's tokens and scaled to
length 1 (the model folder's `modules.json`: Transformer, mean Pooling, Normalize), which is what
its model card shows for plain transformers. sentence-transformers computes the same vectors
(within 2e-7), but importing it also imports scikit-learn and much of transformers: the
embedding process was ready after about 7.5 s on 2 cores, and about 4 s this way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from runtime.errors import ConfigError

BATCH_SIZE = 32  # texts per forward pass, as sentence-transformers batches them


def _max_length(path: Path) -> int:
    config = path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length") or 256)
    return 256


def _check_mean_pooling(path: Path) -> None:
    pooling = path / "1_Pooling" / "config.json"
    if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
        raise ConfigError(f"{path} does not average its token vectors; only mean-pooling models are supported.")


class MiniLMEmbeddings(Embeddings):
    """Mean-pooled, normalised BERT sentence vectors of the model in `path` (CPU).

    One forward pass at a time: a fast tokenizer must not be used by two threads at once, and one
    pass already keeps every core busy."""

    queries_as_documents = True  # a query's vector is its document vector: a batch of queries is one pass

    def __init__(self, path: Path) -> None:
        import torch
        from transformers import AutoTokenizer, BertModel

        _check_mean_pooling(path)
        self.path = path
        self.max_length = _max_length(path)
        self._torch = torch
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
        self._model: Any = BertModel.from_pretrained(str(path))
        self._model.eval()
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> list[list[float]]:
        torch = self._torch
        with self._lock, torch.inference_mode():
            encoded = self._tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            tokens = self._model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vectors: list[list[float]] = torch.nn.functional.normalize(mean, p=2, dim=1).tolist()
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            out.extend(self._embed(list(texts[start : start + BATCH_SIZE])))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]
