"""Compact, deterministic text of a GraphResult for an LLM's context.

Every anime is written as `[uuid]`, preceded by its title, type and year when the server sends
them, so the model can both read the answer and pass ids back in its next intent. Only what the
server returned is written, in the server's order: the same answer gives the same text.
"""
from . import types as t

# The kind of hub each derived edge goes through, for servers that do not name it.
_HUB_KIND = {"same_studio": "studio", "co_appears": "character", "adapted_from": "original work"}


def node(node_id, label=None):
    if label is None:
        return "[%s]" % node_id
    kind = label.type if label.type != "UNKNOWN" else None
    details = ", ".join(str(x) for x in (kind, label.year) if x)
    return "%s%s [%s]" % (label.title, " (%s)" % details if details else "", node_id)


def short(node_id, labels):
    """A node already introduced: its title when known, else its id."""
    label = labels.get(node_id)
    return label.title if label is not None else "[%s]" % node_id


def hub(edge_type, via):
    if via is None:
        return ""
    kind = via.kind or _HUB_KIND.get(edge_type, "hub")
    name = via.name + " " if via.name else ""
    return " via %s %s[%s]" % (kind, name, via.id)


def _edge_filter(intent):
    return "; edge types %s" % ", ".join(intent.edge_types) if intent.edge_types else ""


def _count(n, noun, plural=None):
    return "%d %s" % (n, noun if n == 1 else plural or noun + "s")


_MERGED = {"neighbors": (("start_id", "merged_into"),),
           "k_hop": (("start_id", "merged_into"),),
           "path": (("from_id", "from_merged_into"), ("to_id", "to_merged_into")),
           "compare": (("a_id", "a_merged_into"), ("b_id", "b_merged_into"))}


def _notes(result):
    lines = []
    for asked, survivor in _MERGED[result.query_type]:
        into = getattr(result.data, survivor)
        if into:
            lines.append("note: [%s] was merged into [%s]; the answer is about [%s]"
                         % (getattr(result.data, asked), into, into))
    limits = result.limits
    for key in result.clamped:  # intent keys, named as AppliedLimits names them
        lines.append("note: %s was above the server's cap and was lowered to %d"
                     % (key, getattr(limits, key)))
    return lines


def _start(r):
    """The requested start anime; its label only when the answer is about it (not merged)."""
    return node(r.start_id, None if r.merged_into else r.start_label)


def _neighbors(result):
    r, intent = result.data, result.intent
    head = "neighbors of %s%s" % (_start(r), _edge_filter(intent))
    if not r.start_found:
        return [head + ": this anime is not in the catalogue"]
    if not r.neighbors:
        return [head + ": none found"]
    lines = [head + ": " + _count(len(r.neighbors), "neighbor")]
    for i, n in enumerate(r.neighbors, 1):
        lines.append("%d. %s%s -> %s" % (i, n.edge_type, hub(n.edge_type, n.via),
                                         node(n.node_id, n.label)))
    return lines


def _k_hop(result):
    r, intent = result.data, result.intent
    head = "k_hop from %s%s; max_hops %d" % (_start(r), _edge_filter(intent),
                                               r.limits.max_hops)
    if not r.start_found:
        return [head + ": this anime is not in the catalogue"]
    if not r.nodes:
        return [head + ": none found"]
    labels = {n.node_id: n.label for n in r.nodes if n.label is not None}
    if r.start_label is not None:
        labels[r.merged_into or r.start_id] = r.start_label
    lines = [head + ": " + _count(len(r.nodes), "anime", "anime")]
    for i, n in enumerate(r.nodes, 1):
        lines.append("%d. depth %d: %s (%s of %s%s)"
                     % (i, n.depth, node(n.node_id, n.label), n.edge_type,
                        short(n.parent_id, labels), hub(n.edge_type, n.via)))
    if r.truncated:
        lines.append("note: stopped at max_results %d; more anime lie within %d hops"
                     % (r.limits.max_results, r.limits.max_hops))
    return lines


def _path(result):
    r, intent = result.data, result.intent
    head = "path from %s to %s%s; max_hops %d" % (node(r.from_id), node(r.to_id),
                                                   _edge_filter(intent), r.limits.max_hops)
    if not (r.from_found and r.to_found):
        which = ("neither anime is" if not (r.from_found or r.to_found) else
                 "the from anime is not" if not r.from_found else "the to anime is not")
        return [head + ": %s in the catalogue" % which]
    if not r.found:
        why = ("the search stopped at its node budget before proving there is none"
               if r.truncated else "none exists")
        return [head + ": no path within %d hops (%s)" % (r.limits.max_hops, why)]
    chain = node(r.steps[0].node_id, r.steps[0].label)
    for s in r.steps[1:]:
        chain += " -%s%s-> %s" % (s.edge_type, hub(s.edge_type, s.via), node(s.node_id, s.label))
    lines = [head + ": " + _count(len(r.steps) - 1, "hop"), chain]
    lines += ["%d. %s" % (i, s.explanation) for i, s in enumerate(r.steps[1:], 1)
              if s.explanation]
    return lines


def _anime(summary, anime_id):
    if summary is None:
        return node(anime_id)
    return node(anime_id, t.NodeLabel(summary.title, summary.type or None, summary.year or None))


def _shared(title, items):
    if not items:
        return "%s: none" % title
    parts = []
    for s in items:
        roles = " (%s | %s)" % (s.role_in_a or "?", s.role_in_b or "?") if (
            s.role_in_a or s.role_in_b) else ""
        parts.append("%s [%s]%s" % (s.name, s.id, roles))
    return "%s: %s" % (title, "; ".join(parts))


def _compare(result):
    r = result.data
    head = "compare A %s with B %s" % (_anime(r.a, r.a_id), _anime(r.b, r.b_id))
    missing = [side for side, found in (("A", r.a_found), ("B", r.b_found)) if not found]
    if missing:
        return [head + ": %s not in the catalogue" % " and ".join(missing)]
    lines = [head]
    for f in r.fields:
        lines.append("%s: %s %s %s" % (f.field, f.a or "?", "=" if f.equal else "vs",
                                        f.b or "?"))
    lines.append(_shared("shared characters", r.shared_characters))
    lines.append(_shared("shared studios", r.shared_studios))
    lines.append(_shared("shared original works", r.shared_original_works))
    lines.append("direct relations A to B: %s" % (", ".join(r.direct_relations) or "none"))
    return lines


_RENDER = {"neighbors": _neighbors, "k_hop": _k_hop, "path": _path, "compare": _compare}


def render(result):
    return "\n".join(_RENDER[result.query_type](result) + _notes(result))
