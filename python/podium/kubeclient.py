"""The one place podium builds its Kubernetes API client.

client-go limits each client to ``qps`` requests per second with bursts of ``burst``; the
kubernetes-asyncio client has no such limit, so ``RateLimitedApiClient`` adds the same token
bucket in front of every request (generated API calls and raw ``call_api`` alike).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

# Watches hold a connection each for their whole life; this many stay free for them beyond the
# ``burst`` requests that may be in flight at once.
_WATCH_CONNECTIONS = 16
_MIN_CONNECTIONS = 64


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate <= 0`` means unlimited."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if burst < 1 and rate > 0:
            raise ValueError(f"burst must be at least 1 when qps is limited, got {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Waits until a request may go out; callers are served in arrival order."""
        if self.rate <= 0:
            return
        async with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            if self._tokens < 0:
                # Holding the lock while waiting keeps later callers behind this one.
                await self._sleep(-self._tokens / self.rate)


class RateLimitedApiClient(client.ApiClient):
    """An ``ApiClient`` whose requests first take a token from ``limiter``."""

    def __init__(self, configuration: client.Configuration, limiter: TokenBucket) -> None:
        super().__init__(configuration)
        self.limiter = limiter

    def call_api(
        self, *args: Any, precondition: Callable[[], None] | None = None, **kwargs: Any
    ) -> Coroutine[Any, Any, Any]:
        """``precondition`` runs once the token is taken, right before the request is sent;
        whatever it raises abandons the request (a rate-limit wait can last long enough for the
        reason to send to have expired, e.g. a leader's lease)."""
        request: Coroutine[Any, Any, Any] = super().call_api(*args, **kwargs)
        return self._after_token(request, precondition)

    async def _after_token(
        self, request: Coroutine[Any, Any, Any], precondition: Callable[[], None] | None
    ) -> Any:
        try:
            await self.limiter.acquire()
            if precondition is not None:
                precondition()
        except BaseException:
            # Cancelled while waiting or refused: the request never started, so it must not warn.
            request.close()
            raise
        return await request


async def api_client(
    kubeconfig: Path | None,
    qps: float,
    burst: int,
    *,
    context: str | None = None,
) -> client.ApiClient:
    """A client for the cluster in ``kubeconfig`` (in-cluster service account when None).

    The caller closes it (``await api.close()`` or ``async with``)."""
    configuration = client.Configuration()
    if kubeconfig is None:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        await config.load_kube_config(
            config_file=str(kubeconfig),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    configuration.connection_pool_maxsize = max(_MIN_CONNECTIONS, burst + _WATCH_CONNECTIONS)
    return RateLimitedApiClient(configuration, TokenBucket(qps, burst))
