"""data-sharing-tool: the command line client of the datasharing service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("data-sharing-tool")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
