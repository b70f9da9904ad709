"""``[tool.sentinel-lint]`` in pyproject.toml → frozen settings.  Unknown keys and wrong types are errors."""
from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

from .conventions import Convention, ConventionSource, real_ids_start

DEFAULT_PACK = "null-block-id"
from .vocabulary import not_an_index_name  # noqa: E402,F401 - config's own name test, shared with the checks


def rule_codes() -> tuple[str, ...]:
    """Every rule code, from the one registry (``checks.RULES``)."""
    from .checks import ALL_CODES

    return ALL_CODES


DEFAULT_INFER_EXCLUDE = ("tests/*", "test/*", "*/tests/*", "*/test/*", "test_*.py", "*/test_*.py", "*_test.py",
                         "benchmarks/*", "*/benchmarks/*", "conftest.py", "*/conftest.py")


class ConfigError(Exception):
    """A configuration the user must fix; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class TensorRule:
    """Index parameters matched by name patterns, and the convention their values follow."""

    params: tuple[str, ...]
    convention: Convention

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.params)


@dataclass(frozen=True)
class RulePack:
    name: str
    description: str
    tensors: tuple[TensorRule, ...]


@dataclass(frozen=True)
class Settings:
    root: Path
    config_path: Path | None = None
    explicit: tuple[TensorRule, ...] = ()  # [[tool.sentinel-lint.tensors]], sentinel, or a chosen rule-pack
    fallback: RulePack | None = None  # the pack used where nothing else says anything
    index_params: tuple[str, ...] = ()  # extra name patterns of index tensors, beyond the packs'
    infer: bool = True
    select: frozenset[str] = field(default_factory=lambda: frozenset(rule_codes()))
    include: tuple[str, ...] = ("*.py",)
    exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    # Padding written here is test or benchmark input, not what the engine does in production.
    infer_exclude: tuple[str, ...] = DEFAULT_INFER_EXCLUDE
    # name -> is_index_param(name): asked for every name on every chain, from a few thousand distinct names
    _index_names: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    # (question, name) -> answer, for the other per-name lookups (explicit convention, fallback and its group)
    _conventions_by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def is_index_param(self, name: str) -> bool:
        known = self._index_names.get(name)
        if known is None:
            known = self._index_names[name] = self._matches_index_pattern(name)
        return known

    def _matches_index_pattern(self, name: str) -> bool:
        if not_an_index_name(name):
            return False
        if any(rule.matches(name) for rule in self.explicit):
            return True
        if self.fallback and any(rule.matches(name) for rule in self.fallback.tensors):
            return True
        return any(fnmatch.fnmatchcase(name, p) for p in self.index_params)

    def explicit_for(self, name: str) -> Convention | None:
        key = ("explicit", name)
        if key not in self._conventions_by_name:
            self._conventions_by_name[key] = next(
                (rule.convention for rule in self.explicit if rule.matches(name)), None)
        return self._conventions_by_name[key]

    def fallback_for(self, name: str) -> Convention | None:
        key = ("fallback", name)
        if key not in self._conventions_by_name:
            self._conventions_by_name[key] = self._fallback_for(name)
        return self._conventions_by_name[key]

    def _fallback_for(self, name: str) -> Convention | None:
        if self.fallback is None:
            return None
        conv = next((rule.convention for rule in self.fallback.tensors if rule.matches(name)), None)
        if conv is None and any(fnmatch.fnmatchcase(name, p) for p in self.index_params) and self.fallback.tensors:
            conv = self.fallback.tensors[0].convention
        return conv

    def fallback_group(self, name: str) -> int | None:
        """Which of the fallback pack's tensor rules an index parameter falls under (the kind of tensor it is)."""
        key = ("group", name)
        if key not in self._conventions_by_name:
            group = None
            if self.fallback is not None and self.is_index_param(name):
                group = next((i for i, rule in enumerate(self.fallback.tensors) if rule.matches(name)), None)
            self._conventions_by_name[key] = group
        return self._conventions_by_name[key]

    def fingerprint(self) -> str:
        """A stable text of everything that changes results, for cache keys."""
        return repr((self.explicit, self.fallback, self.index_params, self.infer, sorted(self.select),
                     self.infer_exclude))

    def infers_from(self, path: str) -> bool:
        return not any(fnmatch.fnmatchcase(path, pattern) for pattern in self.infer_exclude)


# -- rule packs ---------------------------------------------------------------------------------------------------

def available_packs() -> list[str]:
    names = []
    for entry in resources.files("sentinel_lint.rules").iterdir():
        if entry.name.endswith(".toml") and not entry.name.startswith("_"):
            names.append(entry.name[: -len(".toml")])
    return sorted(names)


_ENGINE_CONSTANTS: dict | None = None


def engine_constants() -> dict[tuple[str, str], int]:
    """(module, name) -> value of sentinel constants imported from engines outside the tree
    (``rules/_engine_constants.toml``)."""
    global _ENGINE_CONSTANTS
    if _ENGINE_CONSTANTS is None:
        text = resources.files("sentinel_lint.rules").joinpath("_engine_constants.toml").read_text(encoding="utf-8")
        _ENGINE_CONSTANTS = {(entry["module"], entry["name"]): entry["value"]
                             for entry in tomllib.loads(text).get("constants", [])}
    return _ENGINE_CONSTANTS


def _convention_from_table(table: dict, where: str, source: ConventionSource, origin: str) -> Convention:
    invalid = table.get("invalid")
    if invalid is None and "value" in table:
        invalid = [table["value"]]
    if not isinstance(invalid, list) or not invalid or not all(isinstance(v, int) and not isinstance(v, bool) for v in invalid):
        raise ConfigError(f"{where}: 'invalid' must be a non-empty list of integers (or give 'value')")
    real_min = table.get("real-min", real_ids_start(invalid))
    if not isinstance(real_min, int) or isinstance(real_min, bool):
        raise ConfigError(f"{where}: 'real-min' must be an integer")
    if any(v >= real_min for v in invalid):
        raise ConfigError(f"{where}: padding values {sorted(invalid)} overlap the real ids (>= {real_min})")
    name = table.get("sentinel", table.get("name", ""))
    if not isinstance(name, str):
        raise ConfigError(f"{where}: 'sentinel' must be a string")
    return Convention(frozenset(invalid), real_min, name, source, origin)


def _tensor_rules(entries, where: str, source: ConventionSource, origin: str) -> tuple[TensorRule, ...]:
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'tensors' must be an array of tables")
    rules = []
    for i, entry in enumerate(entries):
        at = f"{where}: tensors[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at} must be a table")
        unknown = set(entry) - {"params", "sentinel", "name", "invalid", "value", "real-min"}
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        params = entry.get("params")
        if not isinstance(params, list) or not params or not all(isinstance(p, str) for p in params):
            raise ConfigError(f"{at}: 'params' must be a non-empty list of name patterns")
        rules.append(TensorRule(tuple(params), _convention_from_table(entry, at, source, origin)))
    return tuple(rules)


def load_pack(name: str, source: ConventionSource = ConventionSource.PACK) -> RulePack:
    if name not in available_packs():
        raise ConfigError(f"unknown rule pack {name!r}; available: {', '.join(available_packs())}")
    text = resources.files("sentinel_lint.rules").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tensors = _tensor_rules(data.get("tensors", []), f"rule pack {name}", source, f"rule pack {name}")
    return RulePack(name, data.get("description", ""), tensors)


# -- pyproject ----------------------------------------------------------------------------------------------------

KNOWN_KEYS = {
    "rule-pack": str, "fallback-pack": str, "infer": bool, "select": list, "ignore": list, "include": list,
    "exclude": list, "extend-exclude": list, "index-params": list, "tensors": list, "sentinel": dict,
    "respect-gitignore": bool, "infer-exclude": list,
}


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.sentinel-lint] table, walking up from ``start``."""
    start = start.resolve()
    for directory in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            tool = _tool_table(read_toml(candidate), candidate)
            if "sentinel-lint" in tool:
                return candidate
    return None


def read_toml(path: Path) -> dict:
    """A TOML file as a table; every way it can fail is a ConfigError naming the file."""
    from .source import read_source_bytes

    try:
        data = read_source_bytes(path, limit=4 * 1024 * 1024)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _tool_table(data: dict, path: Path) -> dict:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table, got {type(tool).__name__}")
    return tool


PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def find_root(start: Path) -> Path:
    """The project root for cross-file inference: nearest directory with pyproject.toml, setup.py or .git."""
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    for directory in [base, *base.parents]:
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    cwd = Path.cwd().resolve()
    if base == cwd or cwd in base.parents:  # an unpacked tree with no project files: where the user stands
        return cwd
    return base


def _check_list_of_str(value, key: str, where: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def resolve_sentinel_value(value, root: Path, where: str) -> int:
    """An int as given, or ``"path/to/module.py:NAME"`` read statically from that file (never imported)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and ":" in value:
        import ast

        from .source import read_source_bytes

        rel, _, name = value.rpartition(":")
        path = (root / rel) if not os.path.isabs(rel) else Path(rel)
        try:
            tree = ast.parse(read_source_bytes(path))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise ConfigError(f"{where}: cannot read {rel} to resolve {name}: {exc}") from None
        from .model.facts import const_ref

        for stmt in tree.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets) and stmt.value is not None:
                    ref = const_ref(stmt.value)
                    if isinstance(ref, int):
                        return ref
        raise ConfigError(f"{where}: {name} is not an integer constant defined in {rel}")
    raise ConfigError(f"{where}: sentinel 'value' must be an integer or \"path/to/file.py:NAME\"")


def load_settings(paths: list[Path], *, config_file: Path | None = None, overrides: dict | None = None) -> Settings:
    """Settings for a run over ``paths``: pyproject (found by walking up) then command-line overrides."""
    start = paths[0] if paths else Path.cwd()
    config_path = config_file or find_config(start)
    table: dict = {}
    if config_path is not None:
        table = _tool_table(read_toml(config_path), config_path).get("sentinel-lint", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{config_path}: [tool.sentinel-lint] must be a table")
    root = config_path.parent if config_path is not None else find_root(start)
    where = f"{config_path}: [tool.sentinel-lint]" if config_path else "command line"
    table = dict(table)
    table.update({k: v for k, v in (overrides or {}).items() if v is not None})

    unknown = set(table) - set(KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN_KEYS))}")
    for key, typ in KNOWN_KEYS.items():
        if key in table and not isinstance(table[key], typ):
            raise ConfigError(f"{where}: '{key}' must be a {typ.__name__}, got {type(table[key]).__name__}")

    explicit: list[TensorRule] = list(_tensor_rules(table.get("tensors", []), where, ConventionSource.CONFIG,
                                                  str(config_path or where)))
    fallback = load_pack(table.get("fallback-pack", DEFAULT_PACK))
    if "rule-pack" in table:  # a pack the user chose is an explicit statement of the conventions
        chosen = load_pack(table["rule-pack"], source=ConventionSource.CONFIG)
        explicit += list(chosen.tensors)
        fallback = chosen
    if "sentinel" in table:
        sentinel = dict(table["sentinel"])
        unknown = set(sentinel) - {"name", "value", "real-min", "params"}
        if unknown:
            raise ConfigError(f"{where}: sentinel: unknown key(s) {', '.join(sorted(unknown))}")
        if "value" not in sentinel:
            raise ConfigError(f"{where}: sentinel needs a 'value'")
        value = resolve_sentinel_value(sentinel["value"], root, f"{where}: sentinel")
        conv_table = {"invalid": [value], "sentinel": sentinel.get("name", "")}
        if "real-min" in sentinel:
            conv_table["real-min"] = sentinel["real-min"]
        conv = _convention_from_table(conv_table, f"{where}: sentinel", ConventionSource.CONFIG,
                                      str(config_path or where))
        if "params" in sentinel and (not isinstance(sentinel["params"], list)
                                     or not all(isinstance(p, str) for p in sentinel["params"])):
            raise ConfigError(f"{where}: sentinel: 'params' must be a list of name patterns")
        params = sentinel.get("params") or list(fallback.tensors[0].params if fallback.tensors else ["*"])
        explicit.insert(0, TensorRule(tuple(params), conv))

    known = rule_codes()
    select = set(_check_list_of_str(table.get("select", list(known)), "select", where))
    ignore = set(_check_list_of_str(table.get("ignore", []), "ignore", where))
    for key, codes in (("select", select), ("ignore", ignore)):
        for code in codes:
            if code not in known:
                at = "command line" if key in (overrides or {}) else where
                raise ConfigError(f"{at}: unknown rule {code!r} in {key}; known: {', '.join(known)}")
    exclude = _check_list_of_str(table.get("exclude", []), "exclude", where) + _check_list_of_str(
        table.get("extend-exclude", []), "extend-exclude", where)
    return Settings(
        root=root,
        config_path=config_path,
        explicit=tuple(explicit),
        fallback=fallback,
        index_params=_check_list_of_str(table.get("index-params", []), "index-params", where),
        infer=table.get("infer", True),
        select=frozenset(select - ignore),
        include=_check_list_of_str(table.get("include", ["*.py"]), "include", where),
        exclude=exclude,
        respect_gitignore=table.get("respect-gitignore", True),
        infer_exclude=_check_list_of_str(table.get("infer-exclude", list(DEFAULT_INFER_EXCLUDE)), "infer-exclude", where),
    )


__all__ = ["ConfigError", "Settings", "TensorRule", "RulePack", "load_settings", "load_pack", "available_packs",
           "replace", "field"]
