"""The asyncio client of PostgresGraphService (grpc.aio)."""
import asyncio
import dataclasses
import time

import grpc
import grpc.aio

from . import _requests as rq
from .errors import DeadlineExceededError, from_rpc_error
from .options import ClientSettings


class AsyncGraphClient:
    """The asyncio twin of GraphClient: same arguments, same answers, awaitable calls. Many
    calls may be in flight at once on its one channel. Create it inside the event loop.

        async with AsyncGraphClient("127.0.0.1:50051") as graph:
            result = await graph.neighbors("de0a0000-0000-4000-8000-000000000003")
    """

    def __init__(self, address=None, *, settings=None, **overrides):
        settings = settings or ClientSettings()
        if address is not None:
            overrides["address"] = address
        if overrides:
            settings = dataclasses.replace(settings, **overrides)
        self.settings = settings
        options = settings.all_channel_options()
        if settings.tls is not None:
            self._channel = grpc.aio.secure_channel(settings.address,
                                                    settings.tls.credentials(), options)
        else:
            self._channel = grpc.aio.insecure_channel(settings.address, options)
        self._metadata = settings.metadata()
        self._calls = {m.name: self._channel.unary_unary(m.path, request_serializer=m.serialize,
                                                         response_deserializer=m.deserialize)
                       for m in rq.METHODS}

    async def neighbors(self, node_id, edge_types=(), limit=0, *, timeout=None,
                        min_change_token=None):
        request = rq.neighbors(node_id, edge_types, limit, min_change_token)
        return await self._call(rq.NEIGHBORS, request, timeout)

    async def k_hop(self, node_id, edge_types=(), max_hops=0, max_fanout_per_hop=0,
                    max_results=0, *, timeout=None, min_change_token=None):
        request = rq.k_hop(node_id, edge_types, max_hops, max_fanout_per_hop, max_results,
                           min_change_token)
        return await self._call(rq.K_HOP, request, timeout)

    async def path(self, from_id, to_id, edge_types=(), max_hops=0, *, timeout=None,
                   min_change_token=None):
        request = rq.path(from_id, to_id, edge_types, max_hops, min_change_token)
        return await self._call(rq.PATH, request, timeout)

    async def compare(self, a_id, b_id, *, timeout=None, min_change_token=None):
        request = rq.compare(a_id, b_id, min_change_token)
        return await self._call(rq.COMPARE, request, timeout)

    async def close(self):
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _call(self, method, request, timeout):
        settings = self.settings
        call = self._calls[method.name]
        deadline = time.monotonic() + (settings.timeout if timeout is None else timeout)
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceededError("the deadline expired before attempt %d" % attempt,
                                            code=grpc.StatusCode.DEADLINE_EXCEEDED,
                                            attempts=attempt - 1)
            try:
                response = await call(request, timeout=remaining, metadata=self._metadata)
            except grpc.aio.AioRpcError as e:
                policy = settings.retry
                if e.code() not in policy.RETRYABLE or attempt >= policy.max_attempts:
                    raise from_rpc_error(e, attempt, settings.address) from e
                pause = policy.backoff(attempt)
                if time.monotonic() + pause >= deadline:
                    raise from_rpc_error(e, attempt, settings.address) from e
                await asyncio.sleep(pause)
                continue
            return method.convert(request, response)
