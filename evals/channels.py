"""The real input channels a prompt-injection eval plants text into.

- `make_pdf(text)`: a small valid PDF whose page shows `text`, sent as a chat
  attachment (read by the graph through `tools.pdf`);
- `TavilyStub`: a Tavily search API on 127.0.0.1 that answers every search with
  the planted page, reached by the graph through the real tavily-python client;
- `plant_document(...)`: a document collection holding the planted text and a
  studio persona whose RAG settings search it, so the graph's own retrieval
  finds it.
"""

from __future__ import annotations

import json
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _pdf_escape(line: str) -> str:
    safe = line.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(text: str, width: int = 90) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        words, current = paragraph.split(), ""
        for word in words:
            if current and len(current) + 1 + len(word) > width:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}".strip()
        lines.append(current)
    return lines


def make_pdf(text: str) -> bytes:
    """One A4 page with `text` in Helvetica, lines wrapped at 90 characters."""
    ops = ["BT", "/F1 10 Tf", "12 TL", "50 800 Td"]
    for line in _wrap(text):
        ops.append(f"({_pdf_escape(line)}) Tj T*")
    ops.append("ET")
    stream = zlib.compress("\n".join(ops).encode("latin-1"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class TavilyStub:
    """A loopback Tavily `/search` that returns `self.page` (title, url, content) as its one result."""

    def __init__(self) -> None:
        self.page: dict[str, str] = {"title": "", "url": "https://example.com/", "content": ""}
        self.queries: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                stub.queries.append(str(body.get("query", "")))
                answer = json.dumps(
                    {
                        "query": body.get("query", ""),
                        "response_time": 0.01,
                        "images": [],
                        "results": [{**stub.page, "score": 0.9}],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


async def plant_document(
    services: Any, *, owner_id: str, persona_name: str, system_prompt: str, text: str, file_name: str = "notes.md"
) -> int:
    """A fresh collection holding `text` and a studio persona that retrieves from it; the persona id."""
    from store.documents import create_collection, replace_document
    from store.personas import create_persona

    collection = f"eval-inj-{uuid.uuid4().hex[:10]}"
    await create_collection(services.pool, name=collection, owner_id=owner_id)
    embeddings = services.require_embeddings()
    await replace_document(
        services.pool,
        collection=collection,
        file_name=file_name,
        doc_path=file_name,
        chunks=[text],
        embeddings=embeddings.embed_documents([text]),
    )
    rag = {"db_collections": [collection], "query_metric": "cosine", "query_threshold": -1.0, "k": 4}
    return await create_persona(
        services.pool,
        kind="studio",
        name=persona_name,
        system_prompt=system_prompt,
        owner_id=owner_id,
        attributes={"rag": rag},
    )
