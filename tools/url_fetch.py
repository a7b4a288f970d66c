"""Fetch a user-supplied "direct URL" attachment without becoming an SSRF proxy.

Rules, enforced for the first URL and again for every redirect hop:

* https only (http only when the caller passes `allow_http`, meant for tests);
  no credentials in the URL;
* host names such as "localhost" or "*.internal" are refused by name;
* the host is resolved once and *every* address must be public (not loopback,
  private, link-local, multicast, reserved, unspecified, shared/CGNAT, cloud
  metadata, nor an IPv6 form embedding such an IPv4 address);
* the connection goes to the vetted address itself: the request URL carries the
  IP while the `Host` header and the TLS SNI / certificate check (httpcore's
  `sni_hostname` extension) keep the original name, so a second DNS answer
  cannot redirect the connection (DNS rebinding);
* at most 3 redirects, followed by hand; the body is streamed with a byte cap,
  compressed encodings are refused (a gzip bomb would bypass the cap), and one
  deadline covers resolution, redirects and the whole download;
* proxies from the environment are ignored (`trust_env=False`): a proxy would
  resolve the name itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import httpx
from langchain_core.tools import tool
from pydantic import BaseModel, Field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""async (host, port) -> the host's IP addresses as strings."""

MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_BLOCKED_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")


class FetchError(Exception):
    """The URL was refused or could not be fetched; `detail` is safe to show the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FetchedFile:
    content: bytes
    content_type: str | None
    final_url: str


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` may not be contacted, or None when it is a public address."""
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the socket connects to the IPv4 address itself
            return address_refusal(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return reason
        if ip.is_site_local:
            return "a site-local address"
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "a non-public address"
    return None


def _refuse_host_name(host: str) -> None:
    name = host.rstrip(".").lower()
    if not name:
        raise FetchError("The URL has no host")
    if name in _BLOCKED_NAMES or name.endswith(_BLOCKED_SUFFIXES):
        raise FetchError(f"The host '{host}' is not a public host")


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), run off the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


async def _vetted_address(
    url: httpx.URL,
    *,
    allow_http: bool,
    resolver: Resolver,
    extra_allowed: Collection[IPAddress],
) -> IPAddress:
    """Check the scheme and host of `url`; return the one address to connect to."""
    if url.scheme == "http" and not allow_http:
        raise FetchError("Only https URLs can be fetched")
    if url.scheme not in ("https", "http"):
        raise FetchError("Only https URLs can be fetched")
    if url.userinfo:
        raise FetchError("URLs with credentials are not allowed")
    host = url.raw_host.decode("ascii")  # IDNA-encoded; IPv6 without brackets
    literal = _parse_ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        if not _HOST_NAME.fullmatch(host):
            raise FetchError("The URL's host is not valid")
        _refuse_host_name(host)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            answers = await resolver(host, port)
        except (OSError, UnicodeError):
            raise FetchError(f"The host '{host}' could not be resolved") from None
        addresses = [ip for ip in (_parse_ip(a) for a in answers) if ip is not None]
        if not addresses:
            raise FetchError(f"The host '{host}' could not be resolved")
    for ip in addresses:
        if ip in extra_allowed:
            continue
        reason = address_refusal(ip)
        if reason:
            raise FetchError(f"The host '{host}' resolves to {reason}; only public addresses are allowed")
    return addresses[0]


def _pinned_request(client: httpx.AsyncClient, url: httpx.URL, ip: IPAddress) -> httpx.Request:
    """A GET to `ip` that still presents `url`'s host name in Host and TLS SNI."""
    host_header = url.netloc.decode("ascii")  # host[:port] as written, IDNA-encoded
    headers = {"Host": host_header, "Accept-Encoding": "identity"}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    return client.build_request("GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions)


async def _download(response: httpx.Response, max_bytes: int) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError("Compressed responses are not supported")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"The file is larger than the limit of {max_bytes} bytes")
    body = bytearray()
    async for chunk in response.aiter_raw():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchError(f"The file is larger than the limit of {max_bytes} bytes")
    return bytes(body)


async def _fetch(
    url: httpx.URL,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_http: bool,
    resolver: Resolver,
    extra_allowed: Collection[IPAddress],
    verify: bool | ssl.SSLContext,
) -> FetchedFile:
    timeout = httpx.Timeout(timeout_s)
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=timeout, verify=verify) as client:
        for hop in range(MAX_REDIRECTS + 1):
            ip = await _vetted_address(url, allow_http=allow_http, resolver=resolver, extra_allowed=extra_allowed)
            request = _pinned_request(client, url, ip)
            response = await client.send(request, stream=True)
            try:
                if response.status_code in _REDIRECT_STATUSES and "location" in response.headers:
                    if hop == MAX_REDIRECTS:
                        raise FetchError(f"Too many redirects (the limit is {MAX_REDIRECTS})")
                    try:
                        url = url.join(response.headers["location"])
                    except httpx.InvalidURL:
                        raise FetchError("The server sent an invalid redirect") from None
                    continue
                if not 200 <= response.status_code < 300:
                    raise FetchError(f"The server answered HTTP {response.status_code}")
                content = await _download(response, max_bytes)
                return FetchedFile(
                    content=content,
                    content_type=response.headers.get("content-type"),
                    final_url=str(url),
                )
            finally:
                await response.aclose()
    raise AssertionError("unreachable")  # the loop always returns or raises


async def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_http: bool = False,
    resolver: Resolver | None = None,
    extra_allowed_addresses: Collection[str] = (),
    verify: bool | ssl.SSLContext = True,
) -> FetchedFile:
    """The engine behind `fetch_public_url`.

    `extra_allowed_addresses` exempts exact IPs from the public-address rule and
    `verify` may be an SSL context trusting a test CA: both exist only so tests
    can reach a server on 127.0.0.1. Production code calls `fetch_public_url`,
    which exposes neither.
    """
    if max_bytes <= 0 or timeout_s <= 0:
        raise ValueError("max_bytes and timeout_s must be positive")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchError("The URL is not valid") from None
    if parsed.scheme and parsed.scheme not in ("https", "http"):
        raise FetchError("Only https URLs can be fetched")
    if not parsed.is_absolute_url or not parsed.host:
        raise FetchError("The URL is not valid")
    allowed = frozenset(ipaddress.ip_address(a) for a in extra_allowed_addresses)
    try:
        return await asyncio.wait_for(
            _fetch(
                parsed,
                max_bytes=max_bytes,
                timeout_s=timeout_s,
                allow_http=allow_http,
                resolver=resolver or system_resolver,
                extra_allowed=allowed,
                verify=verify,
            ),
            timeout_s,
        )
    except asyncio.TimeoutError:
        raise FetchError(f"Fetching the URL took longer than {timeout_s:g} s") from None
    except httpx.TimeoutException:
        raise FetchError(f"Fetching the URL took longer than {timeout_s:g} s") from None
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(exc.__context__, ssl.SSLError):
            raise FetchError("The host's TLS certificate could not be verified") from None
        raise FetchError("Could not connect to the host") from None
    except (httpx.HTTPError, httpx.InvalidURL):
        raise FetchError("The URL could not be fetched") from None


async def fetch_public_url(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_http: bool = False,
    resolver: Resolver | None = None,
) -> FetchedFile:
    """Download `url` (https, public addresses only, <= 3 re-checked redirects,
    at most `max_bytes`, within `timeout_s` in total). Raises `FetchError`."""
    return await fetch_url(url, max_bytes=max_bytes, timeout_s=timeout_s, allow_http=allow_http, resolver=resolver)


class FetchUrlInput(BaseModel):
    url: str = Field(description="An https URL on a public address")
    max_bytes: int = Field(gt=0, description="Refuse a body larger than this")
    timeout_s: float = Field(gt=0, description="Give up after this many seconds in total")


@tool("fetch_url", args_schema=FetchUrlInput)
async def fetch_url_tool(url: str, max_bytes: int, timeout_s: float) -> FetchedFile:
    """Download a public https URL for the caller (private, loopback and cloud-metadata addresses
    are refused, redirects re-checked); raises `FetchError` with a sentence safe to show."""
    return await fetch_public_url(url, max_bytes=max_bytes, timeout_s=timeout_s)
