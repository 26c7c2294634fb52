"""GraphIntent: what an agent asks for, checked and mapped to a call before anything is sent."""
from dataclasses import dataclass, fields
from typing import Optional, Sequence

from ._requests import change_token, edge_type_values
from .errors import IntentError
from .vocabulary import QUERY_TYPES, edge_type_name, query_type_name

#: The server's caps (proto/anime/graph/v1/graph_service.proto); larger values are lowered by
#: the server and reported in GraphResult.clamped.
CAPS = {"max_hops": 5, "max_results": 50, "max_fanout_per_hop": 50}


@dataclass(frozen=True)
class GraphIntent:
    """One graph question. `start_node_id` is the anime to start from (compare: the first of
    the two); `end_node_id` is the path's target (compare: the second). Caps left None take the
    server's defaults; `edge_types` empty means every edge type. `min_change_token` is a write's
    change token: the answer then includes that write (None = the graph as it is)."""
    query_type: str
    start_node_id: Optional[str] = None
    end_node_id: Optional[str] = None
    edge_types: Sequence[str] = ()
    max_hops: Optional[int] = None
    max_results: Optional[int] = None
    max_fanout_per_hop: Optional[int] = None
    min_change_token: Optional[str] = None


KEYS = tuple(f.name for f in fields(GraphIntent))

# What each primitive takes: which ids, whether edge types, which caps, and the name of each
# intent key in its request (so the server's field names can be said in the intent's terms).
_SHAPES = {
    "neighbors": {"ids": ("start_node_id",), "edge_types": True, "caps": ("max_results",),
                  "fields": {"node_id": "start_node_id", "limit": "max_results"}},
    "k_hop": {"ids": ("start_node_id",), "edge_types": True,
              "caps": ("max_hops", "max_fanout_per_hop", "max_results"),
              "fields": {"node_id": "start_node_id"}},
    "path": {"ids": ("start_node_id", "end_node_id"), "edge_types": True, "caps": ("max_hops",),
             "fields": {"from_id": "start_node_id", "to_id": "end_node_id"}},
    "compare": {"ids": ("start_node_id", "end_node_id"), "edge_types": False, "caps": (),
                "fields": {"a_id": "start_node_id", "b_id": "end_node_id"}},
}
_WHAT = {"neighbors": "one hop, it has no max_hops or fanout",
         "k_hop": "it takes one start node",
         "path": "it returns one chain, so it has no max_results or fanout",
         "compare": "it compares two anime and follows no edges"}


def intent_field(query_type, server_field):
    """The intent key for a request field the server named (e.g. 'limit' -> 'max_results')."""
    return _SHAPES[query_type]["fields"].get(server_field, server_field)


def normalize(intent):
    """A checked GraphIntent (query type and edge types in their canonical spelling) from a
    GraphIntent or a dict with the same keys. Raises IntentError naming the key to change."""
    if isinstance(intent, GraphIntent):
        values = {k: getattr(intent, k) for k in KEYS}
    elif isinstance(intent, dict):
        unknown = sorted(k for k in intent if k not in KEYS)
        if unknown:
            raise IntentError(unknown[0], "%s: not an intent key; the keys are %s"
                              % (unknown[0], ", ".join(KEYS)))
        values = {k: intent.get(k) for k in KEYS}
    else:
        raise IntentError("query_type", "an intent is a dict (or GraphIntent) with keys "
                          + ", ".join(KEYS))

    query_type = query_type_name(values["query_type"])
    if query_type is None:
        raise IntentError("query_type", "query_type: unknown %r; use one of %s"
                          % (values["query_type"], ", ".join(QUERY_TYPES)))
    shape = _SHAPES[query_type]

    for key in ("start_node_id", "end_node_id"):
        value = values[key]
        if key in shape["ids"]:
            if not isinstance(value, str) or not value.strip():
                raise IntentError(key, "%s: required for %s (an anime UUID)" % (key, query_type))
            values[key] = value.strip()
        elif value not in (None, ""):
            raise IntentError(key, "%s: not used by %s (%s); leave it out"
                              % (key, query_type, _WHAT[query_type]))
        else:
            values[key] = None

    edge_types = values["edge_types"] or ()
    if edge_types and not shape["edge_types"]:
        raise IntentError("edge_types", "edge_types: not used by compare (%s); leave it out"
                          % _WHAT["compare"])
    values["edge_types"] = tuple(edge_type_name(v) for v in edge_type_values(edge_types))

    for cap, maximum in CAPS.items():
        value = values[cap]
        if value is None:
            continue
        if cap not in shape["caps"]:
            raise IntentError(cap, "%s: not used by %s (%s); leave it out"
                              % (cap, query_type, _WHAT[query_type]))
        if isinstance(value, bool) or not isinstance(value, int):
            raise IntentError(cap, "%s: must be a whole number from 1 to %d, got %r"
                              % (cap, maximum, value))
        if value < 0:
            raise IntentError(cap, "%s: must not be negative (got %d); leave it out for the "
                              "server's default, the maximum is %d" % (cap, value, maximum))
    values["min_change_token"] = change_token(values["min_change_token"]) or None
    values["query_type"] = query_type
    return GraphIntent(**values)
