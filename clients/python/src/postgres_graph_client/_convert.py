"""Protocol messages to dataclasses.

Labels are read by field name when the message has such a field, so answers from servers
that send labels (titles, hub names) are rendered with them, and answers from servers that do
not are rendered with ids, by the same client.
"""
from google.protobuf.descriptor import FieldDescriptor

from . import types as t
from .vocabulary import edge_type_name

_TITLE = ("title", "node_title", "label", "node_label", "name")
_ANIME_TYPE = ("type", "node_type", "anime_type")
_YEAR = ("year", "node_year")
_NODE_MESSAGE = ("label", "node_label", "node", "anime")
_HUB_NAME = ("via_name", "via_label", "hub_name", "hub_label")
_HUB_KIND = ("via_kind", "hub_kind")
_HUB_MESSAGE = ("via", "hub", "via_hub")
_EXPLANATION = ("explanation", "explain", "reason")


def _scalar(msg, names, kind):
    fields = msg.DESCRIPTOR.fields_by_name
    for name in names:
        f = fields.get(name)
        if f is None or f.label == FieldDescriptor.LABEL_REPEATED:
            continue
        if kind is str and f.type == FieldDescriptor.TYPE_STRING:
            value = getattr(msg, name)
        elif kind is int and f.cpp_type in (FieldDescriptor.CPPTYPE_INT32,
                                            FieldDescriptor.CPPTYPE_INT64):
            value = getattr(msg, name)
        else:
            continue
        if value:
            return value
    return None


def _submessage(msg, names):
    fields = msg.DESCRIPTOR.fields_by_name
    for name in names:
        f = fields.get(name)
        if (f is not None and f.type == FieldDescriptor.TYPE_MESSAGE and
                f.label != FieldDescriptor.LABEL_REPEATED and msg.HasField(name)):
            return getattr(msg, name)
    return None


def node_label(msg):
    """The anime's label carried by an answer item (its own fields or a nested message)."""
    inner = _submessage(msg, _NODE_MESSAGE)
    source = inner if inner is not None else msg
    title = _scalar(source, _TITLE, str)
    if title is None:
        return None
    return t.NodeLabel(title=title, type=_scalar(source, _ANIME_TYPE, str),
                       year=_scalar(source, _YEAR, int))


def hub(msg):
    """The hub of a derived edge, with its kind and name when the server sends them."""
    if not msg.via_id:
        return None
    inner = _submessage(msg, _HUB_MESSAGE)
    if inner is not None:
        return t.Hub(id=msg.via_id, kind=_scalar(inner, ("kind", "type"), str),
                     name=_scalar(inner, ("name", "title", "label"), str))
    return t.Hub(id=msg.via_id, kind=_scalar(msg, _HUB_KIND, str),
                 name=_scalar(msg, _HUB_NAME, str))


def limits(msg):
    return t.AppliedLimits(max_hops=msg.max_hops, max_fanout_per_hop=msg.max_fanout_per_hop,
                           max_results=msg.max_results, hub_window=msg.hub_window,
                           clamped=tuple(msg.clamped))


def neighbors(request, resp):
    return t.NeighborsResult(
        start_id=request.node_id, start_found=resp.start_found,
        neighbors=tuple(t.Neighbor(node_id=n.node_id, edge_type=edge_type_name(n.edge_type),
                                   via=hub(n), label=node_label(n)) for n in resp.neighbors),
        limits=limits(resp.applied_limits))


def k_hop(request, resp):
    return t.KHopResult(
        start_id=request.node_id, start_found=resp.start_found, truncated=resp.truncated,
        nodes=tuple(t.KHopNode(node_id=n.node_id, depth=n.depth,
                               edge_type=edge_type_name(n.edge_type), parent_id=n.parent_id,
                               via=hub(n), label=node_label(n)) for n in resp.results),
        limits=limits(resp.applied_limits))


def path(request, resp):
    return t.PathResult(
        from_id=request.from_id, to_id=request.to_id, found=resp.found,
        from_found=resp.from_found, to_found=resp.to_found, truncated=resp.truncated,
        steps=tuple(t.PathStep(node_id=s.node_id, edge_type=edge_type_name(s.edge_type),
                               via=hub(s), label=node_label(s),
                               explanation=_scalar(s, _EXPLANATION, str)) for s in resp.steps),
        limits=limits(resp.applied_limits))


def _summary(msg):
    return t.AnimeSummary(id=msg.id, title=msg.title, title_english=msg.title_english,
                          type=msg.type, status=msg.status, season=msg.season, year=msg.year,
                          episode_count=msg.episode_count, score=msg.score,
                          view_count=msg.view_count)


def _shared(items):
    return tuple(t.SharedEntity(id=s.id, name=s.name, role_in_a=s.role_in_a,
                                role_in_b=s.role_in_b) for s in items)


def compare(request, resp):
    return t.Comparison(
        a_id=request.a_id, b_id=request.b_id, a_found=resp.a_found, b_found=resp.b_found,
        a=_summary(resp.a) if resp.a_found else None,
        b=_summary(resp.b) if resp.b_found else None,
        fields=tuple(t.FieldComparison(field=f.field, a=f.a, b=f.b, equal=f.equal)
                     for f in resp.fields),
        shared_characters=_shared(resp.shared_characters),
        shared_studios=_shared(resp.shared_studios),
        shared_original_works=_shared(resp.shared_original_works),
        direct_relations=tuple(edge_type_name(e) for e in resp.direct_relations))
