"""Plain data ⇄ JSON, for the cache: a format that can only ever build the types listed here.

``pickle`` builds whatever a file names, so a cache file planted in a repository runs code on every machine that
checks it.  This codec writes dataclasses, enums and containers as tagged JSON arrays and reads them back only as
classes registered here: anything else in a file (another tag, another class, a wrong number of fields) makes the
whole entry invalid, and the caller treats it as a miss.

Shapes (every container is an array whose first element says what it is, so nothing is ambiguous):
``["l", ...]`` list, ``["t", ...]`` tuple, ``["s", ...]`` set, ``["f", ...]`` frozenset,
``["d", k1, v1, k2, v2, ...]`` dict (keys of any encodable type), ``["c", "Class", field1, ...]`` dataclass (every
field, in declaration order), ``["n", "Tuple", item1, ...]`` NamedTuple, ``["e", "Enum", value]`` enum member; ints, floats, strings, booleans and null as
themselves.
"""
from __future__ import annotations

import dataclasses
import enum
import json

_CLASSES: dict[str, type] = {}
_FIELDS: dict[type, tuple[str, ...]] = {}
_ENUMS: dict[str, type] = {}
_TUPLES: dict[str, type] = {}  # NamedTuples


class DecodeError(ValueError):
    """The data does not describe values of the registered types."""


def register(*classes: type) -> None:
    """Allow these dataclasses and enums in cached data (their names must be unique)."""
    for cls in classes:
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            _ENUMS[cls.__name__] = cls
            continue
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):  # a NamedTuple
            _TUPLES[cls.__name__] = cls
            _FIELDS[cls] = tuple(cls._fields)
            continue
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is neither a dataclass, a NamedTuple nor an enum")
        known = _CLASSES.get(cls.__name__)
        if known is not None and known is not cls:
            raise TypeError(f"two cached classes are named {cls.__name__}")
        _CLASSES[cls.__name__] = cls
        _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))


_SCALARS = (str, int, float, bool, type(None))


def to_data(value):
    """The JSON-ready form of ``value`` (registered dataclasses, enums, containers and scalars only)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return ["l", *map(to_data, value)]
    if kind is tuple:
        return ["t", *map(to_data, value)]
    if kind is frozenset or kind is set:
        return ["f" if kind is frozenset else "s", *map(to_data, value)]
    if kind is dict:
        out = ["d"]
        for k, v in value.items():
            out.append(to_data(k))
            out.append(to_data(v))
        return out
    names = _FIELDS.get(kind)
    if names is not None:
        if kind.__name__ in _TUPLES:
            return ["n", kind.__name__, *map(to_data, value)]
        return ["c", kind.__name__, *(to_data(getattr(value, n)) for n in names)]
    if isinstance(value, enum.Enum) and _ENUMS.get(kind.__name__) is kind:
        return ["e", kind.__name__, to_data(value.value)]
    raise TypeError(f"cannot cache a {kind.__name__}")


def from_data(data):
    """Rebuild what ``to_data`` wrote; raises DecodeError for anything it would not have written."""
    try:
        return _build(data)
    except DecodeError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, RecursionError) as exc:
        raise DecodeError(f"invalid cached data: {exc}") from None


def _build(data):
    # Hot path of every cached run: scalars are taken as they are without a call, containers are rebuilt.
    if type(data) is not list:
        if type(data) in _SCALARS:
            return data
        raise DecodeError("a container must be an array that starts with its tag")
    tag = data[0] if data else None
    if tag == "c":
        cls = _CLASSES.get(data[1]) if len(data) > 1 and type(data[1]) is str else None
        if cls is None:
            raise DecodeError(f"not a cached class: {data[1] if len(data) > 1 else None!r}")
        names = _FIELDS[cls]
        if len(data) != len(names) + 2:
            raise DecodeError(f"{cls.__name__}: expected {len(names)} fields, got {len(data) - 2}")
        obj = cls.__new__(cls)
        # Field by field into the instance dict: frozen dataclasses too, and no __init__/__post_init__ runs.
        obj.__dict__.update(zip(names, [_build(v) if type(v) is list else v for v in data[2:]]))
        return obj
    items = [_build(v) if type(v) is list else v for v in data[1:]]
    if tag == "n":
        cls = _TUPLES.get(items[0]) if items and type(items[0]) is str else None
        if cls is None or len(items) - 1 != len(cls._fields):
            raise DecodeError("not a cached tuple type")
        return cls._make(items[1:])
    if tag == "l":
        return items
    if tag == "t":
        return tuple(items)
    if tag == "f":
        return frozenset(items)
    if tag == "s":
        return set(items)
    if tag == "d":
        if len(items) % 2:
            raise DecodeError("a dict needs a value for every key")
        return dict(zip(items[::2], items[1::2]))
    if tag == "e":
        cls = _ENUMS.get(items[0]) if len(items) == 2 and type(items[0]) is str else None
        if cls is None:
            raise DecodeError("not a cached enum")
        return cls(items[1])
    raise DecodeError(f"unknown tag {tag!r}")


def dumps(value) -> bytes:
    return json.dumps(to_data(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes):
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    return from_data(raw)
