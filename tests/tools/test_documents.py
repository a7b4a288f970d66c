"""Text extraction and chunking of uploads (tools/documents.py, tools/pdf.py).

PDFs are built by hand (`_make_pdf`: a minimal valid file with a Helvetica text
stream per page, correct xref offsets) and read back through the real pypdf in
the real worker process.
"""

from __future__ import annotations

import io
import os
import time
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from tools.documents import (
    DocumentError,
    DocumentKind,
    chunk_text,
    csv_to_text,
    detect_kind,
    extract_text,
    html_to_text,
)
from tools.pdf import PdfText, read_pdf


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _make_pdf(pages: list[str]) -> bytes:
    """A minimal, valid PDF: one page per string, drawn with the base-14 Helvetica font."""
    count = len(pages)
    font_id = 3
    first_page_id = 4  # page i -> object 4 + 2i, its content stream -> 5 + 2i
    kids = " ".join(f"{first_page_id + 2 * i} 0 R" for i in range(count))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        content_id = first_page_id + 2 * i + 1
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 {font_id} 0 R >> >> /Contents {content_id} 0 R >>"
            ).encode()
        )
        lines = text.split("\n")
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        ops += [f"({_pdf_string(line)}) Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from raw object bodies (object 1 is the catalog), for hostile structures."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


TWO_PAGES = _make_pdf(["Alpha page speaks of lighthouses.", "Beta page mentions (parentheses) and tides."])


# ---------------------------------------------------------------- PDF


def test_two_page_pdf_is_read() -> None:
    assert len(PdfReader(io.BytesIO(TWO_PAGES)).pages) == 2  # the fixture itself is sound
    result = read_pdf(TWO_PAGES)
    assert isinstance(result, PdfText)
    assert result.page_count == 2
    assert "lighthouses" in result.pages[0] and "tides" not in result.pages[0]
    assert "Beta page mentions (parentheses) and tides." in result.pages[1]
    assert result.text.index("Alpha") < result.text.index("Beta")


def test_encrypted_pdf_is_refused() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(TWO_PAGES)))
    writer.encrypt("secret-password", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(DocumentError) as caught:
        read_pdf(buffer.getvalue())
    assert caught.value.status == 400
    assert "Encrypted" in caught.value.detail


@pytest.mark.parametrize(
    "data",
    [
        TWO_PAGES[: len(TWO_PAGES) // 3],  # truncated mid-file
        b"%PDF-1.7\n" + os.urandom(4000),  # header, then garbage
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    ],
    ids=["truncated", "garbage", "dangling-pages"],
)
def test_broken_pdf_is_400(data: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(data)
    assert caught.value.status == 400


_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_ONE_KID = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def test_cyclic_page_tree_is_400() -> None:
    data = _raw_pdf(
        [_CATALOG, b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )
    with pytest.raises(DocumentError) as caught:
        read_pdf(data)
    assert caught.value.status == 400


def test_deeply_nested_objects_are_400() -> None:
    nested = b"[" * 200_000 + b"]" * 200_000
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1 1] /Junk " + nested + b" >>"
    with pytest.raises(DocumentError) as caught:
        read_pdf(_raw_pdf([_CATALOG, _ONE_KID, page]))
    assert caught.value.status == 400


def test_decompression_bomb_is_413() -> None:
    # 100 MB of page content (beyond pypdf's 75 MB inflate limit) in about 100 KB.
    packer = zlib.compressobj(9)
    parts = [packer.compress(b"BT /F1 12 Tf (")]
    parts += [packer.compress(b"A" * 10_000_000) for _ in range(10)]
    parts += [packer.compress(b") Tj ET"), packer.flush()]
    bomb = b"".join(parts)
    assert len(bomb) < 1_000_000
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1 1] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    with pytest.raises(DocumentError) as caught:
        read_pdf(_raw_pdf([_CATALOG, _ONE_KID, page, stream, font]))
    assert caught.value.status == 413


def test_not_a_pdf_is_400_without_starting_a_worker() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(b"hello, I am plain text", parse=_must_not_run)
    assert caught.value.status == 400
    assert "not a PDF" in caught.value.detail


def test_too_many_pages_is_413() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(_make_pdf([f"page {i}" for i in range(6)]), max_pages=5)
    assert caught.value.status == 413
    assert "6 pages" in caught.value.detail and "5" in caught.value.detail
    assert read_pdf(_make_pdf([f"page {i}" for i in range(5)]), max_pages=5).page_count == 5


def test_too_many_bytes_is_413() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(TWO_PAGES, max_bytes=len(TWO_PAGES) - 1, parse=_must_not_run)
    assert caught.value.status == 413
    assert read_pdf(TWO_PAGES, max_bytes=len(TWO_PAGES)).page_count == 2


def test_too_much_text_is_413() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(TWO_PAGES, max_chars=40)
    assert caught.value.status == 413


# Parsers injected into the worker process; they must be importable module-level functions.


def _must_not_run(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    raise AssertionError("the size check should have refused before parsing")


def _spin_forever(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    """A CPU-bound endless parse (as in pypdf's past infinite-loop bugs); records its pid."""
    Path(data.split(b"\n", 1)[1].decode()).write_text(str(os.getpid()))
    while True:
        pass


def _crash(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    os._exit(3)


def _allocate_too_much(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    blob = bytearray(4_000_000_000)  # beyond the worker's address-space limit
    return [str(len(blob))]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state where /proc exists.
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        try:
            return "zombie" not in status.read_text().lower()
        except FileNotFoundError:
            return False
    return True


def test_timeout_kills_a_hung_parse(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    data = b"%PDF-1.4\n" + str(pid_file).encode()
    started = time.monotonic()
    with pytest.raises(DocumentError) as caught:
        # 3 s leaves the worker time to import this test module before it spins.
        read_pdf(data, timeout_s=3, parse=_spin_forever)
    assert caught.value.status == 400
    assert "within 3 s" in caught.value.detail
    assert time.monotonic() - started < 20  # generous: the point is that it returned at all
    pid = int(pid_file.read_text())
    for _ in range(50):
        if not _pid_alive(pid):
            break
        time.sleep(0.1)
    assert not _pid_alive(pid), "the hung worker must be killed, not left running"


def test_parse_must_be_importable_by_name() -> None:
    def local_parser(data: bytes, max_pages: int, max_chars: int) -> list[str]:
        return []

    with pytest.raises(ValueError):
        read_pdf(TWO_PAGES, parse=local_parser)


def test_worker_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    result = read_pdf(TWO_PAGES, parse=_report_environment)
    assert result.pages and "OPENAI_API_KEY" not in result.pages


def _report_environment(data: bytes, max_pages: int, max_chars: int) -> list[str]:
    return sorted(os.environ)


def test_worker_crash_is_400() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(TWO_PAGES, parse=_crash)
    assert caught.value.status == 400


def test_memory_limit_is_413() -> None:
    with pytest.raises(DocumentError) as caught:
        read_pdf(TWO_PAGES, parse=_allocate_too_much, max_memory_bytes=1_000_000_000)
    assert caught.value.status == 413
    assert "memory" in caught.value.detail


# ---------------------------------------------------------------- other types


@pytest.mark.parametrize(
    ("filename", "content_type", "kind"),
    [
        ("report.PDF", "application/octet-stream", DocumentKind.pdf),
        ("notes.md", "text/plain", DocumentKind.markdown),
        ("page.htm", None, DocumentKind.html),
        ("rows.csv", "application/vnd.ms-excel", DocumentKind.csv),
        ("README", "text/markdown; charset=utf-8", DocumentKind.markdown),
        (None, "text/plain", DocumentKind.text),
        ("blob", "TEXT/HTML", DocumentKind.html),
    ],
)
def test_detect_kind(filename: str | None, content_type: str | None, kind: DocumentKind) -> None:
    assert detect_kind(filename, content_type) is kind


def test_unknown_type_is_400_naming_supported_types() -> None:
    with pytest.raises(DocumentError) as caught:
        extract_text("photo.png", "image/png", b"\x89PNG\r\n")
    assert caught.value.status == 400
    for name in ("PDF", "Markdown", "plain text", "HTML", "CSV"):
        assert name in caught.value.detail


def test_pdf_through_extract_text() -> None:
    text = extract_text("doc.pdf", "application/pdf", TWO_PAGES)
    assert "lighthouses" in text and "tides" in text


def test_markdown_and_text() -> None:
    md = "# Title\r\n\r\nSome *markdown* text.\r\n".encode("utf-8-sig")
    assert extract_text("a.md", None, md) == "# Title\n\nSome *markdown* text."
    assert extract_text("a.txt", "text/plain", "café".encode()) == "café"
    assert extract_text("a.txt", "text/plain", "café".encode("cp1252")) == "café"
    assert extract_text("a.txt", "text/plain; charset=utf-16", "hé".encode("utf-16")) == "hé"


def test_binary_posing_as_text_is_400() -> None:
    with pytest.raises(DocumentError) as caught:
        extract_text("a.txt", "text/plain", b"abc\x00\x01\x02def")
    assert caught.value.status == 400


def test_oversized_text_is_413() -> None:
    with pytest.raises(DocumentError) as caught:
        extract_text("a.txt", "text/plain", b"x" * 101, max_bytes=100)
    assert caught.value.status == 413


def test_html_strips_tags_scripts_and_styles() -> None:
    html = """<!doctype html><html><head><title>The  Page</title>
    <style>body { color: red }</style><script>var secret = "<p>not text</p>";</script>
    </head><body><h1>Heading</h1><p>First &amp; foremost<br>second line</p>
    <noscript>enable js</noscript><!-- a comment -->
    <table><tr><th>Name</th><td>Ada</td></tr></table>
    <p>Unclosed <b>bold"""
    text = html_to_text(html)
    assert text.startswith("The Page\n\nHeading")
    assert "First & foremost\nsecond line" in text
    assert "Name | Ada" in text
    assert "Unclosed bold" in text
    for hidden in ("color: red", "secret", "not text", "enable js", "a comment", "<", ">"):
        assert hidden not in text
    assert extract_text("p.html", "text/html", html.encode()) == text


def test_html_with_unclosed_head_keeps_body() -> None:
    assert "Body text" in html_to_text("<html><head><title>T</title><body><p>Body text</p>")


def test_csv_rows_become_labelled_lines() -> None:
    data = 'name,city,notes\nAda,London,\nGrace,"Arlington, VA",admiral\n\n,,\nLin,Paris,x,extra\n'
    assert csv_to_text(data) == (
        "name: Ada\ncity: London\n\n"
        "name: Grace\ncity: Arlington, VA\nnotes: admiral\n\n"
        "name: Lin\ncity: Paris\nnotes: x\ncolumn 4: extra"
    )
    assert extract_text("people.csv", "text/csv", data.encode()).startswith("name: Ada")


def test_csv_semicolons_are_sniffed() -> None:
    assert csv_to_text("a;b\n1;2\n") == "a: 1\nb: 2"


def test_csv_header_only_is_empty() -> None:
    assert csv_to_text("a,b,c\n") == ""


# ---------------------------------------------------------------- chunking


def test_chunking_respects_size_and_overlap() -> None:
    paragraphs = [" ".join(f"p{p}w{w}" for w in range(60)) for p in range(8)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, chunk_size=200, chunk_overlap=40)
    assert len(chunks) > 8
    assert all(0 < len(chunk) <= 200 for chunk in chunks)
    words = text.split()
    seen = " ".join(chunks).split()
    assert set(seen) == set(words)  # nothing lost
    overlapping = sum(1 for a, b in zip(chunks, chunks[1:]) if a.split()[-1] in b.split())
    assert overlapping > 0  # consecutive chunks share words


def test_chunking_keeps_short_text_whole_and_drops_blank() -> None:
    assert chunk_text("short text") == ["short text"]
    assert chunk_text("   \n\n  ") == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_chunking_rejects_bad_parameters(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("text", chunk_size=size, chunk_overlap=overlap)
