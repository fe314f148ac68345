"""Exceptions raised by connectors.

::

    ConnectorError                 base; never escapes a run, it becomes a source_health row
    ├── FetchError                 the source could not be fetched (raised by connectors.http)
    │   ├── HTTPStatusError        a final 4xx/5xx after retries; .status_code
    │   ├── TooLargeError          body or decompressed body over the configured cap
    │   └── BlockedURLError        a private, loopback or non-HTTP URL the config does not allow
    ├── ParseError                 a response (or saved file) is not what the parser expects
    └── ConfigError                a source's options are missing or wrong; names the source/option

Every message says what went wrong and what to do next; no message carries a secret.
"""


class ConnectorError(Exception):
    """Base of every connector failure. Flows record it in source_health and go on."""


class FetchError(ConnectorError):
    """Raised by connectors.http when a URL cannot be fetched after retries."""


class HTTPStatusError(FetchError):
    """Raised by connectors.http for a final error status; the source is skipped this run."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class TooLargeError(FetchError):
    """Raised by connectors.http when a response passes the byte or decompression cap."""


class BlockedURLError(FetchError):
    """Raised by connectors.http for URLs to private/loopback/non-HTTP addresses when not allowed."""


class ParseError(ConnectorError):
    """Raised by a parser for content it cannot read; the message names the problem."""


class ConfigError(ConnectorError):
    """Raised when a source's configuration is wrong; the message names the source and option."""
