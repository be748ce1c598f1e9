"""What the PreBind plugins (``volume_binding``, ``dynamic_resources``) share: their errors, and one
write to the apiserver checked against the leader lease at the last moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

__all__ = ["NotLeading", "PreBindError", "status_message", "write"]


class PreBindError(Exception):
    """A PreBind plugin could not do its part; the message is kube's. ``status`` is the
    apiserver's HTTP status when it refused a write (409: changed meanwhile)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotLeading(Exception):
    """This replica may have lost the leader lease: nothing more is written."""


async def write(
    api: ApiClient,
    method: str,
    path: str,
    body: Any,
    *,
    content_type: str = "application/json",
    timeout: float,  # noqa: ASYNC109 - the HTTP request's own timeout
    may_bind: Callable[[], bool] | None,
) -> bytes:
    """One write; its response body. NotLeading (nothing sent) once ``may_bind`` says the lease
    may be lost; PreBindError with the apiserver's message when it refuses or cannot be reached."""

    def last_check() -> None:
        if may_bind is not None and not may_bind():
            raise NotLeading

    try:
        return await request_bytes(
            api,
            method,
            path,
            body=body,
            content_type=content_type,
            timeout=timeout,
            precondition=last_check,
        )
    except ApiStatusError as err:
        raise PreBindError(status_message(err), err.status) from err
    except (aiohttp.ClientError, TimeoutError) as err:
        raise PreBindError(f"{type(err).__name__}: {err}") from err


def status_message(err: ApiStatusError) -> str:
    """The apiserver's own message (kube's client returns it as the error)."""
    try:
        decoded = orjson.loads(err.body)
    except orjson.JSONDecodeError:
        return str(err)
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return str(err)
