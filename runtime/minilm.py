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
from concurrent.futures import ThreadPoolExecutor
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

    A batch of several texts is split into `threads` parts (0: torch's default, one per core),
    each run by a thread of its own with torch single-threaded; one text runs on `threads` of
    torch's threads. Split this way a batch has one meeting point, at its end, where torch's
    own threads meet at every operation: on a machine whose cores the API process also uses,
    a thread that lost its core held up its partner at each of them. Measured on 2 cores
    (`python -m bench.twin_routing`), routing served about 12% more queries per second at 16
    and 64 clients, and the model alone about 8% more texts per second.

    One batch at a time: a fast tokenizer must not be used by two threads at once, and one
    batch already keeps every core busy."""

    queries_as_documents = True  # a query's vector is its document vector: a batch of queries is one pass

    def __init__(self, path: Path, *, threads: int = 0) -> None:
        import torch
        from transformers import AutoTokenizer, BertModel

        _check_mean_pooling(path)
        self.path = path
        self.max_length = _max_length(path)
        self.threads = threads if threads > 0 else torch.get_num_threads()
        self._torch = torch
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
        self._model: Any = BertModel.from_pretrained(str(path))
        self._model.eval()
        self._lock = threading.Lock()
        self._parts: ThreadPoolExecutor | None = None  # started with the first batch to split

    def _encode(self, texts: list[str]) -> Any:
        return self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def _forward(self, encoded: Any, threads: int) -> Any:
        """Normalised mean vectors of one encoded batch, on `threads` of torch's threads (a
        setting of the calling thread)."""
        torch = self._torch
        torch.set_num_threads(threads)
        with torch.inference_mode():
            tokens = self._model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            parts = min(self.threads, len(texts))
            if parts <= 1:
                vectors: list[list[float]] = self._forward(self._encode(texts), self.threads).tolist()
                return vectors
            bounds = [round(i * len(texts) / parts) for i in range(parts + 1)]
            encoded = [self._encode(texts[start:end]) for start, end in zip(bounds, bounds[1:])]
            if self._parts is None:
                self._parts = ThreadPoolExecutor(self.threads, thread_name_prefix="minilm")
            vectors = self._torch.cat(list(self._parts.map(self._forward, encoded, [1] * parts))).tolist()
            return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            out.extend(self._embed(list(texts[start : start + BATCH_SIZE])))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]
