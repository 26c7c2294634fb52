"""Python client of postgres_service's PostgresGraphService, for the Agent Service.

    from postgres_graph_client import PostgresGraphExecutor
    with PostgresGraphExecutor("127.0.0.1:50051") as graph:
        print(graph.execute({"query_type": "neighbors",
                             "start_node_id": "de0a0000-0000-4000-8000-000000000003"}).to_prompt())
"""
from .aio import AsyncGraphClient
from .client import GraphClient
from .errors import (ChangeNotVisibleError, DeadlineExceededError, GraphError, IntentError,
                     InvalidArgumentError, ResourceExhaustedError, UnauthenticatedError,
                     UnavailableError)
from .executor import AsyncPostgresGraphExecutor, GraphResult, PostgresGraphExecutor
from .intent import CAPS, GraphIntent
from .options import NO_RETRY, ClientSettings, RetryPolicy, TlsOptions
from .types import (AnimeSummary, AppliedLimits, Comparison, FieldComparison, Hub, KHopNode,
                    KHopResult, Neighbor, NeighborsResult, NodeLabel, PathResult, PathStep,
                    SharedEntity)
from .vocabulary import EDGE_TYPES, QUERY_TYPES

__version__ = "0.1.0"

__all__ = [
    "AnimeSummary", "AppliedLimits", "AsyncGraphClient", "AsyncPostgresGraphExecutor", "CAPS",
    "ChangeNotVisibleError", "ClientSettings", "Comparison", "DeadlineExceededError", "EDGE_TYPES", "FieldComparison",
    "GraphClient", "GraphError", "GraphIntent", "GraphResult", "Hub", "IntentError",
    "InvalidArgumentError", "KHopNode", "KHopResult", "NO_RETRY", "Neighbor", "NeighborsResult",
    "NodeLabel", "PathResult", "PathStep", "PostgresGraphExecutor", "QUERY_TYPES",
    "ResourceExhaustedError", "RetryPolicy", "SharedEntity", "TlsOptions",
    "UnauthenticatedError", "UnavailableError",
]
