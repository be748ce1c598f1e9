"""Raw HTTP calls through a kubernetes-asyncio ``ApiClient``.

The generated client turns every response into model objects; podium's hot paths want the bytes
(the Rust core parses them once), so these helpers reuse the client's auth, TLS and connection pool
and hand back the undecoded response.

They also skip the generated client's request path, whose per-request cost is most of a bind's
CPU in podium: it walks every body to sanitize it, serializes it with the standard ``json``, and
its aiohttp session trusts the environment, so every request re-reads ``~/.netrc`` and the proxy
variables. Here a body is serialized once with orjson, and a session sharing the client's
connection pool decides once, at first use, whether the environment has anything to say
(a proxy variable or a netrc file): only then does it keep reading it per request.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
import orjson

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient


class ApiStatusError(Exception):
    """The apiserver answered with a non-2xx status."""

    def __init__(self, method: str, path: str, status: int, body: bytes, retry_after: float | None):
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.retry_after = retry_after
        super().__init__(f"{method} {path}: HTTP {status}: {_status_message(body)}")


def _status_message(body: bytes) -> str:
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return body[:200].decode("utf-8", "replace")


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# Variables with which aiohttp's ``trust_env`` changes a request (proxies, netrc credentials).
_ENV_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "NO_PROXY",
    "NETRC",
)


def environment_matters() -> bool:
    """Whether aiohttp's ``trust_env`` would change any request: a proxy variable (either case)
    or a netrc file is there."""
    if any(os.environ.get(name) or os.environ.get(name.lower()) for name in _ENV_VARIABLES):
        return True
    try:
        return (Path.home() / ".netrc").is_file()
    except RuntimeError:  # no home directory to look in
        return False


class _Transport:
    """One ``ApiClient``'s lean request path: its own session over the client's connector."""

    __slots__ = ("proxy", "proxy_headers", "server_hostname", "session", "timeouts")

    def __init__(self, api: ApiClient) -> None:
        rest = api.rest_client
        # Not the owner: the ApiClient closes the connector, which closes this session too.
        self.session = aiohttp.ClientSession(
            connector=rest.pool_manager.connector,
            connector_owner=False,
            trust_env=environment_matters(),
            read_bufsize=2**21,  # as the client's: watch events with large objects
        )
        self.proxy: str | None = rest.proxy
        self.proxy_headers: Any = rest.proxy_headers
        self.server_hostname: str | None = rest.server_hostname
        self.timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self.timeouts.get(seconds)
        if timeout is None:
            timeout = self.timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout


_transports: weakref.WeakKeyDictionary[ApiClient, _Transport] = weakref.WeakKeyDictionary()


def _transport(api: ApiClient) -> _Transport:
    transport = _transports.get(api)
    if transport is None or transport.session.closed:
        transport = _transports[api] = _Transport(api)
    return transport


async def _send(
    api: ApiClient,
    method: str,
    path: str,
    query: dict[str, str | int | bool] | None,
    headers: dict[str, str],
    data: bytes | None,
    timeout: float | aiohttp.ClientTimeout,  # noqa: ASYNC109 - the request's own, for aiohttp
    precondition: Callable[[], None] | None,
) -> aiohttp.ClientResponse:
    """Sends one request through ``api``'s rate limit, auth and pool; the open response."""
    from podium.kubeclient import RateLimitedApiClient

    transport = _transport(api)
    headers.update(api.default_headers)
    await api.update_params_for_auth(headers, [], ["BearerToken"])
    # Read per request: the configuration's host may change under a live client.
    host = api.configuration.host
    if not host:
        raise ValueError("the API client's configuration has no host")
    url = host + path
    if query:
        url += "?" + urlencode([(k, _query_value(v)) for k, v in query.items()])
    if isinstance(api, RateLimitedApiClient):
        await api.limiter.acquire()
    if precondition is not None:
        precondition()
    return await transport.session.request(
        method,
        url,
        headers=headers,
        data=data,
        timeout=timeout
        if isinstance(timeout, aiohttp.ClientTimeout)
        else transport.timeout(timeout),
        proxy=transport.proxy,
        proxy_headers=transport.proxy_headers,
        server_hostname=transport.server_hostname,
    )


async def open_stream(
    api: ApiClient,
    path: str,
    query: dict[str, str | int | bool],
    client_timeout: aiohttp.ClientTimeout,
) -> aiohttp.ClientResponse:
    """GET ``path`` and return the open response (the caller reads and releases it).

    Raises ApiStatusError for a non-2xx answer, after reading its body."""
    headers = {"Accept": "application/json"}
    response = await _send(api, "GET", path, query, headers, None, client_timeout, None)
    if not 200 <= response.status < 300:
        body = await response.read()
        response.release()
        raise ApiStatusError("GET", path, response.status, body, _retry_after(response))
    return response


async def request_bytes(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: dict[str, str | int | bool] | None = None,
    body: Any = None,
    content_type: str = "application/json",
    timeout: float = 30.0,  # noqa: ASYNC109 - the HTTP request's own timeout, passed to aiohttp
    precondition: Callable[[], None] | None = None,
) -> bytes:
    """One request; returns the response body. ``body`` (plain JSON data, or bytes already
    serialized) is sent as ``content_type``.

    ``precondition`` runs at the last moment before the request goes out (after any wait for the
    client's rate limit); whatever it raises abandons the request unsent."""
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if body is not None:
        headers["Content-Type"] = content_type
        data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await _send(api, method, path, query, headers, data, timeout, precondition)
    try:
        data = await response.read()
    finally:
        response.release()
    if not 200 <= response.status < 300:
        raise ApiStatusError(method, path, response.status, data, _retry_after(response))
    return data


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
