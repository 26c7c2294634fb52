"""Exceptions of the client: the server's status, its message and the field it names."""
import re

import grpc

# Server messages about a request field start with the field, e.g.
# "node_id: not a UUID: 'abc' (expected 8-4-4-4-12 hex digits)" or "edge_types[0]: ...".
_FIELD = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?: ")


class GraphError(Exception):
    """A failed graph call. `code` is the gRPC status (None for a request refused before any
    call), `message` the server's words, `field` the request field it names (or None),
    `attempts` how many calls were made."""

    def __init__(self, message, code=None, field=None, attempts=1, index=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.index = index
        self.attempts = attempts

    def __str__(self):
        prefix = self.code.name + ": " if self.code is not None else ""
        return prefix + self.message


class InvalidArgumentError(GraphError, ValueError):
    """The server refused the request (INVALID_ARGUMENT); never retried."""


class IntentError(InvalidArgumentError):
    """An intent refused before any call: `field` is the intent key to change."""

    def __init__(self, field, message, index=None):
        super().__init__(message, code=None, field=field, attempts=0, index=index)


class DeadlineExceededError(GraphError, TimeoutError):
    """The call's deadline (or the server's 2 s statement timeout) expired."""


class UnavailableError(GraphError, ConnectionError):
    """The service or its database could not be reached, after every retry."""


class ChangeNotVisibleError(UnavailableError):
    """A call with min_change_token: the server's memory graph had not caught up with that write
    within the deadline (`field` is "min_change_token"). Retry, or ask a server that runs
    --graph-engine sql."""


class ResourceExhaustedError(GraphError):
    """The service stayed at capacity through every retry."""


class UnauthenticatedError(GraphError, PermissionError):
    """The service wants a bearer token (or a client certificate) it did not get."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def from_rpc_error(error, attempts, address):
    """The exception for a failed call (grpc.RpcError / grpc.aio.AioRpcError)."""
    code = error.code()
    message = error.details() or code.name.lower()
    if code == grpc.StatusCode.UNAVAILABLE:
        message = "graph service at %s unavailable: %s" % (address, message)
    field = index = None
    m = _FIELD.match(message)
    if m and code == grpc.StatusCode.INVALID_ARGUMENT:
        field, index = m.group(1), int(m.group(2)) if m.group(2) else None
    kind = _BY_CODE.get(code, GraphError)
    if code == grpc.StatusCode.UNAVAILABLE and (error.details() or "").startswith(
            "min_change_token: "):
        kind, field = ChangeNotVisibleError, "min_change_token"
    if attempts > 1:
        message = "%s (after %d attempts)" % (message, attempts)
    return kind(message, code=code, field=field, attempts=attempts, index=index)
