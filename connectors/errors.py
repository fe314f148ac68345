"""Exceptions raised by connectors.

::

    ConnectorError                 base; never escapes a run, it becomes a source_health row
    ├── FetchError                 the source could not be fetched (raised by connectors.http)
    │   ├── FetchTimeout           no answer (or no complete answer) within the time limits
    │   │   └── BudgetExceeded     the source's or the run's time budget is used up, or the
    │   │                          run is stopping (SIGTERM/SIGINT); nothing more is fetched
    │   ├── HTTPStatusError        a final 4xx/5xx after retries; .status_code, .body (the
    │   │                          start of the error body, secrets masked, or None)
    │   ├── TooLargeError          body or decompressed body over the configured cap
    │   └── BlockedURLError        a private, loopback, link-local or non-HTTP URL the config
    │       │                      does not allow
    │       └── RobotsDisallowed   a page the site's robots.txt does not let claimwatch fetch
    ├── ParseError                 a response (or saved file) is not what the parser expects:
    │                              invalid JSON/XML, JSON nested too deep, XML declaring entities
    └── ConfigError                a source's options are missing or wrong; names the source/option

``connectors.http`` translates every ``httpx`` exception into a ``FetchError``; parsers translate
``json``/``xml``/``feedparser`` failures into ``ParseError``. Nothing else leaves a connector.
Every message says what went wrong and what to do next; no message carries a secret: every
``ConnectorError`` passes its message through :func:`connectors.redact.redact` when it is created
(registered secret values, ``user:password@`` and secret-looking parameters such as ``key=``
become ``***``), whoever raises it.
"""

from connectors.redact import redact


class ConnectorError(Exception):
    """Base of every connector failure. Flows record it in source_health and go on. Its message
    is redacted when the exception is created."""

    def __init__(self, *args: object):
        if args and isinstance(args[0], str):
            args = (redact(args[0]), *args[1:])
        super().__init__(*args)


class FetchError(ConnectorError):
    """Raised by connectors.http when a URL cannot be fetched after retries."""


class FetchTimeout(FetchError):
    """Raised by connectors.http when connect/read timed out on every attempt, or the whole
    response took longer than the total time limit. The source is retried next run."""


class BudgetExceeded(FetchTimeout):
    """Raised by connectors.http when the :class:`connectors.deadlines.Budget` the client runs
    under is used up or cancelled: the request in flight is cut off and no new request starts.
    Never retried; the flow records the source as timed out and goes on with the others."""


class HTTPStatusError(FetchError):
    """Raised by connectors.http for a final error status; the source is skipped this run."""

    def __init__(self, message: str, status_code: int, body: str | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class TooLargeError(FetchError):
    """Raised by connectors.http when a response passes the byte or decompression cap; raise
    ``max_bytes`` in the settings if the source is known to be that large."""


class BlockedURLError(FetchError):
    """Raised by connectors.http for URLs to private/loopback/link-local/non-HTTP addresses when
    ``allow_private`` is off; the link is skipped, the rest of the batch goes on."""


class RobotsDisallowed(BlockedURLError):
    """Raised by ``HttpClient.check_robots`` for a page its site's robots.txt disallows
    (``temporary`` is True when robots.txt could not be read this run); the page is skipped."""

    def __init__(self, message: str, temporary: bool = False):
        super().__init__(message)
        self.temporary = temporary


class ParseError(ConnectorError):
    """Raised by a parser (and by connectors.safe) for content it cannot read; the message names
    the problem."""


class ConfigError(ConnectorError):
    """Raised when a source's configuration is wrong; the message names the source and option."""
