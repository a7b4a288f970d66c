"""Turn uploaded files into plain text, and text into chunks for embedding.

Supported: PDF (via `tools.pdf`, in a killable worker process), Markdown, plain
text, HTML (tags, scripts and styles stripped with the stdlib parser) and CSV
(each row becomes "column: value" lines, rows separated by a blank line so the
splitter keeps rows together). Every refusal is a `DocumentError(status, detail)`.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
from enum import Enum
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from tools.pdf import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PAGES,
    DEFAULT_TIMEOUT_S,
    DocumentError,
    PdfText,
    read_pdf,
)

__all__ = [
    "DocumentError",
    "DocumentKind",
    "PdfText",
    "SUPPORTED_TYPES_TEXT",
    "chunk_text",
    "csv_to_text",
    "decode_text",
    "detect_kind",
    "extract_text",
    "extract_text_async",
    "html_to_text",
    "read_pdf",
]


class DocumentKind(str, Enum):
    pdf = "pdf"
    markdown = "markdown"
    text = "text"
    html = "html"
    csv = "csv"


SUPPORTED_TYPES_TEXT = "PDF (.pdf), Markdown (.md), plain text (.txt), HTML (.html) and CSV (.csv)"

_BY_EXTENSION: dict[str, DocumentKind] = {
    ".pdf": DocumentKind.pdf,
    ".md": DocumentKind.markdown,
    ".markdown": DocumentKind.markdown,
    ".txt": DocumentKind.text,
    ".text": DocumentKind.text,
    ".html": DocumentKind.html,
    ".htm": DocumentKind.html,
    ".xhtml": DocumentKind.html,
    ".csv": DocumentKind.csv,
}

_BY_CONTENT_TYPE: dict[str, DocumentKind] = {
    "application/pdf": DocumentKind.pdf,
    "application/x-pdf": DocumentKind.pdf,
    "text/markdown": DocumentKind.markdown,
    "text/x-markdown": DocumentKind.markdown,
    "text/plain": DocumentKind.text,
    "text/html": DocumentKind.html,
    "application/xhtml+xml": DocumentKind.html,
    "text/csv": DocumentKind.csv,
    "application/csv": DocumentKind.csv,
}


def _split_content_type(content_type: str | None) -> tuple[str, str | None]:
    """("type/subtype", charset or None) from a Content-Type header value."""
    if not content_type:
        return "", None
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return main.strip().lower(), charset


def detect_kind(filename: str | None, content_type: str | None) -> DocumentKind:
    """The kind of an upload: a known file extension wins (browsers often send
    `application/octet-stream` or `text/plain` for .md and .csv), then the
    content type. Unknown -> DocumentError 400 naming the supported types."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    mime, _ = _split_content_type(content_type)
    if mime in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[mime]
    shown = filename or content_type or "unnamed file"
    raise DocumentError(400, f"Unsupported file type '{shown}'. Supported types: {SUPPORTED_TYPES_TEXT}")


def decode_text(data: bytes, charset: str | None = None) -> str:
    """UTF-8 (BOM allowed), then the declared charset, then Windows-1252."""
    if b"\x00" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DocumentError(400, "The file does not look like text")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8-sig"]
        if charset:
            candidates.append(charset)
        candidates.append("cp1252")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if "\x00" in text:  # past the first 8 KB, or UTF-16: text never holds NUL, Postgres refuses it
            raise DocumentError(400, "The file does not look like text (it contains NUL characters)")
        return text
    raise DocumentError(400, "The file's text encoding could not be read (use UTF-8)")


# ---------------------------------------------------------------- HTML

# Only elements whose content is never visible text. (Not <head>: sloppy pages
# leave it unclosed, and html.parser does not close it implicitly.)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "title",
    }
)
_CELL_TAGS = frozenset({"td", "th"})


class _TextCollector(HTMLParser):
    """Collects visible text; content of skipped tags (scripts, styles...) is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document (the <title> first), whitespace tidied."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = []
    for line in "".join(collector.parts).split("\n"):
        line = re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip(" |")
        lines.append(line.strip())
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(collector.title).split())
    return f"{title}\n\n{body}".strip() if title else body


# ---------------------------------------------------------------- CSV


def csv_to_text(text: str) -> str:
    """Each data row as "column: value" lines (empty values left out), rows
    separated by a blank line. The first row is the header."""
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise DocumentError(400, f"The CSV file is malformed: {exc}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    header = [name.strip() for name in rows[0]]
    records = []
    for row in rows[1:]:
        lines = []
        for index, value in enumerate(row):
            value = value.strip()
            if not value:
                continue
            name = header[index] if index < len(header) and header[index] else f"column {index + 1}"
            lines.append(f"{name}: {value}")
        if lines:
            records.append("\n".join(lines))
    return "\n\n".join(records)


# ---------------------------------------------------------------- entry points


def extract_text(
    filename: str | None,
    content_type: str | None,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pages: int = DEFAULT_MAX_PAGES,
    pdf_timeout_s: float = DEFAULT_TIMEOUT_S,
) -> str:
    """The text of an uploaded file. May return "" (e.g. a scanned PDF without a
    text layer); callers decide whether that is an error. Blocking for PDFs."""
    kind = detect_kind(filename, content_type)
    if len(data) > max_bytes:
        raise DocumentError(413, f"The file is {len(data)} bytes; the limit is {max_bytes}")
    if kind is DocumentKind.pdf:
        # a text layer may carry NUL characters, which Postgres cannot store and no reader sees
        return read_pdf(data, max_bytes=max_bytes, max_pages=max_pages, timeout_s=pdf_timeout_s).text.replace(
            "\x00", ""
        )
    _, charset = _split_content_type(content_type)
    text = decode_text(data, charset).replace("\r\n", "\n").replace("\r", "\n")
    if kind is DocumentKind.html:
        return html_to_text(text)
    if kind is DocumentKind.csv:
        return csv_to_text(text)
    return text.strip()


async def extract_text_async(filename: str | None, content_type: str | None, data: bytes, **limits: Any) -> str:
    """`extract_text` on a worker thread, so the event loop keeps serving meanwhile."""
    return await asyncio.to_thread(extract_text, filename, content_type, data, **limits)


def chunk_text(text: str, *, chunk_size: int = 800, chunk_overlap: int = 100) -> list[str]:
    """Split text into overlapping chunks of at most `chunk_size` characters,
    preferring paragraph, then line, then word boundaries."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_overlap must be >= 0 and smaller than chunk_size")
    if not text.strip():
        return []
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )
    return [chunk for chunk in splitter.split_text(text) if chunk.strip()]
