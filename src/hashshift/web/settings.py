"""The web service's limits and defaults: :class:`Settings`, read by :func:`~.app.create_app`
and, for its option defaults, by ``hashshift serve``. Imports no web framework.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["LOOPBACK_HOSTS", "TOKEN_ENV", "Settings", "allowed_hosts_for", "is_loopback"]

#: Host names of this machine: the names a service bound to a loopback address answers.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: The environment variable holding the access token (``hashshift serve --token-env`` names
#: another).
TOKEN_ENV = "HASHSHIFT_TOKEN"


@dataclass(frozen=True)
class Settings:
    """Limits and defaults of the web service (``hashshift serve`` options).

    ``max_work`` bounds one request's path-days (paths × horizon_days, summed over the
    scenario and its baseline): the default, 2 000 × 365, is a shipped example (1 000 paths,
    365 days) with its baseline. ``max_runs_per_client`` bounds one client address's requests
    computing or queued; ``max_queue`` the requests waiting for a slot when all
    ``max_concurrent_runs`` are busy (beyond: 429). ``token``, when set, is needed (``Authorization:
    Bearer``) by every request that runs work or writes. ``response_cache_mb`` bounds the memory
    of cached read responses (0: none). ``warm_up`` computes the nowcast at start-up.
    """

    max_paths: int = 2_000
    max_horizon_days: int = 730
    max_concurrent_runs: int = 2
    cache_size: int = 16
    max_body_bytes: int = 256 * 1024
    allowed_hosts: tuple[str, ...] = field(default=LOOPBACK_HOSTS)
    max_work: int = 2_000 * 365
    max_runs_per_client: int = 1
    max_queue: int = 4
    token: str | None = field(default=None, repr=False)
    response_cache_mb: int = 64
    #: Compute the map's nowcast in the background at start-up (``hashshift serve``), so that
    #: the first visit of the map page need not wait for it.
    warm_up: bool = False

    def __post_init__(self) -> None:
        from ..sim.scenario import LIMITS

        for name, value, top in (("max_paths", self.max_paths, LIMITS["paths"]),
                                 ("max_horizon_days", self.max_horizon_days,
                                  LIMITS["horizon_days"])):
            if not 1 <= value <= top:
                raise ValueError(f"{name} must be 1 to {top:,} (the engine's limit), "
                                 f"got {value:,}")
        if self.max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be >= 1")
        if self.cache_size < 1:
            raise ValueError("cache_size must be >= 1")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be >= 1024")
        if self.max_work < 1:
            raise ValueError("max_work must be >= 1 path-day")
        if self.max_runs_per_client < 1:
            raise ValueError("max_runs_per_client must be >= 1")
        if self.max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        if self.response_cache_mb < 0:
            raise ValueError("response_cache_mb must be >= 0")
        if self.token is not None:
            from .security import check_token

            check_token(self.token)

    @property
    def auth(self) -> bool:
        """Whether requests that run work need the token."""
        return self.token is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str) -> tuple[str, ...]:
    """The Host names a service bound to ``host`` answers: this machine's names (and ``host``)
    on a loopback address, any name (``*``) otherwise."""
    if not is_loopback(host):
        return ("*",)
    return LOOPBACK_HOSTS + ((host,) if host not in LOOPBACK_HOSTS else ())
