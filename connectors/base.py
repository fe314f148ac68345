"""The connector contract.

A connector is one module in ``connectors/`` registered in :data:`connectors.registry.KINDS`.
It provides:

* ``parse(data: bytes, *, url: str | None = None, source: str = "") -> list[dict]`` (a pure
  function, no network) that turns one saved response into ``posts`` rows built with
  :func:`connectors.schema.make_post`. ``claimwatch parse KIND FILE`` calls it. It raises
  :class:`connectors.errors.ParseError` for content it cannot read; one bad item inside a good
  response is skipped and counted, never fatal.
* ``class Source(BaseSource)``: built from a source's configuration (``name``, ``kind`` and its
  options) and the shared :class:`connectors.http.HttpClient`; ``fetch(cursor)`` returns a
  :class:`FetchResult`. The cursor is a plain JSON-able dict the connector defines (since id,
  ETag, page token...); the flow stores ``result.cursor`` only after ``result.posts`` are written,
  so a failed run re-fetches what it missed.
* ``Source.refetch(post_ids)`` (optional, with ``REFETCH = True``): the given posts read again by
  id, so the flows can record how their counts grow (``post_metrics``).
* ``Source.OPTIONS``: every option the source reads (besides ``name``, ``kind`` and ``enabled``)
  mapped to the type or tuple of types it accepts (TOML types: ``str``, ``int``, ``bool``,
  ``(int, float)`` for a number). The sources file is checked against it before anything runs:
  an unknown option is refused with the list of known ones, a wrong type is named.
* ``Source.required_env()``: the environment variables (tokens, API keys) the source cannot
  fetch without; a run checks them before fetching anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class FetchResult:
    # rows as dicts; a connector may give a large result as one polars frame with the posts
    # columns instead (connectors.rss does past 5,000 rows), to hold less memory
    posts: Any
    cursor: dict[str, Any]
    skipped: int = 0  # items in good responses that could not be parsed
    warnings: list[str] = field(default_factory=list)
    requests: int = 0


class BaseSource:
    kind: ClassVar[str] = ""
    OPTIONS: ClassVar[dict[str, type | tuple[type, ...]]]

    def __init__(self, name: str, options: dict[str, Any], client: Any):
        self.name = name
        self.options = dict(options)
        self.client = client

    def required_env(self) -> dict[str, str]:
        """Environment variables this source cannot fetch without, mapped to what each holds
        (``{"YT_KEY": "the YouTube Data API key (api_key_env)"}``). ``claimwatch run`` checks
        them before anything is fetched. Optional credentials (a token that only raises a rate
        limit) are not listed: their absence is a warning at fetch time."""
        return {}

    def fetch(self, cursor: dict[str, Any] | None) -> FetchResult:  # pragma: no cover
        raise NotImplementedError

    #: True when :meth:`refetch` can read single posts again by id (the reach-over-time snapshots)
    REFETCH: ClassVar[bool] = False

    def refetch(self, post_ids: list[str]) -> FetchResult:
        """The posts ``post_ids`` (this source's own ``post_id`` values) read again, with today's
        counts, through the platform's by-id endpoint. Posts gone from the platform are simply
        missing from the result. The cursor is not used or changed. Sources without such an
        endpoint return no posts and a warning saying so."""
        return FetchResult(posts=[], cursor={}, warnings=[
            f"{self.name}: {self.kind or 'this'} sources cannot re-read single posts; their reach is "
            "recorded only when a run fetches them"])
