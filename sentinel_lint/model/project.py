"""Project-wide facts: modules by dotted name, constants resolved statically, callees resolved by import or name.

Nothing here imports or runs analysed code: constants are folded from their definitions (module constants, imports,
re-exports and simple arithmetic).
"""
from __future__ import annotations

from dataclasses import dataclass

from .facts import Arith, ConstRef, FunctionFacts, ModuleFacts, NameRef, Negated, SelfAttr


@dataclass(frozen=True)
class Resolved:
    value: int
    name: str  # the constant's name as written where it is defined ("" for a literal)
    path: str
    line: int = 0


@dataclass(frozen=True)
class Callee:
    module: ModuleFacts
    function: FunctionFacts | None  # None: a constructor without __init__, whose arguments are its fields
    skip_first: bool  # a method called through self/obj, or autograd Function.apply → forward(ctx, ...)
    by_name: bool  # resolved only by a unique name, not by an import
    cls: str | None = None  # a constructor: the class built


MAX_DISPATCH = 4  # an unknown receiver's method may be any of this many same-named methods, no more
GENERIC_METHODS = frozenset({"forward", "__call__", "__init__", "build", "apply", "update", "get", "run", "step",
                             "reset", "copy", "clone", "to", "execute", "prepare", "process", "__getitem__"})


def _power(a: int, b: int) -> int | None:
    return a ** b if 0 <= b <= 64 else None  # 2**31 - 1, not 10**10**10


def _shift(a: int, b: int) -> int | None:
    return a << b if 0 <= b <= 64 else None


_ARITH = {"Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mult": lambda a, b: a * b, "Pow": _power,
          "LShift": _shift}


def module_name_for(rel_path: str) -> str:
    parts = rel_path.replace("\\", "/").split("/")
    if parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(p for p in parts if p)


class Project:
    def __init__(self, modules: list[ModuleFacts], loader=None, external_constants=None):
        self.modules: dict[str, ModuleFacts] = {}
        # (module, name) -> value of constants defined outside the tree (an engine a plugin imports from)
        self.external_constants: dict[tuple[str, str], int] = external_constants or {}
        self.by_path: dict[str, ModuleFacts] = {}
        self._loader = loader  # dotted name -> ModuleFacts | None, for modules the prefilter skipped
        self._found: dict[tuple[str, bool], ModuleFacts | None] = {}
        self._bases: dict[str, list[ModuleFacts]] | None = None  # class name -> modules defining it
        self._functions_by_name: dict[str, list] = {}
        self._callees: dict[tuple, list] = {}
        self._by_last_part: dict[str, list[str]] = {}  # last dotted part -> module names, in the order added

        for facts in modules:
            self.add(facts)

    def add(self, facts: ModuleFacts) -> None:
        if facts.module not in self.modules:
            self._by_last_part.setdefault(facts.module.rpartition(".")[2], []).append(facts.module)
        self.modules[facts.module] = facts
        self.by_path[facts.path] = facts
        for fn in facts.functions:
            self._functions_by_name.setdefault(fn.name, []).append((facts, fn))
        self._found = {key: value for key, value in self._found.items() if value is not None}
        self._bases = None

    # -- modules ------------------------------------------------------------------------------------------------
    def absolute(self, importer: ModuleFacts, module: str) -> str:
        if not module.startswith("."):
            return module
        level = len(module) - len(module.lstrip("."))
        package = importer.module.split(".")
        if not importer.path.endswith("__init__.py"):
            package = package[:-1]
        package = package[: len(package) - (level - 1)] if level > 1 else package
        rest = module[level:]
        return ".".join(package + ([rest] if rest else []))

    def find_module(self, dotted: str, load: bool = False) -> ModuleFacts | None:
        """The module ``dotted``; with ``load``, also one the prefilter skipped (only constants need that)."""
        key = (dotted, load)
        if key in self._found:
            return self._found[key]
        facts = self.modules.get(dotted)
        if facts is None:
            suffix = "." + dotted  # src/ layouts: the first module added whose name ends with this one's
            same_last = self._by_last_part.get(dotted.rpartition(".")[2], ())
            facts = next((self.modules[name] for name in same_last if name.endswith(suffix)), None)
        if facts is None and load and self._loader is not None:
            facts = self._loader(dotted)
            if facts is not None:
                self.add(facts)
        self._found[key] = facts
        return facts

    # -- constants ----------------------------------------------------------------------------------------------
    def resolve_const(self, module: ModuleFacts, ref: ConstRef | str | None, depth: int = 0) -> Resolved | None:
        """The integer a constant reference folds to, statically (a bare string is a name)."""
        if depth > 8 or ref is None or isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return Resolved(ref, "", module.path)
        if isinstance(ref, str):
            return self.resolve_name(module, ref, depth)
        if isinstance(ref, NameRef):
            return self.resolve_name(module, ref.dotted, depth)
        if isinstance(ref, SelfAttr):  # self.X of class C: its assignment in C, else the one class that sets X
            if (ref.owner, ref.attr) in module.field_constants:
                return self.resolve_const(module, module.field_constants[(ref.owner, ref.attr)], depth + 1)
            found = [(m, m.field_constants[key]) for m in self.modules.values()
                     for key in m.field_constants if key[1] == ref.attr]
            if len(found) == 1:
                return self.resolve_const(found[0][0], found[0][1], depth + 1)
            return None
        if isinstance(ref, Negated):
            inner = self.resolve_const(module, ref.inner, depth + 1)
            return Resolved(-inner.value, "-" + inner.name, inner.path) if inner else None
        if isinstance(ref, Arith):
            a, b = self.resolve_const(module, ref.left, depth + 1), self.resolve_const(module, ref.right, depth + 1)
            if a is None or b is None:
                return None
            value = _ARITH[ref.op](a.value, b.value)
            return Resolved(value, a.name if ref.op == "Sub" and b.value == 1 and a.name else "", module.path) \
                if value is not None else None
        return None

    def resolve_name(self, module: ModuleFacts, name: str, depth: int = 0) -> Resolved | None:
        """A constant by its (dotted) name in ``module``: defined there, imported, or from a known engine."""
        if depth > 8:
            return None
        if "." in name:  # module.CONST through an imported module
            head, _, attr = name.rpartition(".")
            target = self.module_of_alias(module, head, load=True)
            if target is None:
                return self._external(module, head, None, attr)
            return self.resolve_name(target, attr, depth + 1)
        if name in module.constants:
            inner = self.resolve_const(module, module.constants[name], depth + 1)
            if inner is None:
                return None
            return Resolved(inner.value, name, module.path)
        if name in module.imports:
            source, imported = module.imports[name]
            if imported is None:
                return None
            target = self.find_module(self.absolute(module, source), load=True)
            if target is None:
                return self._external(module, source, imported, name)
            inner = self.resolve_name(target, imported, depth + 1)
            return Resolved(inner.value, name, inner.path) if inner else None
        return None

    def _external(self, module: ModuleFacts, alias_or_source: str, imported: str | None, name: str) -> Resolved | None:
        """A constant imported from a module that is not in the tree, if it is a known engine sentinel."""
        if imported is None:  # utils.PAD_SLOT_ID through `from vllm.v1.attention.backends import utils`
            full = self.alias_module_name(module, alias_or_source)
            if full is None:
                return None
            key = (full, name)
        else:
            key = (alias_or_source, imported)
        value = self.external_constants.get(key)
        return Resolved(value, name, module.path) if value is not None else None

    def alias_module_name(self, module: ModuleFacts, alias: str) -> str | None:
        """The dotted module an imported name stands for (``utils`` → ``vllm.v1.attention.backends.utils``)."""
        if alias not in module.imports:
            return None
        source, imported = module.imports[alias]
        full = self.absolute(module, source)
        if imported is not None:
            full = f"{full}.{imported}" if not full.endswith(".") else full + imported
        return full

    def module_of_alias(self, module: ModuleFacts, alias: str, load: bool = False) -> ModuleFacts | None:
        full = self.alias_module_name(module, alias)
        return self.find_module(full, load) if full is not None else None

    # -- functions ----------------------------------------------------------------------------------------------
    def functions_named(self, name: str) -> list[tuple[ModuleFacts, FunctionFacts]]:
        return self._functions_by_name.get(name, [])

    def find_function(self, module: ModuleFacts, name: str, depth: int = 0) -> tuple[ModuleFacts, FunctionFacts] | None:
        """A top-level function (or class) ``name`` visible in ``module``: defined there or imported (re-exports
        followed)."""
        if depth > 6:
            return None
        for fn in module.functions:
            if fn.qualname == name:
                return module, fn
        if name in module.imports:
            source, imported = module.imports[name]
            if imported is None:
                return None
            target = self.find_module(self.absolute(module, source))
            if target is None:
                return None
            return self.find_function(target, imported, depth + 1)
        return None

    def jit_callee(self, module: ModuleFacts, name: str) -> tuple[ModuleFacts, FunctionFacts] | None:
        """The @triton.jit function a kernel calls by bare name: the one visible in its module, else the only jit
        function of that name in the project."""
        found = self.find_function(module, name)
        if found is None:
            candidates = [(m, f) for m, f in self.functions_named(name) if f.is_kernel]
            found = candidates[0] if len(candidates) == 1 else None
        return found if found is not None and found[1].is_kernel else None

    def find_class(self, module: ModuleFacts, name: str, depth: int = 0) -> tuple[ModuleFacts, str] | None:
        """The module that defines class ``name`` as seen from ``module`` (defined there, or imported)."""
        if name in module.classes:
            return module, name
        if name in module.imports and depth < 6:
            source, imported = module.imports[name]
            target = self.find_module(self.absolute(module, source)) if imported else None
            return self.find_class(target, imported, depth + 1) if target is not None else None
        return None

    def class_bases(self, cls: str) -> list[tuple[ModuleFacts, str]]:
        """The project's classes named like ``cls``'s bases (by name: bases are rarely ambiguous)."""
        if self._bases is None:
            self._bases = {}
            for m in self.modules.values():
                for name in m.classes:
                    self._bases.setdefault(name, []).append(m)
        out = []
        for m in self._bases.get(cls, ()):
            for base in m.class_bases.get(cls, ()):
                out += [(bm, base) for bm in self._bases.get(base, ())]
        return out

    def class_fields(self, module: ModuleFacts, cls: str, depth: int = 0) -> list[str]:
        """Declared fields in constructor order: the bases' first (a dataclass's positional arguments)."""
        inherited = []
        if depth < 6:
            for base_module, base in self.class_bases(cls):
                if base_module is not module or base != cls:
                    inherited += [f for f in self.class_fields(base_module, base, depth + 1) if f not in inherited]
        return inherited + [f for f in module.class_fields.get(cls, ()) if f not in inherited]

    def method(self, module: ModuleFacts, cls: str, name: str, depth: int = 0) -> Callee | None:
        """``self.name`` in class ``cls``: its own method, else the nearest base's."""
        for fn in module.functions:
            if fn.class_name == cls and fn.name == name:
                return Callee(module, fn, True, False)
        if depth < 6:
            for base_module, base in self.class_bases(cls):
                found = self.method(base_module, base, name, depth + 1)
                if found is not None:
                    return found
        return None

    def constructor(self, module: ModuleFacts, cls: str, by_name: bool) -> Callee:
        init = self.method(module, cls, "__init__")
        if init is not None:
            return Callee(init.module, init.function, True, by_name, cls)
        return Callee(module, None, False, by_name, cls)

    def resolve_callee(self, module: ModuleFacts, callee: str, class_name: str | None,
                       scope: str = "") -> list[Callee]:
        key = (module.module, callee, class_name, scope if "." not in callee else "")
        if key not in self._callees:
            self._callees[key] = self._resolve_callee(module, callee, class_name, scope)
        return self._callees[key]

    def _resolve_callee(self, module: ModuleFacts, callee: str, class_name: str | None, scope: str) -> list[Callee]:
        parts = callee.split(".")
        head, last = parts[0], parts[-1]
        if len(parts) == 1:
            nested = self._nested(module, scope, callee)
            return [nested] if nested is not None else self._bare_callee(module, callee)
        if len(parts) == 2 and head in ("self", "cls") and class_name is not None:
            found = self.method(module, class_name, last)
            if found is not None:
                return [found]
        if last == "apply" and len(parts) == 2:  # torch.autograd.Function: apply(...) → forward(ctx, ...)
            found = self.find_class(module, head)
            method = self.method(found[0], found[1], "forward") if found is not None else None
            return [method] if method is not None else []
        if len(parts) == 2:
            target = self.module_of_alias(module, head)
            if target is not None:
                found = self.find_function(target, last)
                if found is not None:
                    return [Callee(found[0], found[1], False, False)]
                if last in target.classes:
                    return [self.constructor(target, last, False)]
        # obj.method(...) on an object of unknown class: the project's methods of that name, if they are few and the
        # name says something (not `forward`, `__call__`, `build`...); each bound by name, the weakest of links
        candidates = self.functions_named(last)
        if 0 < len(candidates) <= MAX_DISPATCH and last not in GENERIC_METHODS:
            return [Callee(m, fn, fn.class_name is not None, True) for m, fn in candidates]
        return []

    @staticmethod
    def _nested(module: ModuleFacts, scope: str, name: str) -> Callee | None:
        """A function defined inside the calling function (or one enclosing it), called by its name."""
        parts = scope.split(".") if scope else []
        while parts:
            qualname = ".".join(parts) + "." + name
            for fn in module.functions:
                if fn.qualname == qualname:
                    return Callee(module, fn, False, False)
            parts.pop()
        return None

    def _bare_callee(self, module: ModuleFacts, name: str) -> list[Callee]:
        found = self.find_function(module, name)
        if found is not None:
            return [Callee(found[0], found[1], False, False)]
        cls = self.find_class(module, name)
        if cls is not None:
            return [self.constructor(cls[0], cls[1], False)]
        if name[:1].isupper():  # a class this project does not define: its keyword arguments are still fields
            return [Callee(module, None, False, True, name)]
        candidates = [(m, f) for m, f in self.functions_named(name) if f.class_name is None]
        if len(candidates) == 1:
            return [Callee(candidates[0][0], candidates[0][1], False, True)]
        return []
