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


def _scalar_field(descriptor, names, kind):
    """The first of `names` that is a singular string (kind str) or integer (kind int) field."""
    for name in names:
        f = descriptor.fields_by_name.get(name)
        if f is None or f.label == FieldDescriptor.LABEL_REPEATED:
            continue
        if kind is str and f.type == FieldDescriptor.TYPE_STRING:
            return name
        if kind is int and f.cpp_type in (FieldDescriptor.CPPTYPE_INT32,
                                          FieldDescriptor.CPPTYPE_INT64):
            return name
    return None


def _message_field(descriptor, names):
    for name in names:
        f = descriptor.fields_by_name.get(name)
        if (f is not None and f.type == FieldDescriptor.TYPE_MESSAGE and
                f.label != FieldDescriptor.LABEL_REPEATED):
            return name
    return None


class _LabelFields:
    """Which label fields a message type has, found once per type: answers from a server
    without labels cost one dictionary look-up per item."""

    def __init__(self, d):
        self.title = _scalar_field(d, _TITLE, str)
        self.type = _scalar_field(d, _ANIME_TYPE, str)
        self.year = _scalar_field(d, _YEAR, int)
        self.node_message = _message_field(d, _NODE_MESSAGE)
        self.hub_name = _scalar_field(d, _HUB_NAME, str)
        self.hub_kind = _scalar_field(d, _HUB_KIND, str)
        self.hub_message = _message_field(d, _HUB_MESSAGE)
        self.explanation = _scalar_field(d, _EXPLANATION, str)
        self.has_node_label = bool(self.title or self.node_message)
        self.names = frozenset(d.fields_by_name)
        # Inside a nested hub message: its kind and name.
        self.kind = _scalar_field(d, ("kind", "type"), str)
        self.name = _scalar_field(d, ("name", "title", "label"), str)


_FIELDS = {}


def _fields(msg):
    d = msg.DESCRIPTOR
    found = _FIELDS.get(d.full_name)
    if found is None:
        found = _FIELDS[d.full_name] = _LabelFields(d)
    return found


def _get(msg, name):
    return (getattr(msg, name) or None) if name else None


def node_label(msg):
    """The anime's label carried by an answer item (its own fields or a nested message)."""
    f = _fields(msg)
    if not f.has_node_label:
        return None
    source = msg
    if f.node_message and msg.HasField(f.node_message):
        source = getattr(msg, f.node_message)
        f = _fields(source)
    title = _get(source, f.title)
    if title is None:
        return None
    return t.NodeLabel(title=title, type=_get(source, f.type), year=_year(_get(source, f.year)))


def hub(msg):
    """The hub of a derived edge, with its kind and name when the server sends them."""
    if not msg.via_id:
        return None
    f = _fields(msg)
    if f.hub_message and msg.HasField(f.hub_message):
        inner = getattr(msg, f.hub_message)
        g = _fields(inner)
        return t.Hub(id=msg.via_id, kind=_get(inner, g.kind), name=_get(inner, g.name))
    return t.Hub(id=msg.via_id, kind=_get(msg, f.hub_kind), name=_get(msg, f.hub_name))


def _year(value):
    return value or None  # 0: unknown


def explanation(msg):
    return _get(msg, _fields(msg).explanation)


def start_label(resp):
    """The start anime's label of a neighbors or k_hop answer (field `start`), when sent."""
    if "start" not in _fields(resp).names or not resp.HasField("start"):
        return None
    return node_label(resp.start)


def _optional(msg, name):
    """A string field of newer servers (e.g. merged_into), None when absent or empty."""
    return (getattr(msg, name) or None) if name in _fields(msg).names else None


def limits(msg):
    return t.AppliedLimits(max_hops=msg.max_hops, max_fanout_per_hop=msg.max_fanout_per_hop,
                           max_results=msg.max_results, hub_window=msg.hub_window,
                           clamped=tuple(msg.clamped))


def _labelling(items):
    """(node label reader, hub reader) for the items of one repeated field: all share a type,
    so the label fields are looked up once, and a type without labels costs nothing per item."""
    if not items:
        return None, None
    f = _fields(items[0])
    label = node_label if f.has_node_label else (lambda msg: None)
    has_hub_labels = f.hub_message or f.hub_kind or f.hub_name
    via = hub if has_hub_labels else (lambda msg: t.Hub(msg.via_id) if msg.via_id else None)
    return label, via


def neighbors(request, resp):
    items = resp.neighbors
    label, via = _labelling(items)
    return t.NeighborsResult(
        start_id=request.node_id, start_found=resp.start_found,
        neighbors=tuple(t.Neighbor(n.node_id, edge_type_name(n.edge_type), via(n), label(n))
                        for n in items),
        limits=limits(resp.applied_limits), merged_into=_optional(resp, "merged_into"),
        start_label=start_label(resp))


def k_hop(request, resp):
    items = resp.results
    label, via = _labelling(items)
    return t.KHopResult(
        start_id=request.node_id, start_found=resp.start_found, truncated=resp.truncated,
        nodes=tuple(t.KHopNode(n.node_id, n.depth, edge_type_name(n.edge_type), n.parent_id,
                               via(n), label(n)) for n in items),
        limits=limits(resp.applied_limits), merged_into=_optional(resp, "merged_into"),
        start_label=start_label(resp))


def path(request, resp):
    items = resp.steps
    label, via = _labelling(items)
    return t.PathResult(
        from_id=request.from_id, to_id=request.to_id, found=resp.found,
        from_found=resp.from_found, to_found=resp.to_found, truncated=resp.truncated,
        steps=tuple(t.PathStep(s.node_id, edge_type_name(s.edge_type), via(s), label(s),
                               explanation(s)) for s in items),
        limits=limits(resp.applied_limits),
        from_merged_into=_optional(resp, "from_merged_into"),
        to_merged_into=_optional(resp, "to_merged_into"))


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
        direct_relations=tuple(edge_type_name(e) for e in resp.direct_relations),
        a_merged_into=_optional(resp, "a_merged_into"),
        b_merged_into=_optional(resp, "b_merged_into"))
