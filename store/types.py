"""Types shared by the repositories: the pool they take and pgvector's text form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import orjson
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

# The service's pool: autocommit connections whose rows are dicts (runtime.database.make_pool).
Connection: TypeAlias = AsyncConnection[DictRow]
Pool: TypeAlias = AsyncConnectionPool[AsyncConnection[DictRow]]


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, cast with `::vector` in SQL. pgvector stores float32, so the values
    are written as the shortest text that reads back to the same float32 (orjson does it in C,
    about 6x faster than formatting each float in Python)."""
    return orjson.dumps(np.asarray(vector, dtype=np.float32), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def one_row(row: DictRow | None) -> DictRow:
    """The row of a query that always returns one (an aggregate, an upsert's RETURNING)."""
    if row is None:
        raise RuntimeError("the query returned no row")
    return row
