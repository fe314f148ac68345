"""Loading and validating a sources file (TOML; format in ``deploy/sources.example.toml``).

Every problem raises :class:`connectors.errors.ConfigError` with a one-line message that names
the file, the source and the option, and says what to change. Nothing is fetched or written
before the whole file is valid.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from connectors.errors import ConfigError, ConnectorError
from connectors.http import HttpSettings
from connectors.registry import KINDS
from rules.validation import (Hint, Problem, ValidationError, first_problem, model_from_dataclass, model_from_types,
                              nearest, plain_type)

CLAIMS_DIR = Path(__file__).resolve().parent.parent / "rules" / "claims"  # the shipped catalogue; see flows.home
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SOURCES = DEMO_DIR / "sources.toml"
DEMO_MANIFEST = DEMO_DIR / "responses" / "manifest.toml"

TABLES = ("settings", "matching", "runner", "alerts", "media", "sources")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SETTING_ALIASES = {"allow_private_links": "allow_private"}
_MAY_BE_ZERO = {"retries", "backoff", "backoff_max", "retry_after_max", "min_interval"}
_HTTP_FIELDS = {f.name: f for f in dataclasses.fields(HttpSettings)}
# options that were removed, and what replaces them
RETIRED_RUNNER_KEYS = {
    "fetch_retries": "the HTTP client is the one layer that retries a request (see [settings] "
                     "retries, backoff, retry_after_max); remove it",
    "fetch_retry_delay": "the HTTP client is the one layer that retries a request (see [settings] "
                         "backoff, backoff_max); remove it",
}
_POSITIVE_S = Annotated[float, Field(gt=0), Hint("must be a positive number of seconds")]
_AT_LEAST_1 = Annotated[int, Field(ge=1)]
# [runner] and [alerts]: key -> type (a Python type, or an Annotated type with its bounds)
RUNNER_KEYS = {
    "kind": Literal["thread", "dask"], "address": str, "n_workers": _AT_LEAST_1,
    "threads_per_worker": _AT_LEAST_1, "max_workers": _AT_LEAST_1, "batch_size": _AT_LEAST_1,
    "run_budget": _POSITIVE_S, "source_budget": _POSITIVE_S, "write_batch_rows": _AT_LEAST_1,
    "match_rows": _AT_LEAST_1,
    "catch_up_days": Annotated[float, Field(gt=0)],
    "catch_up_max_posts": Annotated[int, Field(ge=0), Hint("must not be negative (0 turns catching up off)")],
    "compact_files": Annotated[int, Field(ge=0), Hint("must not be negative (0 turns automatic compaction off)")],
    "index_cache": str,
}
ALERT_KEYS = {
    "spreading_threshold": _AT_LEAST_1,
    # a duration such as "90m", "1h", "2d" (parse_window)
    "window": Annotated[str, AfterValidator(lambda text: parse_window(text) and text),
                        Field(json_schema_extra={"pattern": r"^\s*0*[1-9]\d*\s*[smhd]\s*$"})],
}
COMMON_SOURCE_KEYS = ("name", "kind", "enabled", "budget")
DEFAULT_RUN_BUDGET = 840.0  # seconds: a run on the 15-minute schedule ends before the next one starts
DEFAULT_SOURCE_BUDGET = 300.0  # seconds one source may take (all its requests and parsing)
DEFAULT_WINDOW = "1h"
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> int:
    """``"90m"``, ``"1h"``, ``"2d"`` -> seconds; ValueError otherwise."""
    m = _WINDOW.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"{text!r} is not a duration; write a positive number and a unit s, m, h or d, e.g. \"1h\"")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


@dataclass
class SourceConfig:
    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    budget: float | None = None  # seconds; None: [runner] source_budget


@dataclass
class PipelineConfig:
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)
    matching: dict[str, Any] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    sources: list[SourceConfig] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.enabled]

    @property
    def batch_size(self) -> int:
        return int(self.runner.get("batch_size", 250))

    @property
    def spreading_threshold(self) -> int:
        return int(self.alerts.get("spreading_threshold", 3))

    @property
    def alert_window(self) -> str:
        return str(self.alerts.get("window", DEFAULT_WINDOW))

    @property
    def alert_window_s(self) -> int:
        return parse_window(self.alert_window)

    @property
    def write_batch_rows(self) -> int:
        """Posts gathered before they are written as one part file ([runner] write_batch_rows)."""
        return int(self.runner.get("write_batch_rows", 50_000))

    @property
    def match_rows(self) -> int:
        """Posts read back from the store and matched per round, their matches written after each
        round ([runner] match_rows)."""
        return int(self.runner.get("match_rows", 10_000))

    @property
    def run_budget(self) -> float:
        """Seconds the whole run may take ([runner] run_budget)."""
        return float(self.runner.get("run_budget", DEFAULT_RUN_BUDGET))

    def source_budget(self, src: SourceConfig) -> float:
        """Seconds ``src`` may take: its own ``budget``, else [runner] source_budget."""
        return float(src.budget if src.budget is not None else self.runner.get("source_budget", DEFAULT_SOURCE_BUDGET))

    @property
    def catch_up_days(self) -> float:
        return float(self.runner.get("catch_up_days", 3))

    @property
    def catch_up_max_posts(self) -> int:
        return int(self.runner.get("catch_up_max_posts", 2000))

    @property
    def compact_files(self) -> int:
        """After a write, a partition with more part files than this is compacted (0: never)."""
        return int(self.runner.get("compact_files", 16))

    def http_settings(self, secrets: list[str] | None = None) -> HttpSettings:
        kw = {_SETTING_ALIASES.get(k, k): v for k, v in self.settings.items()}
        if secrets:
            kw["secrets"] = list(secrets)
        return HttpSettings(**kw)


def _fail(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a sources file. Raises ConfigError (one line) on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: sources file not found; pass an existing file to --sources") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read sources file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the sources file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return config_from_mapping(data, path)


def config_from_mapping(data: dict[str, Any], path: str | Path = "<config>") -> PipelineConfig:
    path = Path(path)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        hint = nearest(unknown[0], TABLES)
        hint = f" (did you mean [{hint}]?)" if hint else ""
        raise _fail(path, "", f"unknown table {unknown[0]!r}{hint}; use only: {', '.join(TABLES)}")
    for t in ("settings", "matching", "runner", "alerts", "media"):
        if not isinstance(data.get(t, {}), dict):
            raise _fail(path, "", f"[{t}] must be a table")

    settings = dict(data.get("settings", {}))
    model = settings_model()
    _validate(path, "[settings]", model, settings,
              "use one of: " + ", ".join(sorted(k for k in model.model_fields if k != "allow_private")))

    runner = dict(data.get("runner", {}))
    for key in runner:
        if key in RETIRED_RUNNER_KEYS:
            raise _fail(path, "[runner]", f"option {key!r} is no longer used: {RETIRED_RUNNER_KEYS[key]}")
    _validate(path, "[runner]", runner_model(), runner, "use one of: " + ", ".join(RUNNER_KEYS))

    alerts = dict(data.get("alerts", {}))
    _validate(path, "[alerts]", alerts_model(), alerts, "use one of: " + ", ".join(ALERT_KEYS))

    matching = dict(data.get("matching", {}))
    _check_matching(path, matching)
    media = dict(data.get("media", {}))
    from connectors.media import MediaSettings

    try:
        MediaSettings.from_mapping(media)
    except ConfigError as exc:
        raise _fail(path, "", str(exc)) from None

    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not all(isinstance(s, dict) for s in raw_sources):
        raise _fail(path, "", "sources must be written as [[sources]] tables")
    if not raw_sources:
        raise _fail(path, "", "no [[sources]] configured; add at least one")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw_sources, 1):
        name = entry.get("name")
        where = f"source #{i}" if not isinstance(name, str) else f"source {name!r}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(path, where, "option 'name' is missing or invalid; use letters, digits, '.', '_' or '-'")
        if name in seen:
            raise _fail(path, where, "option 'name' is used twice; give every source its own name")
        seen.add(name)
        kind = entry.get("kind")
        if kind not in KINDS:
            hint = nearest(kind, KINDS)
            hint = f" (did you mean {hint!r}?)" if hint else ""
            raise _fail(path, where, f"option 'kind' is {kind!r}{hint}; use one of: {', '.join(sorted(KINDS))}")
        model = source_model(kind)
        try:
            model.model_validate(entry)
        except ValidationError as exc:
            problem = first_problem(exc, model)
            if problem.key in COMMON_SOURCE_KEYS and not problem.unknown:
                raise _fail(path, where, _say(problem)) from None
            known = ", ".join(sorted(model.model_fields))
            raise _fail(path, f"{where} ({kind})", _say(problem, f"known options: {known}")) from None
        options = {k: v for k, v in entry.items() if k not in COMMON_SOURCE_KEYS}
        budget = entry.get("budget")
        sources.append(SourceConfig(name, kind, options, entry.get("enabled", True),
                                    None if budget is None else float(budget)))
    if not any(s.enabled for s in sources):
        raise _fail(path, "", "every source has enabled = false; enable at least one")

    return PipelineConfig(path, settings, matching, runner, alerts, sources, media)


def _say(problem: Problem, known: str = "") -> str:
    """A :class:`rules.validation.Problem` in the words of this file's messages."""
    key = ".".join(str(p) for p in problem.loc if isinstance(p, str)) or problem.key
    if problem.unknown:
        return f"unknown option {key!r}{problem.did_you_mean}" + (f"; {known}" if known else "")
    if problem.missing:
        return f"option {key!r} is missing; add it"
    if problem.kind in ("value_error", "assertion_error"):
        return f"option {key!r}: {problem.text}"
    return f"option {key!r} {problem.text}{problem.did_you_mean}"


def _validate(path: Path, where: str, model: Any, table: dict[str, Any], known: str) -> None:
    try:
        model.model_validate(table)
    except ValidationError as exc:
        raise _fail(path, where, _say(first_problem(exc, model), known)) from None


# ---------------------------------------------------------------- the models (and JSON Schema)
# Built from the definitions the program reads: HttpSettings' fields, RUNNER_KEYS, ALERT_KEYS,
# MatchConfig's fields and each connector's Source.OPTIONS. A key added there is validated, and
# published in `claimwatch schema sources`, with no other change.


@cache
def settings_model() -> Any:
    """The ``[settings]`` table: :class:`connectors.http.HttpSettings`' fields (a number must be
    positive, or not negative for the retry and interval settings) and their aliases."""
    hints = typing.get_type_hints(HttpSettings)
    bounded = {}
    for f in dataclasses.fields(HttpSettings):
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool) or f.name == "max_decompressed_bytes":
            base = plain_type(hints[f.name], nullable=False)
            bounded[f.name] = Annotated[base, Field(ge=0) if f.name in _MAY_BE_ZERO else Field(gt=0)]
    aliases = {alias: plain_type(hints[name], nullable=False) for alias, name in _SETTING_ALIASES.items()}
    docs = {alias: f"the same as {name}" for alias, name in _SETTING_ALIASES.items()}
    docs["max_decompressed_bytes"] = "cap on a response body after decompression (default: max_bytes)"
    return model_from_dataclass(HttpSettings, name="settings", exclude=("secrets",), types_=bounded,
                                extra=aliases, nullable=False, docs=docs,
                                doc="The HTTP client every source shares: identity, time limits, size caps, retries.")


@cache
def runner_model() -> Any:
    """The ``[runner]`` table (:data:`RUNNER_KEYS`)."""
    return model_from_types("runner", RUNNER_KEYS, doc="How runs execute: task runner, batches, budgets, catch-up.")


@cache
def alerts_model() -> Any:
    """The ``[alerts]`` table (:data:`ALERT_KEYS`)."""
    return model_from_types("alerts", ALERT_KEYS, doc="When a claim counts as spreading.")


@cache
def media_model() -> Any:
    """The ``[media]`` table (:class:`connectors.media.MediaSettings`' fields), for the JSON
    Schema; the table is validated by ``MediaSettings.from_mapping``."""
    from connectors.media import MediaSettings

    return model_from_dataclass(MediaSettings, name="media", nullable=False)


def _common_source_types(kind: str) -> dict[str, Any]:
    return {
        "name": Annotated[str, Field(pattern=_NAME.pattern)],
        "kind": Literal[kind],  # type: ignore[valid-type]
        "enabled": bool,
        "budget": Annotated[float, Field(gt=0), Hint("must be a positive number of seconds")],
    }


def source_model(kind: str) -> Any:
    """One ``[[sources]]`` entry of ``kind``: the common keys and the connector's
    ``Source.OPTIONS``. A connector that declares no OPTIONS (or cannot be imported, which
    :func:`build_source` reports) is not checked beyond the common keys."""
    module = _module_or_none(kind)
    declared = getattr(getattr(module, "Source", None), "OPTIONS", None)
    doc = _first_line(getattr(module, "__doc__", None) or "")
    return _source_model(kind, tuple(declared.items()) if isinstance(declared, dict) else None, doc)


@cache
def _source_model(kind: str, declared: tuple[tuple[str, Any], ...] | None, doc: str | None) -> Any:
    if declared is None:
        return model_from_types(f"source_{kind}", _common_source_types(kind), required=("name", "kind"),
                                doc=doc, forbid_extra=False)
    return model_from_types(f"source_{kind}", {**_common_source_types(kind), **dict(declared)},
                            required=("name", "kind"), doc=doc)


def _module_or_none(kind: str) -> Any:
    from connectors.registry import module_for

    try:
        return module_for(kind)
    except Exception:
        return None


def _first_line(text: str) -> str | None:
    return " ".join(text.split("\n\n", 1)[0].split()) or None


def _check_matching(path: Path, matching: dict[str, Any]) -> None:
    from rules.match import MatchConfig

    try:
        MatchConfig.from_mapping(matching)
    except (ValueError, TypeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if msg.startswith("[matching]"):
            msg = msg[len("[matching]"):].strip()
        raise _fail(path, "[matching]", msg) from None


def build_source(cfg: PipelineConfig, src: SourceConfig, client: Any) -> Any:
    """The connector's ``Source`` for ``src``; connector option errors are prefixed with the file."""
    from connectors.registry import module_for

    try:
        module = module_for(src.kind)
    except ModuleNotFoundError as exc:
        raise _fail(cfg.path, f"source {src.name!r}",
                    f"the {src.kind!r} connector cannot be loaded ({exc}); check the installation") from None
    except ImportError as exc:
        raise _fail(cfg.path, f"source {src.name!r}", f"the {src.kind!r} connector failed to load ({exc})") from None
    try:
        return module.Source(src.name, src.options, client)
    except ConfigError as exc:
        msg = str(exc)
        if str(cfg.path) in msg:
            raise
        if msg.startswith(f"source {src.name!r}") or msg.startswith(f"{src.name}:"):
            raise ConfigError(f"{cfg.path}: {msg}") from None
        raise _fail(cfg.path, f"source {src.name!r}", msg) from None
    except (TypeError, ValueError, ConnectorError) as exc:
        raise _fail(cfg.path, f"source {src.name!r}", f"invalid options ({exc})") from None


def env_names(src: SourceConfig) -> list[str]:
    """The environment variables a source's ``*_env`` options name (tokens, keys, passwords)."""
    return [v for k, v in src.options.items() if k.endswith("_env") and isinstance(v, str) and v]


def register_env_secrets(cfg: PipelineConfig) -> None:
    """Mask the values of every variable the sources' ``*_env`` options name, in every message
    of this process (:func:`connectors.redact.redact`), before anything is fetched."""
    import os

    from connectors import redact

    for src in cfg.sources:
        for name in env_names(src):
            redact.register(os.environ.get(name))


def missing_env(cfg: PipelineConfig, src: SourceConfig, source: Any) -> str | None:
    """One line naming the first environment variable ``source`` needs that is not set (or
    empty), and the source; None when all are there."""
    import os

    required = getattr(source, "required_env", None)
    for name, what in (required() if required else {}).items():
        if not os.environ.get(name):
            return (f"{cfg.path}: source {src.name!r} ({src.kind}): environment variable {name} is not set "
                    f"({what}); export it, or set enabled = false for this source")
    return None


def check_sources(cfg: PipelineConfig, env: bool = False) -> None:
    """Build every enabled source once (no request is made) so option errors surface up front;
    with ``env``, also check that the environment variables each source needs (API keys) are
    set. Raises :class:`ConfigError` (one line)."""
    from connectors.http import HttpClient

    with HttpClient(cfg.http_settings()) as client:
        for src in cfg.enabled_sources:
            source = build_source(cfg, src, client)
            problem = missing_env(cfg, src, source) if env else None
            if problem:
                raise ConfigError(problem)
