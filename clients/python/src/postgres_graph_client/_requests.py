"""Request messages for the four primitives, shared by the sync and asyncio clients."""
from . import _convert
from ._proto import method_path, pb
from .errors import IntentError
from .vocabulary import EDGE_TYPES, edge_type_name, edge_type_value

EDGE_TYPE_HINT = ("use any of " + " ".join(EDGE_TYPES) +
                  " (case does not matter), or no edge types for all of them")


def edge_type_values(edge_types, field="edge_types"):
    """Protocol values of edge type names (or protocol values); IntentError for any unknown."""
    if edge_types is None:
        return []
    if isinstance(edge_types, (str, int)):
        edge_types = [edge_types]
    values = []
    for i, e in enumerate(edge_types):
        if isinstance(e, int) and not isinstance(e, bool):
            name = edge_type_name(e)
            value = e if name and not name.startswith("UNKNOWN") else None
        else:
            value = edge_type_value(e)
        if value is None:
            raise IntentError(field, "%s[%d]: unknown edge type %r; %s"
                              % (field, i, e, EDGE_TYPE_HINT), index=i)
        values.append(value)
    return values


class Method:
    """One RPC: its path, how to (de)serialize, and how its answer becomes a dataclass."""

    def __init__(self, name, request_type, response_type, convert):
        self.name = name
        self.path = method_path(name)
        self.serialize = request_type.SerializeToString
        self.deserialize = response_type.FromString
        self.convert = convert


NEIGHBORS = Method("Neighbors", pb.NeighborsRequest, pb.NeighborsResponse, _convert.neighbors)
K_HOP = Method("KHop", pb.KHopRequest, pb.KHopResponse, _convert.k_hop)
PATH = Method("Path", pb.PathRequest, pb.PathResponse, _convert.path)
COMPARE = Method("Compare", pb.CompareRequest, pb.CompareResponse, _convert.compare)
METHODS = (NEIGHBORS, K_HOP, PATH, COMPARE)


def change_token(value, field="min_change_token"):
    """The request's min_change_token: a write's change token, passed unchanged (a str of
    digits; an int is written in decimal); None or "" = none. IntentError for anything else."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise IntentError(field, "%s: not a change token: %r (pass the change_token a write "
                      "returned, unchanged)" % (field, value))


def neighbors(node_id, edge_types, limit, min_change_token=None):
    return pb.NeighborsRequest(node_id=node_id, edge_types=edge_type_values(edge_types),
                               limit=limit, min_change_token=change_token(min_change_token))


def k_hop(node_id, edge_types, max_hops, max_fanout_per_hop, max_results, min_change_token=None):
    return pb.KHopRequest(node_id=node_id, edge_types=edge_type_values(edge_types),
                          max_hops=max_hops, max_fanout_per_hop=max_fanout_per_hop,
                          max_results=max_results, min_change_token=change_token(min_change_token))


def path(from_id, to_id, edge_types, max_hops, min_change_token=None):
    return pb.PathRequest(from_id=from_id, to_id=to_id, edge_types=edge_type_values(edge_types),
                          max_hops=max_hops, min_change_token=change_token(min_change_token))


def compare(a_id, b_id, min_change_token=None):
    return pb.CompareRequest(a_id=a_id, b_id=b_id, min_change_token=change_token(min_change_token))
