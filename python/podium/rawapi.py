"""Raw HTTP calls through a kubernetes-asyncio ``ApiClient``.

The generated client turns every response into model objects; podium's hot paths want the bytes
(the Rust core parses them once), so these helpers reuse the client's auth, TLS and connection pool
and hand back the undecoded response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


async def open_stream(
    api: ApiClient,
    path: str,
    query: dict[str, str | int | bool],
    client_timeout: aiohttp.ClientTimeout,
) -> aiohttp.ClientResponse:
    """GET ``path`` and return the open response (the caller reads and releases it).

    Raises ApiStatusError for a non-2xx answer, after reading its body."""
    response: aiohttp.ClientResponse = await api.call_api(
        path,
        "GET",
        query_params=[(k, _query_value(v)) for k, v in query.items()],
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=client_timeout,
    )
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
    """One request; returns the response body. ``body`` (plain JSON data) is sent as JSON.

    ``precondition`` runs at the last moment before the request goes out (after any wait for the
    client's rate limit); whatever it raises abandons the request unsent."""
    from podium.kubeclient import RateLimitedApiClient

    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    extra: dict[str, Any] = {}
    if isinstance(api, RateLimitedApiClient):
        extra["precondition"] = precondition
    elif precondition is not None:
        precondition()
    response: aiohttp.ClientResponse = await api.call_api(
        path,
        method,
        query_params=[(k, _query_value(v)) for k, v in (query or {}).items()],
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=timeout,
        **extra,
    )
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
