"""How a client reaches the service: TLS, retries, channel settings."""
import os
import random
from dataclasses import dataclass
from typing import Optional

import grpc

from .errors import GraphError


@dataclass(frozen=True)
class TlsOptions:
    """TLS as `serve --tls-cert/--tls-key` offers it; mTLS when the service runs with
    --tls-client-ca and a client certificate is given (it stands in for a bearer token)."""
    ca_file: Optional[str] = None  # PEM roots of the service's certificate; None: system roots
    cert_file: Optional[str] = None  # PEM client certificate (mTLS), with key_file
    key_file: Optional[str] = None
    server_name: Optional[str] = None  # name checked in the service certificate, if not the host

    def credentials(self):
        if (self.cert_file is None) != (self.key_file is None):
            raise GraphError("tls: cert_file and key_file go together")

        def read(setting, path):
            if path is None:
                return None
            try:
                with open(path, "rb") as f:
                    pem = f.read()
            except OSError as e:
                raise GraphError("tls: %s: cannot read %s: %s" % (setting, path, e.strerror)) from e
            if b"-----BEGIN" not in pem:
                raise GraphError("tls: %s: %s is not a PEM file" % (setting, path))
            return pem

        return grpc.ssl_channel_credentials(root_certificates=read("ca_file", self.ca_file),
                                            private_key=read("key_file", self.key_file),
                                            certificate_chain=read("cert_file", self.cert_file))


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a call that failed with a status where retrying is safe: the service or its
    database was unreachable (UNAVAILABLE) or at capacity (RESOURCE_EXHAUSTED). Graph calls are
    reads, so a retry cannot apply anything twice. Pauses grow exponentially with full jitter
    (a random pause up to the exponential bound, so many clients do not retry in step), and
    never past the call's deadline."""
    max_attempts: int = 4
    initial_backoff: float = 0.05  # seconds
    max_backoff: float = 1.0
    multiplier: float = 2.0

    RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})

    def backoff(self, attempt, rng=random):
        """The pause after failed attempt number `attempt` (1-based)."""
        bound = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return rng.uniform(0, bound)


NO_RETRY = RetryPolicy(max_attempts=1)

# The channel reconnects quickly after the service comes back (gRPC's default waits up to
# 120 s between attempts, longer than any call's deadline here).
DEFAULT_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client needs; `from_env` reads the variables the `graph` CLI reads."""
    address: str = "127.0.0.1:50051"
    token: Optional[str] = None  # bearer token (for a service with --read-auth)
    tls: Optional[TlsOptions] = None
    timeout: float = 5.0  # seconds: the default deadline of each call, retries included
    retry: RetryPolicy = RetryPolicy()
    channel_options: tuple = ()

    @staticmethod
    def from_env(environ=None):
        env = os.environ if environ is None else environ
        tls = None
        if env.get("PSVC_TLS_CA"):
            tls = TlsOptions(ca_file=env["PSVC_TLS_CA"],
                             cert_file=env.get("PSVC_TLS_CLIENT_CERT") or None,
                             key_file=env.get("PSVC_TLS_CLIENT_KEY") or None)
        return ClientSettings(address=env.get("PSVC_GRPC_ADDRESS", ClientSettings.address),
                              token=env.get("PSVC_TOKEN") or None, tls=tls)

    def metadata(self):
        return (("authorization", "Bearer " + self.token),) if self.token else None

    def all_channel_options(self):
        options = list(DEFAULT_CHANNEL_OPTIONS) + list(self.channel_options)
        if self.tls is not None and self.tls.server_name:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name))
        return options
