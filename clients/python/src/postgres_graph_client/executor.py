"""PostgresGraphExecutor: a GraphIntent in, a GraphResult (and its prompt text) out."""
from dataclasses import dataclass
from typing import Tuple, Union

from . import prompt
from .aio import AsyncGraphClient
from .client import GraphClient
from .errors import InvalidArgumentError
from .intent import GraphIntent, intent_field, normalize
from .types import Comparison, KHopResult, NeighborsResult, PathResult


@dataclass(frozen=True)
class GraphResult:
    """The answer to one intent. `data` is the primitive's dataclass; `clamped` names the
    intent keys whose values were above the server's caps and were lowered. Zero results is a
    valid answer (`is_empty`), not an error."""
    query_type: str
    intent: GraphIntent  # as checked: canonical query and edge type spellings
    data: Union[NeighborsResult, KHopResult, PathResult, Comparison]
    clamped: Tuple[str, ...] = ()

    @property
    def limits(self):
        """The limits the server applied (None for compare, which has none)."""
        return getattr(self.data, "limits", None)

    @property
    def is_empty(self):
        d = self.data
        if self.query_type == "neighbors":
            return not d.neighbors
        if self.query_type == "k_hop":
            return not d.nodes
        if self.query_type == "path":
            return not d.found
        return not (d.a_found and d.b_found)

    def node_ids(self):
        """The anime ids of the answer, in its order, each once (the start node excluded)."""
        d = self.data
        if self.query_type == "neighbors":
            ids = [n.node_id for n in d.neighbors]
        elif self.query_type == "k_hop":
            ids = [n.node_id for n in d.nodes]
        elif self.query_type == "path":
            ids = [s.node_id for s in d.steps]
        else:
            ids = [x for x, found in ((d.a_id, d.a_found), (d.b_id, d.b_found)) if found]
        return list(dict.fromkeys(ids))

    def to_prompt(self):
        """Compact, deterministic text for an LLM's context (see prompt.py)."""
        return prompt.render(self)


def _call_args(intent):
    """(client method name, positional args, keyword args) for a checked intent."""
    caps = {k: getattr(intent, k) or 0 for k in ("max_hops", "max_results", "max_fanout_per_hop")}
    token = {"min_change_token": intent.min_change_token} if intent.min_change_token else {}
    q = intent.query_type
    if q == "neighbors":
        return q, (intent.start_node_id, intent.edge_types), {"limit": caps["max_results"],
                                                              **token}
    if q == "k_hop":
        return q, (intent.start_node_id, intent.edge_types), {**caps, **token}
    if q == "path":
        return q, (intent.start_node_id, intent.end_node_id, intent.edge_types), {
            "max_hops": caps["max_hops"], **token}
    return q, (intent.start_node_id, intent.end_node_id), token


def _result(intent, data):
    limits = getattr(data, "limits", None)
    clamped = tuple(intent_field(intent.query_type, f) for f in limits.clamped) if limits else ()
    return GraphResult(query_type=intent.query_type, intent=intent, data=data, clamped=clamped)


def _in_intent_terms(intent, error):
    """The server's INVALID_ARGUMENT restated with the intent's key for the field it names."""
    if error.field is None:
        return error
    key = intent_field(intent.query_type, error.field)
    message = key + error.message[len(error.field):] if key != error.field else error.message
    return InvalidArgumentError(message, code=error.code, field=key, attempts=error.attempts,
                                index=error.index)


class PostgresGraphExecutor:
    """Runs GraphIntents on PostgresGraphService.

        executor = PostgresGraphExecutor("127.0.0.1:50051")
        result = executor.execute({"query_type": "k_hop", "start_node_id": "...",
                                   "edge_types": ["sequel"], "max_hops": 3})
        print(result.to_prompt())

    Intents are checked before any call (IntentError names the key to change); server errors
    are GraphError subclasses carrying the server's message and the intent key it concerns.
    """

    def __init__(self, client=None, **client_args):
        """`client`: a GraphClient, or an address; other arguments go to GraphClient."""
        if isinstance(client, GraphClient):
            self.client, self._owns_client = client, False
        else:
            self.client, self._owns_client = GraphClient(client, **client_args), True

    def execute(self, intent, *, timeout=None):
        checked = normalize(intent)
        method, args, kwargs = _call_args(checked)
        try:
            data = getattr(self.client, method)(*args, **kwargs, timeout=timeout)
        except InvalidArgumentError as e:
            raise _in_intent_terms(checked, e) from e
        return _result(checked, data)

    def close(self):
        if self._owns_client:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncPostgresGraphExecutor:
    """The asyncio PostgresGraphExecutor: `await executor.execute(intent)`."""

    def __init__(self, client=None, **client_args):
        if isinstance(client, AsyncGraphClient):
            self.client, self._owns_client = client, False
        else:
            self.client, self._owns_client = AsyncGraphClient(client, **client_args), True

    async def execute(self, intent, *, timeout=None):
        checked = normalize(intent)
        method, args, kwargs = _call_args(checked)
        try:
            data = await getattr(self.client, method)(*args, **kwargs, timeout=timeout)
        except InvalidArgumentError as e:
            raise _in_intent_terms(checked, e) from e
        return _result(checked, data)

    async def close(self):
        if self._owns_client:
            await self.client.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
