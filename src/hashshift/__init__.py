"""hashshift: where Bitcoin's hashrate lives, what it draws and earns, and what bans do to it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hashshift")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
