"""SSRF-safe fetching of "direct URL" attachments (tools/url_fetch.py).

Refusals go through the public `fetch_public_url`. The positive paths need a
server, and the only one reachable offline is on 127.0.0.1, which the public
function rightly refuses; they use the lower-level `fetch_url` with
`extra_allowed_addresses=["127.0.0.1"]` (and `allow_http`), a test-only
exemption for exactly that address. Everything else (redirect re-checks, byte
cap, pinning) is the same code path.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tools.url_fetch import FetchedFile, FetchError, address_refusal, fetch_public_url, fetch_url

LOOPBACK = ["127.0.0.1"]


class _Handler(BaseHTTPRequestHandler):
    hosts: list[str] = []
    hits: dict[str, int] = {}

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}) and status != 299:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # path -> (status, body, headers): the answers that do not depend on the request
    FIXED: dict[str, tuple[int, bytes, dict[str, str]]] = {
        "/file": (200, b"hello, attachment", {"Content-Type": "text/plain; charset=utf-8"}),
        "/big": (200, b"x" * 5000, {"Content-Type": "application/octet-stream"}),
        "/gzip": (200, b"\x1f\x8b\x08\x00", {"Content-Encoding": "gzip"}),
        "/missing": (404, b"nope", {}),
        "/redirect-relative": (302, b"", {"Location": "/file"}),
        "/redirect-private": (302, b"", {"Location": "http://10.0.0.1/file"}),
        "/redirect-metadata": (301, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}),
        "/loop": (302, b"", {"Location": "/loop"}),
    }

    def _redirect_to(self, path: str) -> str | None:
        """Where a redirect that depends on the request's port or host points; None: no such path."""
        port = self.server.server_address[1]
        if path.startswith("/chain/"):
            remaining = int(path.rsplit("/", 1)[1])
            return "/file" if remaining == 0 else f"/chain/{remaining - 1}"
        return {
            "/redirect-internal-name": f"http://intranet.example.test:{port}/file",
            "/redirect-downgrade": f"http://{self.headers.get('Host')}/file",
            "/redirect-localhost": f"http://localhost:{port}/file",
        }.get(path)

    def _write_slowly(self, chunk: bytes, times: int, pause: float) -> None:
        """A 200 whose body (no Content-Length: HTTP/1.0 ends it by closing) comes in pieces."""
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(times):
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(pause)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        type(self).hosts.append(self.headers.get("Host", ""))
        path = self.path.split("?", 1)[0]
        type(self).hits[path] = type(self).hits.get(path, 0) + 1
        location = self._redirect_to(path)
        if path in self.FIXED:
            self._send(*self.FIXED[path])
        elif location is not None:
            self._send(302 if path != "/redirect-internal-name" else 307, headers={"Location": location})
        elif path == "/big-undeclared":
            self._write_slowly(b"y" * 1000, 50, 0.0)
        elif path == "/slow":
            self._write_slowly(b"z", 100, 0.1)
        else:
            self._send(404)


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    yield from _serve(server)


@pytest.fixture(autouse=True)
def _reset_log() -> None:
    _Handler.hosts.clear()
    _Handler.hits.clear()


async def _must_not_resolve(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"{host} should have been refused before resolution")


def _fixed_resolver(mapping: dict[str, list[str]]):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        if host not in mapping:
            raise OSError("unknown host")
        return mapping[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def _local(url: str, **kwargs: object) -> FetchedFile:
    options: dict[str, object] = {
        "max_bytes": 1000,
        "timeout_s": 5,
        "allow_http": True,
        "extra_allowed_addresses": LOOPBACK,
    }
    options.update(kwargs)
    return await fetch_url(url, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/", "loopback"),
        ("https://127.0.0.1:8443/x", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://172.16.5.4/", "private"),
        ("https://192.168.1.1/file.pdf", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://169.254.1.1/", "link-local"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://100.64.0.1/", "non-public"),
        ("https://224.0.0.1/", "multicast"),
        ("https://240.0.0.1/", "private"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[::ffff:169.254.169.254]/", "metadata"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://[fe80::1]/", "link-local"),
        ("https://[fc00::1]/", "private"),
        ("https://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("https://[::]/", "unspecified"),
    ],
)
async def test_non_public_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(FetchError) as caught:
        await fetch_public_url(url, max_bytes=1000, timeout_s=5, resolver=_must_not_resolve)
    assert reason in caught.value.detail
    assert "only public addresses" in caught.value.detail


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/",
        "https://LocalHost./x",
        "https://api.localhost/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://printer.local/",
    ],
)
async def test_local_host_names_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="not a public host"):
        await fetch_public_url(url, max_bytes=1000, timeout_s=5, resolver=_must_not_resolve)


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["192.168.0.20"], "private"),
        (["93.184.215.14", "10.0.0.7"], "private"),  # every address must be public
        (["::1"], "loopback"),
        (["169.254.169.254"], "metadata"),
    ],
)
async def test_host_resolving_to_private_address_is_refused(answers: list[str], reason: str) -> None:
    resolver = _fixed_resolver({"files.example.test": answers})
    with pytest.raises(FetchError) as caught:
        await fetch_public_url("https://files.example.test/a.pdf", max_bytes=1000, timeout_s=5, resolver=resolver)
    assert reason in caught.value.detail
    assert resolver.calls == ["files.example.test"]


async def test_numeric_host_forms_are_resolved_and_refused() -> None:
    # "127.1" and "2130706433" are loopback too; they reach the resolver and its answer is checked.
    resolver = _fixed_resolver({"127.1": ["127.0.0.1"], "2130706433": ["127.0.0.1"]})
    for url in ("https://127.1/", "https://2130706433/"):
        with pytest.raises(FetchError, match="loopback"):
            await fetch_public_url(url, max_bytes=1000, timeout_s=5, resolver=resolver)


async def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(FetchError, match="could not be resolved"):
        await fetch_public_url(
            "https://nowhere.example.test/", max_bytes=1000, timeout_s=5, resolver=_fixed_resolver({})
        )


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://example.com/file.pdf", "Only https"),
        ("ftp://example.com/file.pdf", "Only https"),
        ("file:///etc/passwd", "Only https"),
        ("https://user:pw@example.com/", "credentials"),
        ("/relative/path", "not valid"),
        ("https://exa mple.com/", "not valid"),
    ],
)
async def test_bad_urls_are_refused(url: str, detail: str) -> None:
    with pytest.raises(FetchError, match=detail):
        await fetch_public_url(url, max_bytes=1000, timeout_s=5, resolver=_must_not_resolve)


def test_public_addresses_pass_the_policy() -> None:
    for address in ("8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert address_refusal(ipaddress.ip_address(address)) is None


async def test_loopback_is_refused_by_the_public_function_even_with_a_server(port: int) -> None:
    with pytest.raises(FetchError, match="loopback"):
        await fetch_public_url(f"http://127.0.0.1:{port}/file", max_bytes=1000, timeout_s=5, allow_http=True)
    assert _Handler.hits == {}


async def test_http_is_refused_without_allow_http(port: int) -> None:
    with pytest.raises(FetchError, match="Only https"):
        await fetch_url(f"http://127.0.0.1:{port}/file", max_bytes=1000, timeout_s=5, extra_allowed_addresses=LOOPBACK)
    assert _Handler.hits == {}


# ---------------------------------------------------------------- local server


async def test_fetch_succeeds(port: int) -> None:
    fetched = await _local(f"http://127.0.0.1:{port}/file")
    assert fetched.content == b"hello, attachment"
    assert fetched.content_type == "text/plain; charset=utf-8"
    assert fetched.final_url == f"http://127.0.0.1:{port}/file"


async def test_connection_is_pinned_to_the_vetted_address(port: int) -> None:
    # A rebinding resolver: first answer allowed, any later answer private.
    answers = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    async def rebinding(host: str, port_: int) -> Sequence[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    fetched = await _local(f"http://files.example.test:{port}/file", resolver=rebinding)
    assert fetched.content == b"hello, attachment"
    assert calls == ["files.example.test"]  # resolved once; the connection used that answer
    assert _Handler.hosts == [f"files.example.test:{port}"]  # Host header keeps the name


async def test_declared_size_over_cap_fails(port: int) -> None:
    with pytest.raises(FetchError, match="larger than the limit of 1000 bytes"):
        await _local(f"http://127.0.0.1:{port}/big")
    assert (await _local(f"http://127.0.0.1:{port}/big", max_bytes=5000)).content == b"x" * 5000


async def test_streamed_size_over_cap_fails(port: int) -> None:
    with pytest.raises(FetchError, match="larger than the limit of 1000 bytes"):
        await _local(f"http://127.0.0.1:{port}/big-undeclared")
    fetched = await _local(f"http://127.0.0.1:{port}/big-undeclared", max_bytes=50_000)
    assert len(fetched.content) == 50_000


async def test_compressed_response_is_refused(port: int) -> None:
    with pytest.raises(FetchError, match="Compressed"):
        await _local(f"http://127.0.0.1:{port}/gzip")


async def test_error_status_fails(port: int) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await _local(f"http://127.0.0.1:{port}/missing")


async def test_total_time_limit(port: int) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 1 s"):
        await _local(f"http://127.0.0.1:{port}/slow", timeout_s=1)
    assert time.monotonic() - started < 8  # the server would drip for 10 s


async def test_relative_redirect_is_followed(port: int) -> None:
    fetched = await _local(f"http://127.0.0.1:{port}/redirect-relative")
    assert fetched.content == b"hello, attachment"
    assert fetched.final_url == f"http://127.0.0.1:{port}/file"


async def test_three_redirects_are_followed_four_are_not(port: int) -> None:
    assert (await _local(f"http://127.0.0.1:{port}/chain/2")).content == b"hello, attachment"
    with pytest.raises(FetchError, match="Too many redirects"):
        await _local(f"http://127.0.0.1:{port}/chain/3")
    with pytest.raises(FetchError, match="Too many redirects"):
        await _local(f"http://127.0.0.1:{port}/loop")
    assert _Handler.hits["/loop"] == 4  # the first request and three redirects


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/redirect-private", "private"),
        ("/redirect-metadata", "metadata"),
        ("/redirect-internal-name", "private"),
        ("/redirect-localhost", "not a public host"),
    ],
)
async def test_redirect_to_non_public_address_is_refused(port: int, path: str, reason: str) -> None:
    resolver = _fixed_resolver({"intranet.example.test": ["192.168.10.10"]})
    with pytest.raises(FetchError) as caught:
        await _local(f"http://127.0.0.1:{port}{path}", resolver=resolver)
    assert reason in caught.value.detail
    assert _Handler.hits == {path: 1}  # the first hop was served, the second never attempted


# ---------------------------------------------------------------- TLS with a pinned address


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, list[str]]]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"), "files.example.test")
    sni_names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: sni_names.append(name or "")  # type: ignore[assignment]

    class TLSServer(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, address = super().get_request()
            sock.settimeout(5)
            # The handshake happens on first read, in the handler's thread, so a stalled
            # client can never block the accept loop (and with it shutdown()).
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    server = TLSServer(("127.0.0.1", 0), _Handler)
    for port in _serve(server):
        yield port, cert, sni_names


async def test_https_keeps_sni_and_verifies_the_certificate(tls_server: tuple[int, Path, list[str]]) -> None:
    port, cert, sni_names = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = _fixed_resolver({"files.example.test": ["127.0.0.1"], "other.example.test": ["127.0.0.1"]})
    fetched = await fetch_url(
        f"https://files.example.test:{port}/file",
        max_bytes=1000,
        timeout_s=5,
        resolver=resolver,
        extra_allowed_addresses=LOOPBACK,
        verify=trust,
    )
    assert fetched.content == b"hello, attachment"
    assert fetched.final_url == f"https://files.example.test:{port}/file"
    assert sni_names[-1] == "files.example.test"
    assert _Handler.hosts == [f"files.example.test:{port}"]

    # The certificate is checked against the URL's name, not the pinned IP.
    with pytest.raises(FetchError, match="certificate"):
        await fetch_url(
            f"https://other.example.test:{port}/file",
            max_bytes=1000,
            timeout_s=5,
            resolver=resolver,
            extra_allowed_addresses=LOOPBACK,
            verify=trust,
        )
    assert _Handler.hosts == [f"files.example.test:{port}"]  # the second request never got through


async def test_https_redirect_to_http_is_refused(tls_server: tuple[int, Path, list[str]]) -> None:
    port, cert, _ = tls_server
    with pytest.raises(FetchError, match="Only https"):
        await fetch_url(
            f"https://files.example.test:{port}/redirect-downgrade",
            max_bytes=1000,
            timeout_s=5,
            resolver=_fixed_resolver({"files.example.test": ["127.0.0.1"]}),
            extra_allowed_addresses=LOOPBACK,
            verify=ssl.create_default_context(cafile=str(cert)),
        )
    assert _Handler.hits == {"/redirect-downgrade": 1}
