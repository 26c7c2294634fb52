"""The synchronous client of PostgresGraphService."""
import dataclasses
import time

import grpc

from . import _requests as rq
from .errors import DeadlineExceededError, from_rpc_error
from .options import ClientSettings


class GraphClient:
    """Calls the four graph primitives and returns dataclasses (see types.py).

    One channel per client; thread-safe. Every call has a deadline (`timeout` seconds,
    default the settings' 5 s) that covers its retries too.

        with GraphClient("127.0.0.1:50051", token="...") as graph:
            graph.k_hop("de0a0000-0000-4000-8000-000000000003", ["SEQUEL"], max_hops=2)
    """

    def __init__(self, address=None, *, settings=None, **overrides):
        """`settings` (a ClientSettings), then `address` and keyword overrides of its fields
        (token, tls, timeout, retry, channel_options)."""
        settings = settings or ClientSettings()
        if address is not None:
            overrides["address"] = address
        if overrides:
            settings = dataclasses.replace(settings, **overrides)
        self.settings = settings
        options = settings.all_channel_options()
        if settings.tls is not None:
            self._channel = grpc.secure_channel(settings.address, settings.tls.credentials(),
                                                options)
        else:
            self._channel = grpc.insecure_channel(settings.address, options)
        self._metadata = settings.metadata()
        self._calls = {m.name: self._channel.unary_unary(m.path, request_serializer=m.serialize,
                                                         response_deserializer=m.deserialize)
                       for m in rq.METHODS}

    # Every call takes `min_change_token`: a write's change token; the answer then includes
    # that write (the server waits for its memory graph, within the call's deadline).

    def neighbors(self, node_id, edge_types=(), limit=0, *, timeout=None, min_change_token=None):
        """One hop from `node_id`; `limit` 0 = the server default (50), capped at 50."""
        request = rq.neighbors(node_id, edge_types, limit, min_change_token)
        return self._call(rq.NEIGHBORS, request, timeout)

    def k_hop(self, node_id, edge_types=(), max_hops=0, max_fanout_per_hop=0, max_results=0, *,
              timeout=None, min_change_token=None):
        """Breadth-first expansion; 0 = server defaults (2 hops, fanout 20, 20 results)."""
        request = rq.k_hop(node_id, edge_types, max_hops, max_fanout_per_hop, max_results,
                           min_change_token)
        return self._call(rq.K_HOP, request, timeout)

    def path(self, from_id, to_id, edge_types=(), max_hops=0, *, timeout=None,
             min_change_token=None):
        """A shortest chain from `from_id` to `to_id`; max_hops 0 = 5."""
        request = rq.path(from_id, to_id, edge_types, max_hops, min_change_token)
        return self._call(rq.PATH, request, timeout)

    def compare(self, a_id, b_id, *, timeout=None, min_change_token=None):
        """A structured diff of two anime."""
        return self._call(rq.COMPARE, rq.compare(a_id, b_id, min_change_token), timeout)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, timeout):
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
                response = call(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as e:
                policy = settings.retry
                if e.code() not in policy.RETRYABLE or attempt >= policy.max_attempts:
                    raise from_rpc_error(e, attempt, settings.address) from e
                pause = policy.backoff(attempt)
                if time.monotonic() + pause >= deadline:
                    raise from_rpc_error(e, attempt, settings.address) from e
                time.sleep(pause)
                continue
            return method.convert(request, response)
