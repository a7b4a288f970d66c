"""Read text out of untrusted PDF bytes with pypdf, under hard limits.

pypdf has a history of decompression-bomb and infinite-loop bugs, so parsing
runs in a separate process that is killed when the wall-clock limit passes.
Why a fresh `subprocess` per call rather than the alternatives:

* a thread cannot be stopped from outside in CPython, so a looping parser
  would keep its CPU and memory forever;
* a ProcessPoolExecutor cannot kill one hung task without breaking the pool;
* `multiprocessing` with fork is unsafe in a threaded server, and with
  spawn/forkserver it re-imports the parent's `__main__` in every child.

The worker (`python -c "from tools.pdf import _worker_main; ..."`, about 0.1 s
to start) gets the PDF on stdin and answers one JSON object on stdout. It runs
with a minimal environment (no API keys or database URL to steal), its address
space capped with RLIMIT_AS where available (a decompression bomb ends in
MemoryError instead of swapping the host), and `Popen.kill()` (SIGKILL) after
`timeout_s` is what enforces the timeout: it needs no cooperation from pypdf.

Limits and their statuses: more than `max_bytes` -> 413; more than `max_pages`
pages -> 413 (a size limit, like the byte cap); more than `max_chars` of
extracted text, hitting pypdf's decompression limits or running out of
memory -> 413; encrypted, not a PDF, damaged,
or not readable within `timeout_s` -> 400.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ParseFn = Callable[[bytes, int, int], list[str]]
"""(data, max_pages, max_chars) -> text of each page; raises DocumentError."""

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_PAGES = 200
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MAX_CHARS = 10_000_000
DEFAULT_MAX_MEMORY_BYTES = 1_500_000_000


class DocumentError(Exception):
    """An upload that cannot be turned into text; `status` is the HTTP status to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


@dataclass(frozen=True)
class PdfText:
    pages: list[str]

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def text(self) -> str:
        return "\n\n".join(page.strip() for page in self.pages if page.strip())


def parse_with_pypdf(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    """The default parser; runs inside the worker process."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentError(400, "Encrypted or password-protected PDFs are not supported")
        count = len(reader.pages)
        if count == 0:
            raise DocumentError(400, "The PDF has no pages")
        if count > max_pages:
            raise DocumentError(413, f"The PDF has {count} pages; the limit is {max_pages}")
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            total += len(text)
            if total > max_chars:
                raise DocumentError(413, f"The PDF holds more than {max_chars} characters of text")
            pages.append(text)
        return pages
    except LimitReachedError:  # pypdf's own decompression / size limits (bombs)
        raise DocumentError(413, "The PDF expands beyond the reader's size limits") from None


def _limit_memory(max_memory_bytes: int | None) -> None:
    if not max_memory_bytes:
        return
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = max_memory_bytes if hard == resource.RLIM_INFINITY else min(hard, max_memory_bytes)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: the timeout still applies
        pass


def _function_reference(fn: ParseFn) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise ValueError("parse must be a module-level function of an importable module")
    return f"{module}:{qualname}"


def _resolve_function(reference: str) -> ParseFn:
    module_name, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _parse_in_worker(header: dict[str, Any], data: bytes) -> dict[str, Any]:
    try:
        parse = _resolve_function(header["parse"])
        return {"ok": True, "pages": parse(data, header["max_pages"], header["max_chars"])}
    except DocumentError as exc:
        return {"ok": False, "status": exc.status, "detail": exc.detail}
    except MemoryError:
        return {"ok": False, "status": 413, "detail": "The PDF needs too much memory to read"}
    except RecursionError:
        return {"ok": False, "status": 400, "detail": "The PDF is too deeply nested to read"}
    except Exception:  # pypdf raises many types on damaged input
        return {"ok": False, "status": 400, "detail": "The PDF is damaged or not supported"}


def _worker_main() -> None:
    """Entry point of the worker process: header line (JSON) + PDF bytes on stdin,
    one JSON result on stdout. JSON, not pickle, so the parent never unpickles
    anything produced while handling hostile input."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the result
    header = json.loads(stdin.readline())
    _limit_memory(header.get("max_memory_bytes"))
    try:
        result = _parse_in_worker(header, stdin.read())
        payload = json.dumps(result).encode("utf-8")
    except MemoryError:
        payload = b'{"ok": false, "status": 413, "detail": "The PDF needs too much memory to read"}'
    stdout.write(payload)
    stdout.flush()


def _worker_env() -> dict[str, str]:
    """A minimal environment: the worker sees no API keys or database URLs."""
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("SYSTEMROOT", "TMPDIR", "TEMP", "TMP"):  # Windows needs SYSTEMROOT
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def read_pdf(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pages: int = DEFAULT_MAX_PAGES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_memory_bytes: int | None = DEFAULT_MAX_MEMORY_BYTES,
    parse: ParseFn = parse_with_pypdf,
) -> PdfText:
    """Extract the text of each page; raises `DocumentError` (413/400) on any refusal.

    Blocking (it waits for the worker): from async code use `read_pdf_async`.
    `parse` exists so tests can prove the timeout with a deliberately slow parser;
    it must be a module-level function the worker can import by name.
    """
    if len(data) > max_bytes:
        raise DocumentError(413, f"The PDF is {len(data)} bytes; the limit is {max_bytes}")
    if b"%PDF-" not in data[:1024]:  # readers accept some junk before the header
        raise DocumentError(400, "The file is not a PDF")

    header = {
        "parse": _function_reference(parse),
        "max_pages": max_pages,
        "max_chars": max_chars,
        "max_memory_bytes": max_memory_bytes,
    }
    request = json.dumps(header).encode("utf-8") + b"\n" + data
    process = subprocess.Popen(
        [sys.executable, "-c", "from tools.pdf import _worker_main; _worker_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_worker_env(),
    )
    try:
        output, _ = process.communicate(request, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DocumentError(400, f"The PDF could not be read within {timeout_s:g} s") from None
    finally:
        if process.poll() is None:
            process.kill()  # SIGKILL: works even when the parser never yields
            process.wait()
    try:
        result = json.loads(output)
    except ValueError:
        raise DocumentError(400, "The PDF could not be read (the reader stopped)") from None
    if result.get("ok") is True:
        return PdfText(pages=[str(page) for page in result["pages"]])
    raise DocumentError(int(result.get("status", 400)), str(result.get("detail", "The PDF could not be read")))


async def read_pdf_async(data: bytes, **limits: Any) -> PdfText:
    """`read_pdf` on a worker thread, so the event loop keeps serving while it waits."""
    return await asyncio.to_thread(read_pdf, data, **limits)
