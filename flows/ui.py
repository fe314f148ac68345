"""What a claimwatch flow run shows in the Prefect UI: its name, tags and final state.

Names are at most :data:`MAX_NAME` characters, so the runs list shows them whole, and say what
ran, when (UTC), and how it ended::

    ingest demo Dec 03 08:18Z · 5 sources               (while it runs)
    ingest demo Dec 03 08:18Z · 4/5 ok · failed: masto  (at the end)
    compact Dec 03 02:30Z · nothing to merge
    factchecks Dec 03 07:00Z · 3 new claims
    refresh Dec 03 09:05Z · 12/14 re-read · failed: reddit

A run with a failed source ends in a state named ``Degraded`` of Prefect's Failed type: its data
was written, but the dashboard counts it among failed runs (a Completed-type state would leave
the dashboard saying "0 failed or crashed runs") and flow-run-failure automations fire. It
carries the tags ``degraded`` and ``failed:<source>`` for every failed source, so the runs list
can be filtered by them. Nothing here imports Prefect.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

MAX_NAME = 60
DEGRADED = "Degraded"


def when(at: datetime) -> str:
    return f"{at:%b %d %H:%M}Z"


def fit(head: str, parts: Iterable[str] = (), names: Iterable[str] = (), prefix: str = "failed: ") -> str:
    """``head · part · ... · failed: a, b +2`` cut to :data:`MAX_NAME` characters: whole parts
    first, then as many names as fit (the rest counted), a name cut with "…" only if none fits."""
    text = head[:MAX_NAME]
    for part in parts:
        if len(text) + 3 + len(part) > MAX_NAME:
            break
        text += f" · {part}"
    names = list(names)
    if not names:
        return text
    room = MAX_NAME - len(text) - 3 - len(prefix)
    for k in range(len(names), 0, -1):
        shown = ", ".join(names[:k]) + (f" +{len(names) - k}" if k < len(names) else "")
        if len(shown) <= room:
            return f"{text} · {prefix}{shown}"
    more = f" +{len(names) - 1}" if len(names) > 1 else ""
    if room - len(more) >= 4:
        return f"{text} · {prefix}{names[0][: room - len(more) - 1]}…{more}"
    return text


def ingest_label(config: Any, demo: bool) -> str:
    if config is None:
        return "ingest demo"
    stem = Path(str(config)).stem
    return "ingest" if stem in ("sources", "") else f"ingest {stem[:16]}"


def ingest_start_name(config: Any, demo: bool, at: datetime, n_sources: int | None) -> str:
    parts = [f"{n_sources} sources" if n_sources is not None else "sources file unreadable"]
    return fit(f"{ingest_label(config, demo)} {when(at)}", parts)


def ingest_end_name(config: Any, demo: bool, at: datetime, summary: dict[str, Any]) -> str:
    sources = summary.get("sources", [])
    failed = [s["source"] for s in sources if s["status"] == "error"]
    parts = [f"{len(sources) - len(failed)}/{len(sources)} ok"]
    if summary.get("error"):
        parts.append("matching failed")
    elif not failed:
        parts.append(f"{summary.get('posts_new', 0)} new posts")
    return fit(f"{ingest_label(config, demo)} {when(at)}", parts, failed)


def factchecks_name(at: datetime, n_feeds: int | None = None, result: dict[str, Any] | None = None) -> str:
    head = f"factchecks {when(at)}"
    if result is None:
        return fit(head, [f"{n_feeds} feeds" if n_feeds is not None else "sources file unreadable"])
    failed = sorted(result.get("errors") or {})
    return fit(head, [f"{result.get('imported', 0)} new claims"], failed)


def refresh_name(at: datetime, hours: Any = 48, result: dict[str, Any] | None = None) -> str:
    head = f"refresh {when(at)}"
    if result is None:
        return fit(head, [f"flagged posts of {float(hours):g} h"])
    failed = sorted(result.get("errors") or {})
    return fit(head, [f"{result.get('snapshots', 0)}/{result.get('due', 0)} re-read"], failed)


def compact_name(at: datetime, result: dict[str, Any] | None = None) -> str:
    head = f"compact {when(at)}"
    if result is None:
        return head
    merged = [p for parts in result.values() for p in parts]
    if not merged:
        return fit(head, ["nothing to merge"])
    files = sum(p["files"] for p in merged)
    return fit(head, [f"{files} files -> {len(merged)}"])


def failure_tags(summary: dict[str, Any]) -> list[str]:
    failed = [s["source"] for s in summary.get("sources", []) if s["status"] == "error"]
    tags = [f"failed:{name}" for name in failed]
    if failed and summary.get("status") == "partial":
        tags.insert(0, "degraded")
    if summary.get("error"):
        tags.append("matching-failed")
    return tags
