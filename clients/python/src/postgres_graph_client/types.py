"""Answers of the four primitives as plain, immutable dataclasses.

Edge types are vocabulary names ('SEQUEL', 'same_studio'). Labels (an anime's title, type and
year; a hub's kind and name; a path step's explanation) are filled when the server sends them
and None otherwise, and so is `merged_into` (the anime a requested id was merged into, whose
answer this is).
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True)
class AppliedLimits:
    """The limits the server used after defaults and clamping; `clamped` names the request
    fields whose value was above the server cap and was lowered."""
    max_hops: int = 0
    max_fanout_per_hop: int = 0
    max_results: int = 0
    hub_window: int = 0
    clamped: Tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeLabel:
    """What a reader needs to recognise an anime without a second call. `type` is TV, MOVIE,
    OVA, ONA, SPECIAL, MUSIC or UNKNOWN; `year` is None when unknown."""
    title: str
    type: Optional[str] = None
    year: Optional[int] = None


@dataclass(frozen=True)
class Hub:
    """The studio, character or original work a derived edge goes through. `kind` is
    'studio', 'character' or 'original work'."""
    id: str
    kind: Optional[str] = None
    name: Optional[str] = None


@dataclass(frozen=True)
class Neighbor:
    node_id: str
    edge_type: str  # as seen from the start node
    via: Optional[Hub] = None
    label: Optional[NodeLabel] = None


@dataclass(frozen=True)
class NeighborsResult:
    start_id: str
    start_found: bool
    neighbors: Tuple[Neighbor, ...]
    limits: AppliedLimits
    merged_into: Optional[str] = None
    start_label: Optional[NodeLabel] = None  # the start anime's (the survivor's when merged)


@dataclass(frozen=True)
class KHopNode:
    node_id: str
    depth: int  # 1 = a direct neighbour of the start
    edge_type: str  # from parent_id to node_id, as seen from parent_id
    parent_id: str
    via: Optional[Hub] = None
    label: Optional[NodeLabel] = None


@dataclass(frozen=True)
class KHopResult:
    start_id: str
    start_found: bool
    truncated: bool  # max_results stopped the search before every node within max_hops
    nodes: Tuple[KHopNode, ...]
    limits: AppliedLimits
    merged_into: Optional[str] = None
    start_label: Optional[NodeLabel] = None  # the start anime's (the survivor's when merged)


@dataclass(frozen=True)
class PathStep:
    node_id: str
    edge_type: Optional[str]  # from the previous step's node; None for the first step
    via: Optional[Hub] = None
    label: Optional[NodeLabel] = None
    explanation: Optional[str] = None  # one line from the previous step; None for the first


@dataclass(frozen=True)
class PathResult:
    from_id: str
    to_id: str
    found: bool
    from_found: bool
    to_found: bool
    truncated: bool  # the search hit its node budget before proving there is no path
    steps: Tuple[PathStep, ...]
    limits: AppliedLimits
    from_merged_into: Optional[str] = None
    to_merged_into: Optional[str] = None


@dataclass(frozen=True)
class AnimeSummary:
    id: str
    title: str
    title_english: str = ""
    type: str = ""
    status: str = ""
    season: str = ""
    year: int = 0
    episode_count: int = 0
    score: float = 0.0
    view_count: int = 0


@dataclass(frozen=True)
class FieldComparison:
    field: str
    a: str  # text form; empty when unknown
    b: str
    equal: bool


@dataclass(frozen=True)
class SharedEntity:
    id: str
    name: str
    role_in_a: str = ""
    role_in_b: str = ""


@dataclass(frozen=True)
class Comparison:
    a_id: str
    b_id: str
    a_found: bool
    b_found: bool
    a: Optional[AnimeSummary]
    b: Optional[AnimeSummary]
    fields: Tuple[FieldComparison, ...] = ()
    shared_characters: Tuple[SharedEntity, ...] = ()
    shared_studios: Tuple[SharedEntity, ...] = ()
    shared_original_works: Tuple[SharedEntity, ...] = ()
    direct_relations: Tuple[str, ...] = field(default=())  # edges from a to b, seen from a
    a_merged_into: Optional[str] = None
    b_merged_into: Optional[str] = None
