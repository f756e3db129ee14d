"""HTTP security options: authentication mode, TLS, rate limit, body size, timeouts.

Each option is a command-line flag with an ``MCP_*`` environment variable behind it (the
flag wins). ``resolve`` checks them together and raises ``ConfigurationError`` (exit 2)
for an unsafe or incomplete combination, before anything is opened:

* ``--auth auto`` (default): bearer tokens when bound to a non-loopback address, none on
  loopback (a local agent on the same machine); ``token`` always; ``none`` never;
* a non-loopback bind without authentication is refused unless ``--insecure-no-auth``
  (e.g. behind a reverse proxy that authenticates);
* ``--tls-cert`` and ``--tls-key`` come together and must be readable files.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory_core import ConfigurationError

DEFAULT_RATE = 50.0
DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0
DEFAULT_TOKEN_CACHE = 5.0


@dataclass(frozen=True)
class HttpSecurity:
    auth: bool
    tls_cert: str | None = None
    tls_key: str | None = None
    rate_limit: float = DEFAULT_RATE
    rate_burst: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    request_timeout: float = DEFAULT_TIMEOUT
    token_cache_seconds: float = DEFAULT_TOKEN_CACHE

    @property
    def tls(self) -> tuple[str, str] | None:
        """(certificate chain, private key) for uvicorn, or None for plain HTTP."""
        return (self.tls_cert, self.tls_key) if self.tls_cert and self.tls_key else None


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("HTTP security (see the README: authentication, TLS, proxies)")
    g.add_argument(
        "--auth",
        choices=["auto", "token", "none"],
        help="bearer tokens (`memory token create`): auto (default: on unless bound to "
        "loopback), token, none; env MCP_AUTH",
    )
    g.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow --auth none on a non-loopback address (e.g. behind an authenticating proxy)",
    )
    g.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    g.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    g.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        help=f"requests per second per token, 0 = off (default {DEFAULT_RATE:g}; "
        "env MCP_RATE_LIMIT)",
    )
    g.add_argument(
        "--rate-burst",
        type=int,
        metavar="N",
        help="requests a token may send at once (default 2x the rate; env MCP_RATE_BURST)",
    )
    g.add_argument(
        "--max-body-bytes",
        type=int,
        metavar="N",
        help=f"largest request body, else 413 (default {DEFAULT_MAX_BODY}; env MCP_MAX_BODY_BYTES)",
    )
    g.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help=f"time to receive a request body and to run a tool call (default "
        f"{DEFAULT_TIMEOUT:g}; env MCP_REQUEST_TIMEOUT)",
    )
    g.add_argument(
        "--token-cache-seconds",
        type=float,
        metavar="SECONDS",
        help=f"how long a token check is reused; bounds how late a revocation applies "
        f"(default {DEFAULT_TOKEN_CACHE:g}; env MCP_TOKEN_CACHE_SECONDS)",
    )


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _error(message: str, key: str) -> ConfigurationError:
    from memory_core import ConfigurationError  # not at import: --help stays fast

    return ConfigurationError(message, key=key)


def _float(flag: float | None, env: str, default: float) -> float:
    if flag is not None:
        return flag
    raw = _env(env)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise _error(f"{env} must be a number, got {raw!r}", key=env) from None


def _int(flag: int | None, env: str) -> int | None:
    if flag is not None:
        return flag
    raw = _env(env)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _error(f"{env} must be an integer, got {raw!r}", key=env) from None


def resolve(args: argparse.Namespace, host: str) -> HttpSecurity:
    """The effective options for serving HTTP on ``host``; raises ``ConfigurationError``."""
    mode = args.auth or _env("MCP_AUTH") or "auto"
    if mode not in ("auto", "token", "none"):
        raise _error(f"MCP_AUTH must be auto, token or none, got {mode!r}", key="MCP_AUTH")
    loopback = is_loopback(host)
    auth = mode == "token" or (mode == "auto" and not loopback)
    insecure = args.insecure_no_auth or _env("MCP_INSECURE_NO_AUTH") in ("1", "true", "yes")
    if not auth and not loopback and not insecure:
        raise _error(
            f"refusing to serve {host} without authentication: use --auth token (or auto) "
            "and create tokens with `memory token create`, or pass --insecure-no-auth if "
            "a reverse proxy authenticates every request",
            key="--auth",
        )
    cert = args.tls_cert or _env("MCP_TLS_CERT")
    key = args.tls_key or _env("MCP_TLS_KEY")
    if bool(cert) != bool(key):
        raise _error(
            "TLS needs both --tls-cert and --tls-key (MCP_TLS_CERT, MCP_TLS_KEY)",
            key="--tls-key" if cert else "--tls-cert",
        )
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path and not Path(path).is_file():
            raise _error(f"{flag}: no such file: {path}", key=flag)
    rate = _float(args.rate_limit, "MCP_RATE_LIMIT", DEFAULT_RATE)
    burst = _int(args.rate_burst, "MCP_RATE_BURST")
    max_body = _int(args.max_body_bytes, "MCP_MAX_BODY_BYTES") or DEFAULT_MAX_BODY
    timeout = _float(args.request_timeout, "MCP_REQUEST_TIMEOUT", DEFAULT_TIMEOUT)
    cache = _float(args.token_cache_seconds, "MCP_TOKEN_CACHE_SECONDS", DEFAULT_TOKEN_CACHE)
    if rate < 0:
        raise _error("--rate-limit must be >= 0 (0 turns it off)", key="--rate-limit")
    if burst is not None and burst < 1:
        raise _error("--rate-burst must be >= 1", key="--rate-burst")
    if max_body < 1024:
        raise _error("--max-body-bytes must be at least 1024", key="--max-body-bytes")
    if timeout <= 0:
        raise _error("--request-timeout must be > 0", key="--request-timeout")
    if cache < 0:
        raise _error("--token-cache-seconds must be >= 0", key="--token-cache-seconds")
    return HttpSecurity(
        auth=auth,
        tls_cert=cert,
        tls_key=key,
        rate_limit=rate,
        rate_burst=burst,
        max_body_bytes=max_body,
        request_timeout=timeout,
        token_cache_seconds=cache,
    )
