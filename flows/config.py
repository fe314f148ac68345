"""Loading and validating a sources file (TOML; format in ``deploy/sources.example.toml``).

Every problem raises :class:`connectors.errors.ConfigError` with a one-line message that names
the file, the source and the option, and says what to change. Nothing is fetched or written
before the whole file is valid.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.errors import ConfigError, ConnectorError
from connectors.http import HttpSettings
from connectors.registry import KINDS

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
RUNNER_KEYS = {
    "kind": str, "address": str, "n_workers": int, "threads_per_worker": int, "max_workers": int,
    "batch_size": int, "run_budget": (int, float), "source_budget": (int, float), "write_batch_rows": int,
    "catch_up_days": (int, float), "catch_up_max_posts": int, "compact_files": int, "index_cache": str,
}
ALERT_KEYS = {"spreading_threshold": int, "window": str}
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


_TYPE_NAMES = {"str": "a string", "int": "an integer", "bool": "true or false", "float": "a number",
               "list": "a list", "dict": "a table"}


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        if set(t) == {int, float}:
            return "a number"
        return " or ".join(_type_name(x) for x in t)
    return _TYPE_NAMES.get(t.__name__, t.__name__)


def _type_ok(value: Any, want: Any) -> bool:
    wanted = want if isinstance(want, tuple) else (want,)
    if isinstance(value, bool) and bool not in wanted:
        return False
    return isinstance(value, wanted)


def _check_type(path: Path, where: str, key: str, value: Any, want: Any) -> None:
    if not _type_ok(value, want):
        raise _fail(path, where, f"option {key!r} must be {_type_name(want)}, got {value!r}")


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
        raise _fail(path, "", f"unknown table {unknown[0]!r}; use only: {', '.join(TABLES)}")
    for t in ("settings", "matching", "runner", "alerts", "media"):
        if not isinstance(data.get(t, {}), dict):
            raise _fail(path, "", f"[{t}] must be a table")

    settings = dict(data.get("settings", {}))
    for key, value in settings.items():
        name = _SETTING_ALIASES.get(key, key)
        if name not in _HTTP_FIELDS or name == "secrets":
            valid = sorted({k for k in _HTTP_FIELDS if k not in ("secrets", "allow_private")} | set(_SETTING_ALIASES))
            raise _fail(path, "[settings]", f"unknown option {key!r}; use one of: {', '.join(valid)}")
        default = _HTTP_FIELDS[name].default
        want = {bool: bool, int: int, float: (int, float), str: str}.get(type(default))
        if want is not None:
            _check_type(path, "[settings]", key, value, want)
        if want in (int, (int, float)):
            if name in _MAY_BE_ZERO and value < 0:
                raise _fail(path, "[settings]", f"option {key!r} must not be negative, got {value!r}")
            if name not in _MAY_BE_ZERO and value <= 0:
                raise _fail(path, "[settings]", f"option {key!r} must be positive, got {value!r}")

    runner = dict(data.get("runner", {}))
    for key, value in runner.items():
        if key in RETIRED_RUNNER_KEYS:
            raise _fail(path, "[runner]", f"option {key!r} is no longer used: {RETIRED_RUNNER_KEYS[key]}")
        if key not in RUNNER_KEYS:
            raise _fail(path, "[runner]", f"unknown option {key!r}; use one of: {', '.join(RUNNER_KEYS)}")
        _check_type(path, "[runner]", key, value, RUNNER_KEYS[key])
    if runner.get("kind", "thread") not in ("thread", "dask"):
        raise _fail(path, "[runner]", f"option 'kind' must be \"thread\" or \"dask\", got {runner['kind']!r}")
    for key in ("n_workers", "threads_per_worker", "max_workers", "batch_size", "write_batch_rows"):
        if key in runner and runner[key] < 1:
            raise _fail(path, "[runner]", f"option {key!r} must be at least 1, got {runner[key]!r}")

    for key in ("run_budget", "source_budget"):
        if key in runner and runner[key] <= 0:
            raise _fail(path, "[runner]", f"option {key!r} must be a positive number of seconds, got {runner[key]!r}")
    if "catch_up_days" in runner and runner["catch_up_days"] <= 0:
        raise _fail(path, "[runner]", f"option 'catch_up_days' must be positive, got {runner['catch_up_days']!r}")
    if "compact_files" in runner and runner["compact_files"] < 0:
        raise _fail(path, "[runner]", f"option 'compact_files' must not be negative (0 turns automatic compaction "
                                      f"off), got {runner['compact_files']!r}")
    if "catch_up_max_posts" in runner and runner["catch_up_max_posts"] < 0:
        raise _fail(path, "[runner]", f"option 'catch_up_max_posts' must not be negative (0 turns catching up off), "
                                      f"got {runner['catch_up_max_posts']!r}")

    alerts = dict(data.get("alerts", {}))
    for key, value in alerts.items():
        if key not in ALERT_KEYS:
            raise _fail(path, "[alerts]", f"unknown option {key!r}; use one of: {', '.join(ALERT_KEYS)}")
        _check_type(path, "[alerts]", key, value, ALERT_KEYS[key])
        if key == "window":
            try:
                parse_window(value)
            except ValueError as exc:
                raise _fail(path, "[alerts]", f"option 'window': {exc}") from None
        elif value < 1:
            raise _fail(path, "[alerts]", f"option {key!r} must be at least 1, got {value!r}")

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
            raise _fail(path, where, f"option 'kind' is {kind!r}; use one of: {', '.join(sorted(KINDS))}")
        enabled = entry.get("enabled", True)
        _check_type(path, where, "enabled", enabled, bool)
        budget = entry.get("budget")
        if budget is not None:
            _check_type(path, where, "budget", budget, (int, float))
            if budget <= 0:
                raise _fail(path, where, f"option 'budget' must be a positive number of seconds, got {budget!r}")
        options = {k: v for k, v in entry.items() if k not in COMMON_SOURCE_KEYS}
        _check_source_options(path, name, kind, options)
        sources.append(SourceConfig(name, kind, options, enabled, None if budget is None else float(budget)))
    if not any(s.enabled for s in sources):
        raise _fail(path, "", "every source has enabled = false; enable at least one")

    return PipelineConfig(path, settings, matching, runner, alerts, sources, media)


def _check_matching(path: Path, matching: dict[str, Any]) -> None:
    from rules.match import MatchConfig

    try:
        MatchConfig.from_mapping(matching)
    except (ValueError, TypeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if msg.startswith("[matching]"):
            msg = msg[len("[matching]"):].strip()
        raise _fail(path, "[matching]", msg) from None


def _check_source_options(path: Path, name: str, kind: str, options: dict[str, Any]) -> None:
    """Options against the connector's ``Source.OPTIONS`` (name -> type or tuple of types), if it
    declares one; a connector that cannot be imported is reported later by :func:`build_source`."""
    from connectors.registry import module_for

    try:
        declared = getattr(getattr(module_for(kind), "Source", None), "OPTIONS", None)
    except Exception:
        return
    if not isinstance(declared, dict):
        return
    where = f"source {name!r} ({kind})"
    for key, value in options.items():
        if key not in declared:
            known = ", ".join(sorted([*declared, *COMMON_SOURCE_KEYS]))
            raise _fail(path, where, f"unknown option {key!r}; known options: {known}")
        _check_type(path, where, key, value, declared[key])


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
