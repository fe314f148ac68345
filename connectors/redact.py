"""Secrets out of every message: :func:`redact` masks them as ``***``.

What is masked, in any text (exception messages, warnings, log lines, recorded errors):

* every value registered with :func:`register` (tokens, API keys and passwords read from the
  environment or obtained at run time; :meth:`connectors.http.HttpClient.add_secret` registers
  too), wherever it appears;
* ``user:password@`` in URLs;
* the values of secret-looking parameters and fields: ``key=``, ``token=``, ``access_token=``,
  ``api_key=``, ``client_secret=``, ``password=``, ``sig=``... anywhere (query strings, forms),
  ``"key": "..."`` in JSON, and ``auth=``/``session=``/``code=`` in query strings.

:class:`connectors.errors.ConnectorError` redacts its message when it is created, so a parser
that names the URL it read (a YouTube API URL carries ``key=``) cannot leak it; the flows redact
again wherever an error or warning is recorded (``source_health``, logs, Prefect states).
"""

from __future__ import annotations

import logging
import re
import threading

MIN_LENGTH = 4  # shorter values would mask ordinary words; the client still masks them in its own messages

_NAMES = (r"(?:access_token|refresh_token|id_token|api_key|apikey|client_secret|token|key|password|"
          r"secret|sig|signature|accessJwt|refreshJwt)")
# name=value anywhere (query strings, forms, log lines); "name": "value" only quoted (JSON), so
# prose such as "/etc/passwd: only http" is left alone
_SECRET_FIELD = re.compile(
    r"(?i)(?:\b(" + _NAMES + r"\s*=\s*[\"']?)|([\"']" + _NAMES + r"[\"']\s*:\s*[\"']?))"
    r"([^&\s\"'<>,;)}\]]+)")
_QUERY_ONLY = re.compile(r"(?i)([?&](?:auth|session|code)=)([^&\s#\"'<>]+)")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")

_lock = threading.Lock()
_values: set[str] = set()


def register(value: str | None) -> None:
    """Mask ``value`` in every later :func:`redact` in this process."""
    if isinstance(value, str) and len(value) >= MIN_LENGTH:
        with _lock:
            _values.add(value)


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_values)


def redact(text: str, extra: "list[str] | tuple[str, ...] | None" = None) -> str:
    """``text`` with every secret (see the module docstring) replaced by ``***``."""
    if not isinstance(text, str) or not text:
        return text
    values = registered()
    if extra:
        values = values | {v for v in extra if isinstance(v, str) and len(v) >= MIN_LENGTH}
    for v in sorted(values, key=len, reverse=True):
        if v in text:
            text = text.replace(v, "***")
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _SECRET_FIELD.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)
    return _QUERY_ONLY.sub(lambda m: m.group(1) + "***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (installed on the ``httpx`` and
    ``httpcore`` loggers, which log request URLs at INFO/DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def install_log_filters(names: tuple[str, ...] = ("httpx", "httpcore")) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
