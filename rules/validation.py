"""Pydantic models built from the dataclasses and option maps that define a configuration, and
pydantic's errors turned into one plain line.

The fields of a table live in one place only: the dataclass that uses them (``MatchConfig``,
``HttpSettings``...) or a connector's ``OPTIONS`` map. :func:`model_from_dataclass` and
:func:`model_from_types` build a pydantic model from that place each time, so a field added
there is validated, and appears in the published JSON Schema, without a second list to keep.

The models are strict the way TOML and YAML are typed: an integer is not a boolean, a string is
not a number, an integer is accepted where a number is asked for; unknown keys are refused.
:func:`first_problem` reads a :class:`pydantic.ValidationError` back as one :class:`Problem`
(the key path, what is wrong, and for an unknown key or value the nearest known one), which the
callers put into their own one-line messages.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "Hint", "Problem", "ValidationError", "first_problem", "model_from_dataclass", "model_from_types",
    "plain_type", "field_docs", "describe_value",
]


@dataclass(frozen=True)
class Hint:
    """Annotated metadata: how to say that a value breaks the field's bounds, e.g.
    ``Hint("must be a positive number of seconds")``; without it the bound itself is named."""

    text: str


_NONE = type(None)


def plain_type(annotation: Any, *, nullable: bool = True) -> Any:
    """The strict pydantic type for a dataclass annotation, as TOML/YAML values arrive:
    ``tuple[X, ...]`` and ``list[X]`` -> list, ``int`` refuses booleans, ``float`` takes
    integers too, ``str`` takes no numbers. ``nullable=False`` drops ``None`` from optional
    types (TOML has no null: leaving the key out is how a value is unset)."""
    if annotation is Any or annotation is object:
        return Any
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return Annotated[(plain_type(args[0], nullable=nullable), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not _NONE]
        converted = [plain_type(a, nullable=nullable) for a in members]
        out = converted[0] if len(converted) == 1 else Union[tuple(converted)]
        return out | None if nullable and len(members) < len(args) else out
    if origin is Literal:
        return annotation
    if origin in (tuple, list, set, frozenset):
        item = args[0] if args and (origin is not tuple or len(args) == 2 and args[1] is Ellipsis) else Any
        return list[plain_type(item, nullable=nullable)]
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        value = args[1] if len(args) == 2 else Any
        return dict[str, plain_type(value, nullable=nullable)]
    if annotation in (list, tuple):
        return list[Any]
    if annotation is bool:
        return Annotated[bool, Strict()]
    if annotation in (int, float, str):
        return Annotated[annotation, Strict()]
    if isinstance(annotation, tuple):  # a connector's (int, float): any number
        if set(annotation) == {int, float}:
            return Annotated[float, Strict()]
        return Union[tuple(plain_type(a, nullable=nullable) for a in annotation)]
    return annotation


def field_docs(cls: type) -> dict[str, str]:
    """One-line descriptions of a dataclass's fields, from its docstring bullets
    (``- ``name``: text``) or the comment after the field in its source."""
    docs: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    for m in re.finditer(r"^\s*[-*] ``(\w+)``:\s*(.+?)(?=^\s*[-*] ``|\n\s*\n|\Z)", doc, re.MULTILINE | re.DOTALL):
        docs[m.group(1)] = " ".join(m.group(2).split())
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return docs
    for m in re.finditer(r"^\s+(\w+)\s*:[^\n#]*#\s*(.+)$", source, re.MULTILINE):
        docs.setdefault(m.group(1), m.group(2).strip())
    return docs


_STRICT_TOML = ConfigDict(extra="forbid", strict=False, validate_default=False)


def _field(annotation: Any, default: Any, description: str | None) -> tuple[Any, FieldInfo]:
    return annotation, Field(default, description=description) if description else Field(default)


def model_from_dataclass(cls: type, *, name: str | None = None, exclude: tuple[str, ...] = (),
                         types_: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                         nullable: bool = True, required: tuple[str, ...] = (),
                         docs: Mapping[str, str] | None = None, doc: str | None = None) -> type[BaseModel]:
    """A pydantic model with one optional field per field of the dataclass ``cls`` (minus
    ``exclude``), typed by :func:`plain_type` from its annotation unless ``types_`` gives the
    type; ``extra`` adds keys the dataclass does not hold (name -> type); ``required`` names
    fields that must be given. Unknown keys are refused."""
    hints = typing.get_type_hints(cls, include_extras=True)
    given = dict(types_ or {})
    described = {**field_docs(cls), **(docs or {})}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude or f.name.startswith("_"):
            continue
        annotation = given.pop(f.name) if f.name in given else plain_type(hints[f.name], nullable=nullable)
        if f.name in required:
            default: Any = ...
        elif f.default is not dataclasses.MISSING:
            default = f.default if f.default is not None or nullable else None
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        if isinstance(default, tuple):
            default = list(default)
        fields[f.name] = _field(annotation, default, described.get(f.name))
    for key, annotation in {**given, **(extra or {})}.items():
        fields[key] = _field(annotation, ... if key in required else None, described.get(key))
    return create_model(name or cls.__name__, __config__=_STRICT_TOML, __doc__=doc or _first_paragraph(cls),
                        **fields)


def model_from_types(name: str, types_: Mapping[str, Any], *, required: tuple[str, ...] = (),
                     docs: Mapping[str, str] | None = None, doc: str | None = None,
                     forbid_extra: bool = True) -> type[BaseModel]:
    """A pydantic model from a map of key -> type (a connector's ``OPTIONS``, the ``[runner]``
    keys); a type may be a Python type, a tuple of types or an ``Annotated`` pydantic type."""
    fields = {key: _field(plain_type(t, nullable=False), ... if key in required else None, (docs or {}).get(key))
              for key, t in types_.items()}
    config = ConfigDict(extra="forbid" if forbid_extra else "allow")
    return create_model(name, __config__=config, __doc__=doc, **fields)


def _first_paragraph(cls: type) -> str | None:
    doc = inspect.getdoc(cls)
    return " ".join(doc.split("\n\n", 1)[0].split()) if doc else None


# ---------------------------------------------------------------- errors as one line


@dataclass(frozen=True)
class Problem:
    """The first thing wrong in a validated mapping.

    ``loc`` is the key path (``("sources", 0, "limit")``), ``key`` its last key, ``text`` what is
    wrong said after the key (``must be an integer, got '50'``), ``unknown`` whether the key itself
    is unknown, ``known`` the keys allowed at that level (unknown key) and ``suggestion`` the
    nearest known key or value, if one is close."""

    loc: tuple[Any, ...]
    key: str
    text: str
    unknown: bool = False
    missing: bool = False
    known: tuple[str, ...] = ()
    suggestion: str | None = None
    value: Any = None
    kind: str = ""

    @property
    def did_you_mean(self) -> str:
        return f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""


_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "tuple_type": "a list", "dict_type": "a table", "model_type": "a table", "dataclass_type": "a table",
    "model_attributes_type": "a table", "none_required": "null", "date_type": "a date",
    "date_parsing": "a date", "date_from_datetime_parsing": "a date",
}


def describe_value(value: Any) -> str:
    """A value as a user wrote it, shortened (``'50'``, ``True``, ``[1, 2]``)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(expected: str) -> list[str]:
    return re.findall(r"'((?:[^'\\]|\\.)*)'", expected)


def _bound_text(kind: str, ctx: Mapping[str, Any]) -> str:
    for key in ("gt", "ge", "lt", "le"):
        if key in ctx:
            n = ctx[key]
            break
    else:
        return "is out of range"
    if kind == "greater_than":
        return "must be positive" if n == 0 else f"must be greater than {n}"
    if kind == "greater_than_equal":
        return "must not be negative" if n == 0 else f"must be at least {n}"
    if kind == "less_than":
        return f"must be less than {n}"
    return f"must be at most {n}"


def _walk(model: Any, loc: tuple[Any, ...]) -> tuple[FieldInfo | None, Any] | None:
    """Follow an error's ``loc`` through ``model``'s fields (list indexes skipped): the field at its
    end and the model inside that field (``model`` itself for an empty ``loc``), or None when
    ``loc`` leaves the known fields."""
    info, current = None, model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        current = _inner_model(info.annotation)
    return info, current


def _field_info(model: Any, loc: tuple[Any, ...]) -> FieldInfo | None:
    walked = _walk(model, loc)
    return walked[0] if walked else None


def _inner_model(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation) if origin is not None else ():
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def _known_keys(model: Any, loc: tuple[Any, ...]) -> tuple[str, ...]:
    walked = _walk(model, loc)
    return tuple(getattr(walked[1], "model_fields", None) or {}) if walked else ()


def nearest(word: str, choices: Any) -> str | None:
    """The known word closest to ``word`` (difflib), or None when none is close."""
    if not isinstance(word, str):
        return None
    found = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(word.lower(), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def first_problem(exc: ValidationError, model: Any = None) -> Problem:
    """The first error of ``exc`` as a :class:`Problem`. ``model`` (the validated model) lets an
    unknown key be answered with the keys known at its level."""
    errors = exc.errors(include_url=False)
    # a value that fits no member of a union yields one error per member: report the value once
    err = errors[0]
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    same = [e for e in errors if tuple(p for p in e["loc"] if not _is_union_tag(p)) == loc]
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    keys = [p for p in loc if isinstance(p, str)]
    key = keys[-1] if keys else ""
    got = f", got {describe_value(value)}"
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1]) if model is not None else ()
        return Problem(loc, key, "is unknown", unknown=True, known=known, suggestion=nearest(key, known),
                       value=value, kind=kind)
    if kind == "missing":
        return Problem(loc, key, "is missing", missing=True, kind=kind)
    if kind == "literal_error" or kind == "enum":
        options = _choices(str(ctx.get("expected", "")))
        for e in same[1:]:
            if e["type"] == "none_required":
                options.append("null")
        shown = [f'"{o}"' for o in options]
        wanted = " or ".join(shown) if len(shown) <= 2 else "one of " + ", ".join(shown)
        return Problem(loc, key, f"must be {wanted}{got}", suggestion=nearest(value, options), value=value,
                       kind=kind)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        info = _field_info(model, loc) if model is not None else None
        hint = next((m.text for m in (info.metadata if info else ()) if isinstance(m, Hint)), None)
        return Problem(loc, key, f"{hint or _bound_text(kind, ctx)}{got}", value=value, kind=kind)
    if kind in _TYPE_WORDS:
        words = []
        for e in same:
            w = _TYPE_WORDS.get(e["type"])
            if w and w not in words:
                words.append(w)
        if {"a string", "an integer", "a number"} <= set(words):  # text that may be written as a number
            words = [w for w in words if w not in ("an integer", "a number")]
        return Problem(loc, key, f"must be {' or '.join(words)}{got}", value=value, kind=kind)
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
        return Problem(loc, key, message, value=value, kind=kind)
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        text = ("must not be empty" if kind == "too_short" and n == 1 else
                f"must have at {'least' if kind == 'too_short' else 'most'} {n} items")
        return Problem(loc, key, f"{text}{got}", value=value, kind=kind)
    if kind == "string_pattern_mismatch":
        return Problem(loc, key, f"must match {ctx.get('pattern')}{got}", value=value, kind=kind)
    return Problem(loc, key, f"{err['msg'][:1].lower()}{err['msg'][1:]}{got}", value=value, kind=kind)


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the member's name to an error's location inside a union: 'int', 'list[str]',
    # 'literal[...]', 'function-after[...]', 'constrained-float'
    return isinstance(part, str) and bool(re.match(
        r"^(int|float|str|bool|none|list\[.*\]|dict\[.*\]|literal\[.*\]|function-\w+\[.*\]|constrained-\w+|"
        r"nullable\[.*\]|tuple\[.*\]|json-or-python\[.*\]|is-instance\[.*\]|union\[.*\])$", part))


_WORDS = {str: ("a string", "strings"), int: ("an integer", "integers"), float: ("a number", "numbers"),
          bool: ("true or false", "booleans")}


def describe_type(annotation: Any, *, table: str = "mapping", plural: bool = False) -> str:
    """An annotation in words: ``list[list[str]]`` -> ``a list of lists of strings``;
    ``table`` names a mapping (``mapping`` in YAML, ``table`` in TOML)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return describe_type(args[0], table=table, plural=plural)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not _NONE]
        nullable = len(members) < len(args)
        bare = [typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a for a in members]
        if str in bare and set(bare) <= {str, int, float}:  # text that may be written as a number
            members = [str]
        words = [describe_type(a, table=table, plural=plural) for a in members]
        if nullable:
            words.append("nulls" if plural else "null")
        return " or ".join(dict.fromkeys(words))
    if origin is Literal:
        return ("one of " if not plural else "values among ") + ", ".join(str(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        item = describe_type(args[0], table=table, plural=True) if args else "values"
        return f"lists of {item}" if plural else f"a list of {item}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        keys = ", ".join(annotation.model_fields)
        return f"{table}s with {keys}" if plural else f"a {table} with {keys}"
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return f"{table}s" if plural else f"a {table}"
    if annotation in _WORDS:
        return _WORDS[annotation][1 if plural else 0]
    if annotation is Any:
        return "values" if plural else "a value"
    return getattr(annotation, "__name__", str(annotation))
