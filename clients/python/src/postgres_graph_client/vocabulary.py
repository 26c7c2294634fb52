"""Edge and query-type names as the agent spells them, mapped to the protocol's enums."""
from ._proto import pb

#: Edge types in protocol order, spelled as in the edge vocabulary: relation types upper case
#: (rows of anime_relation), derived edges lower case (joined through a hub).
EDGE_TYPES = ("SEQUEL", "PREQUEL", "SIDE_STORY", "ALTERNATIVE", "SUMMARY", "FULL_STORY",
              "CHARACTER", "SPIN_OFF", "ADAPTATION", "OTHER", "same_studio", "co_appears",
              "adapted_from")

#: The four primitives.
QUERY_TYPES = ("neighbors", "k_hop", "path", "compare")

_BY_KEY = {name.upper(): pb.EdgeType.Value("EDGE_TYPE_" + name.upper()) for name in EDGE_TYPES}
_NAME_BY_VALUE = {value: name for name, value in zip(EDGE_TYPES, _BY_KEY.values())}


def _key(text):
    key = text.strip().upper().replace("-", "_").replace(" ", "_")
    return key[len("EDGE_TYPE_"):] if key.startswith("EDGE_TYPE_") else key


def edge_type_value(name):
    """The protocol value of an edge type name ('sequel', 'SAME_STUDIO', 'same-studio' ...), or
    None when it is not in the vocabulary."""
    if not isinstance(name, str):
        return None
    return _BY_KEY.get(_key(name))


def edge_type_name(value):
    """The vocabulary spelling of a protocol value ('SEQUEL', 'same_studio'); None for
    UNSPECIFIED; 'UNKNOWN(n)' for a value newer than this client."""
    if value == 0:
        return None
    return _NAME_BY_VALUE.get(value, "UNKNOWN(%d)" % value)


def query_type_name(text):
    """'k_hop' for 'k_hop', 'K-Hop', 'khop' ...; None when it is not a primitive."""
    if not isinstance(text, str):
        return None
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    if key == "khop":
        key = "k_hop"
    return key if key in QUERY_TYPES else None
