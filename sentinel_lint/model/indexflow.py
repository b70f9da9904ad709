"""Index flow inside one ``@triton.jit`` function, on libcst.

The analysis follows every value loaded through a pointer parameter (``tl.load(block_table + i)``) and every raw
parameter value through assignments, ``.to(...)``/``tl.cast``, tuple unpacking, ``tl.where`` and branches and loops
(a small forward dataflow: a branch merges by union, a loop body runs twice so loop-carried values settle).
Arithmetic on an index (``idx * stride``) yields a new value that is not tracked.

It records *guard sites*: boolean expressions (comparisons, ``and``/``or``/``not``, ``&``/``|``/``~``) that compare a
tracked value with something that may be a constant.  Whether that operand really is a constant, and which
convention the loaded tensor follows, is decided later, after project-wide linking; this module only knows the
origins of values (``ids.Origin``): loaded through pointer parameter ``p``, or the value of parameter ``p``.

Only the function's own source is parsed with libcst (not the whole file) and no metadata is computed: an atom
records which comparison of its function it is (``cmp_index``, in source order) and positions are looked up with
``ast`` only for the few atoms that end up in a diagnostic (see ``positions.py``).
"""
from __future__ import annotations

import ast
from typing import NamedTuple

import libcst as cst

from .ids import OriginKind, loaded, param_value
from .sites import (Access, AccessKind, AllOf, AnyOf, Atom, AtomRef, Condition, FunctionAnalysis, GuardContext,
                    GuardSite, HelperCall, Negation, Opaque, Operand, Predicate)

_OPS = {
    cst.LessThan: "<", cst.LessThanEqual: "<=", cst.GreaterThan: ">", cst.GreaterThanEqual: ">=",
    cst.Equal: "==", cst.NotEqual: "!=",
}
_CAST_METHODS = frozenset({"to", "cast"})
_ACCESS_KINDS = {"load": AccessKind.LOAD, "store": AccessKind.STORE}
_CAST_FUNCS = frozenset({"cast"})
_SCANNED: dict[type, bool] = {}  # node type -> an expression part that may hold a guard


class Flow(NamedTuple):
    """What an expression's value is, in terms of the function's parameters."""

    vals: frozenset = frozenset()  # origins the value *is*: an index as loaded, cast, picked by tl.where
    ptrs: frozenset = frozenset()  # pointer parameters the value points into (pointer arithmetic keeps them)
    deps: frozenset = frozenset()  # origins the value depends on, arithmetic included (idx * stride, idx + 1)

    def __or__(self, other: "Flow") -> "Flow":
        return Flow(self.vals | other.vals, self.ptrs | other.ptrs, self.deps | other.deps)


_EMPTY = Flow()


class _State:
    __slots__ = ("values",)

    def __init__(self, values=None):
        self.values: dict[str, Flow] = dict(values or {})

    def copy(self) -> "_State":
        return _State(self.values)

    def merge(self, other: "_State") -> "_State":
        out = self.copy()
        for name, flow in other.values.items():
            mine = out.values.get(name)
            out.values[name] = flow if mine is None else mine | flow
        return out


def _dotted(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _int_of(node: cst.CSTNode):
    if isinstance(node, cst.Integer):
        return ast.literal_eval(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = _int_of(node.expression)
        if isinstance(inner, int):
            return -inner if isinstance(node.operator, cst.Minus) else inner
    return None


def _terminates(block) -> bool:
    """A block that always leaves its enclosing block early (``return``, ``continue``, ``break``)."""
    body = block.body if isinstance(block, (cst.IndentedBlock, cst.SimpleStatementSuite)) else []
    if not body:
        return False
    last = body[-1]
    smalls = last.body if isinstance(last, cst.SimpleStatementLine) else [last]
    return any(isinstance(s, (cst.Return, cst.Continue, cst.Break)) for s in smalls)


class _FunctionAnalyzer:
    def __init__(self, func: cst.FunctionDef, qualname: str, code_for, summaries):
        self.func = func
        self.qualname = qualname
        self.code_for = code_for
        self.cmp_index = _ComparisonOrder.of(func)
        self.summaries = summaries  # callee name -> FunctionAnalysis (same-module helpers, for return values)
        self.params = [p.name.value for p in func.params.params + func.params.posonly_params + func.params.kwonly_params]
        self.result = FunctionAnalysis(qualname, self.params)
        self._sites: dict[int, GuardSite] = {}
        self._calls: dict[int, HelperCall] = {}
        self._accesses: dict[int, Access] = {}
        self._returns = _EMPTY
        self._path: list[Condition] = []  # the conditions under which the statement being analysed runs
        self._order = 0

    def run(self) -> FunctionAnalysis:
        params = {p: Flow(frozenset({param_value(p)}), frozenset({p}), frozenset({param_value(p)}))
                  for p in self.params}
        self.block(self.func.body, _State(params))
        self.result.sites = list(self._sites.values())
        self.result.calls = list(self._calls.values())
        self.result.returns = (self._returns.vals, self._returns.ptrs, self._returns.deps)
        self.result.accesses = list(self._accesses.values())
        self.result.stores_through = frozenset(p for a in self.result.accesses if a.kind is not AccessKind.LOAD
                                               for p in a.targets)
        loads = {p for a in self.result.accesses if a.kind is AccessKind.LOAD for p in a.targets}
        # a helper may load through a pointer it is handed (pointers handed on count as read)
        loads |= {p for call in self.result.calls for arg in (*call.args, *call.kwargs.values()) for p in arg[1]}
        self.result.loads_through = frozenset(loads)
        return self.result

    # -- statements ---------------------------------------------------------------------------------------------
    def block(self, block, state: _State) -> _State:
        body = block.body if isinstance(block, (cst.IndentedBlock, cst.SimpleStatementSuite)) else [block]
        depth = len(self._path)
        for stmt in body:
            state = self.statement(stmt, state)
        del self._path[depth:]  # early exits seen in this block guard only the rest of it
        return state

    def statement(self, stmt: cst.CSTNode, state: _State) -> _State:
        self._order += 1
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                state = self.small(small, state)
            return state
        if isinstance(stmt, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Expr, cst.Return)):
            return self.small(stmt, state)
        if isinstance(stmt, cst.If):
            return self.branch(stmt, state)
        if isinstance(stmt, (cst.For, cst.While)):
            return self.loop(stmt, state)
        if isinstance(stmt, cst.With):
            return self.block(stmt.body, state)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return state
        if isinstance(stmt, cst.Try):
            out = self.block(stmt.body, state.copy())
            for handler in stmt.handlers:
                out = out.merge(self.block(handler.body, state.copy()))
            return out
        return state

    def branch(self, stmt: cst.If, state: _State) -> _State:
        site = self.scan(stmt.test, state, GuardContext.IF)
        condition = Condition(site, True, self.depends(stmt.test, state))
        self._path.append(condition)
        then = self.block(stmt.body, state.copy())
        self._path[-1] = condition._replace(holds=False)
        if stmt.orelse is None:
            other = state
        elif isinstance(stmt.orelse, cst.If):
            other = self.statement(stmt.orelse, state.copy())
        else:
            other = self.block(stmt.orelse.body, state.copy())
        self._path.pop()
        if _terminates(stmt.body) and stmt.orelse is None:
            # `if P: return`: the rest of the enclosing block runs only where P does not hold
            self._path.append(condition._replace(holds=False))
            return state
        return then.merge(other)

    def loop(self, stmt, state: _State) -> _State:
        if isinstance(stmt, cst.While):
            site = self.scan(stmt.test, state, GuardContext.WHILE)
            bound = self.depends(stmt.test, state)
        else:
            site = self.scan(stmt.iter, state, GuardContext.EXPR)
            bound = self.eval(stmt.iter, state).deps  # `for i in range(n)`: no iteration where n is 0
        self._path.append(Condition(site, True, frozenset(bound), loop=True))
        entry = state.copy()
        if isinstance(stmt, cst.For):
            self.kill_target(stmt.target, entry)
        once = self.block(stmt.body, entry.copy())
        twice = self.block(stmt.body, entry.merge(once))
        self._path.pop()
        out = state.merge(twice)
        if stmt.orelse is not None:
            out = self.block(stmt.orelse.body, out)
        return out

    def small(self, node: cst.CSTNode, state: _State) -> _State:
        if isinstance(node, cst.Assign):
            self.scan(node.value, state, GuardContext.ASSIGN)
            for target in node.targets:
                self.assign(target.target, node.value, state)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.scan(node.value, state, GuardContext.ASSIGN)
                self.assign(node.target, node.value, state)
        elif isinstance(node, cst.AugAssign):
            self.scan(node.value, state, GuardContext.ASSIGN)
            if isinstance(node.target, cst.Name):
                name = node.target.value
                flow = self.eval(node.value, state)
                mine = state.values.get(name, _EMPTY)
                # p += offset stays a pointer; the value is a new one that depends on both
                state.values[name] = Flow(frozenset(), mine.ptrs | flow.ptrs, mine.deps | flow.deps)
        elif isinstance(node, cst.Expr):
            self.scan(node.value, state, GuardContext.EXPR)
            self.eval(node.value, state)  # a tl.store or tl.atomic_* records its access
        elif isinstance(node, cst.Return) and node.value is not None:
            self.scan(node.value, state, GuardContext.RETURN)
            self._returns = self._returns | self.eval(node.value, state)
        return state

    def kill_target(self, target: cst.CSTNode, state: _State) -> None:
        if isinstance(target, cst.Name):
            state.values[target.value] = _EMPTY
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.kill_target(element.value, state)

    def assign(self, target: cst.CSTNode, value: cst.CSTNode, state: _State) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
                evaluated = [self.eval(e.value, state) for e in value.elements]
                for element, flow in zip(target.elements, evaluated):
                    self._bind(element.value, flow, state)
            else:
                self.kill_target(target, state)
            return
        self._bind(target, self.eval(value, state), state)

    def _bind(self, target, flow: Flow, state: _State) -> None:
        if isinstance(target, cst.Name):
            state.values[target.value] = flow
        else:
            self.kill_target(target, state)

    # -- expressions --------------------------------------------------------------------------------------------
    def eval(self, node: cst.CSTNode, state: _State) -> Flow:
        """What the value of an expression is and depends on (see Flow)."""
        if isinstance(node, cst.Name):
            return state.values.get(node.value, _EMPTY)
        if isinstance(node, cst.Call):
            return self.call(node, state)
        if isinstance(node, cst.BinaryOperation):
            left, right = self.eval(node.left, state), self.eval(node.right, state)
            # pointer arithmetic keeps the pointer; the value is a new one, depending on both sides
            ptrs = left.ptrs | right.ptrs if isinstance(node.operator, (cst.Add, cst.Subtract)) else frozenset()
            return Flow(frozenset(), ptrs, left.deps | right.deps)
        if isinstance(node, cst.UnaryOperation):
            return Flow(deps=self.eval(node.expression, state).deps)
        if isinstance(node, cst.Subscript):
            return self.eval(node.value, state)  # idx[None, :] broadcasts the same ids
        if isinstance(node, cst.IfExp):
            return self.eval(node.body, state) | self.eval(node.orelse, state)
        return _EMPTY  # a comparison's truth value is no id, nor what one addresses

    def depends(self, node: cst.CSTNode, state: _State) -> frozenset:
        """The origins a test depends on (``if seq_len > 0:`` depends on the loaded length)."""
        if isinstance(node, cst.Comparison):
            parts = [node.left, *(c.comparator for c in node.comparisons)]
        elif isinstance(node, cst.BooleanOperation):
            parts = [node.left, node.right]
        elif isinstance(node, cst.UnaryOperation):
            parts = [node.expression]
        else:
            return self.eval(node, state).deps
        return frozenset().union(*(self.depends(p, state) for p in parts))

    def call(self, node: cst.Call, state: _State) -> Flow:
        func = node.func
        name = _dotted(func) or ""
        last = name.rsplit(".", 1)[-1]
        args = [a for a in node.args if a.keyword is None]
        if isinstance(func, cst.Attribute) and node.args:
            kind = _ACCESS_KINDS.get(last) or (AccessKind.ATOMIC if last.startswith("atomic_") else None)
            if kind is not None:
                return self.access(node, kind, state)
        if isinstance(func, cst.Attribute) and func.attr.value in _CAST_METHODS:
            inner = self.eval(func.value, state)  # idx.to(tl.int64)
            if inner.vals or inner.ptrs or inner.deps:
                return inner
        if last in _CAST_FUNCS and args:  # tl.cast(idx, tl.int64)
            return self.eval(args[0].value, state)
        if last == "where" and len(args) == 3:
            return self.eval(args[1].value, state) | self.eval(args[2].value, state)
        if isinstance(func, cst.Name):  # a call to another @triton.jit function
            call = self.record_call(node, func.value, state)
            summary = self.summaries(func.value)
            if summary is not None:
                return self.apply_summary(summary, call)
            return _EMPTY
        # tl.minimum(idx, n), tl.maximum(...), idx.to(...) of a new value: the result depends on the arguments
        return Flow(deps=frozenset().union(*(self.eval(a.value, state).deps for a in node.args)))

    def access(self, node: cst.Call, kind: AccessKind, state: _State) -> Flow:
        """A tl.load, tl.store or tl.atomic_*: record which pointers it addresses, with which indices, under what."""
        pointer = next((a for a in node.args if a.keyword and a.keyword.value == "pointer"), node.args[0])
        address = self.eval(pointer.value, state)
        mask_arg = next((a for a in node.args if a.keyword and a.keyword.value == "mask"), None)
        if mask_arg is None and kind is not AccessKind.LOAD and len([a for a in node.args if a.keyword is None]) > 2:
            mask_arg = [a for a in node.args if a.keyword is None][2]  # tl.store(ptr, value, mask)
        elif mask_arg is None and kind is AccessKind.LOAD and len([a for a in node.args if a.keyword is None]) > 1:
            mask_arg = [a for a in node.args if a.keyword is None][1]  # tl.load(ptr, mask)
        stored = _EMPTY
        if kind is not AccessKind.LOAD:
            value = next((a for a in node.args if a.keyword and a.keyword.value in ("value", "val")), None)
            positional = [a for a in node.args if a.keyword is None]
            value = value or (positional[1] if len(positional) > 1 else None)
            stored = self.eval(value.value, state) if value is not None else _EMPTY
        mask_site = self._site_index(mask_arg.value) if mask_arg is not None else None
        key = id(node)
        found = Access(kind, frozenset(address.ptrs), frozenset(address.deps), frozenset(stored.deps), mask_site,
                       tuple(self._path), self._order, self.code_for(node)[:200])
        old = self._accesses.get(key)
        if old is not None:  # a later loop iteration: widen what it depends on
            found = found._replace(address=old.address | found.address, stored=old.stored | found.stored)
        self._accesses[key] = found
        if kind is AccessKind.LOAD:
            loaded_vals = frozenset(loaded(p) for p in address.ptrs)
            return Flow(loaded_vals, frozenset(), loaded_vals)
        return _EMPTY

    def _site_index(self, node) -> int | None:
        site = self._sites.get(id(node))
        return site.index if site is not None else None

    def record_call(self, node: cst.Call, callee: str, state: _State) -> HelperCall:
        key = id(node)
        args = [tuple(self.eval(a.value, state)) for a in node.args if a.keyword is None and not a.star]
        kwargs = {a.keyword.value: tuple(self.eval(a.value, state)) for a in node.args if a.keyword is not None}
        call = self._calls.get(key)
        if call is None:
            call = HelperCall(callee, args, kwargs, 0, tuple(self._path))
            self._calls[key] = call
        else:  # second loop iteration: widen
            call.args = [tuple(Flow(*a) | Flow(*b)) for a, b in zip(call.args, args)]
            for k, v in kwargs.items():
                call.kwargs[k] = tuple(Flow(*call.kwargs.get(k, _EMPTY)) | Flow(*v))
        return call

    @staticmethod
    def apply_summary(summary: FunctionAnalysis, call: HelperCall) -> Flow:
        """Map a helper's return origins (in terms of its parameters) onto the caller's arguments."""
        bound: dict[str, Flow] = {}
        for name, arg in zip(summary.params, call.args):
            bound[name] = Flow(*arg)
        bound.update((k, Flow(*v)) for k, v in call.kwargs.items())

        def mapped(origins) -> set:
            out = set()
            for origin in origins:
                arg = bound.get(origin.param)
                if arg is None:
                    continue
                if origin.kind is OriginKind.PARAM:
                    out |= arg.deps
                else:
                    out |= {loaded(p) for p in arg.ptrs}
            return out

        vals = set()
        for origin in summary.returns[0]:
            arg = bound.get(origin.param)
            if arg is not None:
                vals |= arg.vals if origin.kind is OriginKind.PARAM else {loaded(p) for p in arg.ptrs}
        ptrs = {p for param in summary.returns[1] if param in bound for p in bound[param].ptrs}
        deps = mapped(summary.returns[2]) | vals
        return Flow(frozenset(vals), frozenset(ptrs), frozenset(deps))

    # -- guard sites --------------------------------------------------------------------------------------------
    def scan(self, node: cst.CSTNode, state: _State, context: GuardContext) -> int | None:
        """Find every guard site in an expression (a site's sub-expressions are part of it); the index of the site
        the whole expression is, if it is one."""
        if isinstance(node, (cst.Comparison, cst.BooleanOperation, cst.UnaryOperation, cst.BinaryOperation)):
            atoms: list[Atom] = []
            pred = self.predicate(node, state, atoms)
            if atoms:
                return self.add_site(node, pred, atoms, context)
        if isinstance(node, cst.Call):
            name = _dotted(node.func) or ""
            last = name.rsplit(".", 1)[-1]
            if isinstance(node.func, cst.Name):
                self.record_call(node, node.func.value, state)
            for arg in node.args:
                kw = arg.keyword.value if arg.keyword else None
                sub = (GuardContext.MASK if kw == "mask"
                       else GuardContext.WHERE if last == "where" and arg is node.args[0] else context)
                self.scan(arg.value, state, sub)
            self.scan(node.func, state, context)
            return None
        for child in _children(node, _SCANNED, _is_scanned):
            self.scan(child, state, context)
        return None

    def add_site(self, node, pred, atoms, context) -> int:
        key = id(node)
        if key in self._sites:  # seen on an earlier loop iteration: widen the origins
            old = self._sites[key]
            for old_atom, new_atom in zip(old.atoms, atoms):
                old_atom.left.origins |= new_atom.left.origins
                old_atom.right.origins |= new_atom.right.origins
            return old.index
        self._sites[key] = GuardSite(self.qualname, pred, atoms, self.code_for(node), context, len(self._sites),
                                     tuple(self._path), self._order)
        return len(self._sites) - 1

    def operand(self, node: cst.CSTNode, state: _State) -> Operand:
        vals = self.eval(node, state).vals
        const = _int_of(node)
        if const is None:
            const = _dotted(node)
        return Operand(set(vals), const, self.code_for(node))

    def predicate(self, node: cst.CSTNode, state: _State, atoms: list[Atom]) -> Predicate:
        if isinstance(node, cst.Comparison):
            parts = []
            left = node.left
            for pair, target in enumerate(node.comparisons):
                op = _OPS.get(type(target.operator))
                if op is None:  # `is`, `in`: not a numeric guard
                    parts.append(Opaque())
                else:
                    a, b = self.operand(left, state), self.operand(target.comparator, state)
                    if a.origins or b.origins:
                        atoms.append(Atom(a, op, b, self.cmp_index[id(node)], pair, self.code_for(node)))
                        parts.append(AtomRef(len(atoms) - 1))
                    else:
                        parts.append(Opaque())
                left = target.comparator
            return parts[0] if len(parts) == 1 else AllOf(tuple(parts))
        if isinstance(node, cst.BooleanOperation):
            kind = AllOf if isinstance(node.operator, cst.And) else AnyOf
            return kind((self.predicate(node.left, state, atoms), self.predicate(node.right, state, atoms)))
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.BitAnd, cst.BitOr)):
            kind = AllOf if isinstance(node.operator, cst.BitAnd) else AnyOf
            return kind((self.predicate(node.left, state, atoms), self.predicate(node.right, state, atoms)))
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Not, cst.BitInvert)):
            return Negation(self.predicate(node.expression, state, atoms))
        return Opaque()


_SKIP_NODES = (cst.BaseParenthesizableWhitespace, cst.Comma, cst.LeftParen, cst.RightParen, cst.EmptyLine,
               cst.Newline, cst.TrailingWhitespace, cst.Comment, cst.Name, cst.Integer, cst.Float, cst.SimpleString)


class _ComparisonOrder:
    """Numbers a function's comparisons in a pre-order walk over node fields in declaration order.

    ``ast`` declares its fields in the same order for every node that can hold a guard, so ``positions.py`` finds
    comparison *n* again by the same walk over the file's ``ast`` (and checks the operand text).  A plain walk over
    dataclass fields is several times cheaper than a libcst visitor, which rebuilds every node it visits.
    """

    @staticmethod
    def of(func: cst.FunctionDef) -> dict[int, int]:
        order: dict[int, int] = {}
        stack = [func.body]
        while stack:
            node = stack.pop()
            if type(node) is cst.Comparison:
                order[id(node)] = len(order)
            stack.extend(reversed(_children(node, _WALKED, _is_walked)))
        return order


_WALKED: dict[type, bool] = {}


def _is_walked(node) -> bool:
    return isinstance(node, cst.CSTNode) and not isinstance(node, _SKIP_NODES)


def _is_scanned(node) -> bool:
    return isinstance(node, (cst.BaseExpression, cst.Arg, cst.Element, cst.SubscriptElement, cst.Index, cst.Slice,
                             cst.DictElement))


_FIELDS: dict[type, tuple[str, ...]] = {}
# Fields that hold only whitespace, brackets and punctuation (and operator tokens): never an expression.
_LAYOUT_FIELDS = frozenset({"__slots__", "lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "comma",
                            "semicolon", "dot", "colon", "equal", "first_colon", "second_colon", "operator",
                            "leading_lines", "lines_after_decorators", "trailing_whitespace", "header", "footer",
                            "newline"})


def _children(node, cache: dict, keep) -> list:
    """The child nodes ``keep`` accepts, read straight from the node's dataclass fields in declaration order.

    libcst's ``children`` property re-visits the node with a collector and rebuilds it; reading the fields is many
    times cheaper.  ``cache`` memoises ``keep`` per node type (isinstance on libcst's ABCs is slow)."""
    kind = type(node)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(n for n in kind.__dataclass_fields__
                                      if n not in _LAYOUT_FIELDS and not n.startswith("whitespace"))
    out = []
    for name in names:
        value = getattr(node, name)
        for v in value if type(value) in (list, tuple) else (value,):
            ok = cache.get(type(v))
            if ok is None:
                ok = cache[type(v)] = keep(v)
            if ok:
                out.append(v)
    return out


# libcst's native parser recurses once per nesting level and overflows the C stack (a segfault that no handler
# catches) somewhere past 6,000 levels; ast-measured nesting above this is reported and not parsed.
MAX_NESTING = 2000


def cut_function(lines: list[str], line: int, end_line: int) -> str:
    """One function's source, cut out of its file so that it parses on its own.

    A function nested under a class or an ``if HAS_TRITON:`` keeps its indentation and gets a one-line ``if 1:``
    header instead of being dedented: dedenting breaks on lines that are not indented like the code (a comment or
    a docstring line at column 0, a backslash continuation, a form feed), and the function would be lost."""
    text = "".join(lines[line - 1:end_line])
    first = lines[line - 1] if line - 1 < len(lines) else ""
    return "if 1:\n" + text if first[:1] in (" ", "\t", "\f") else text


def _function_def(module: cst.Module) -> cst.FunctionDef | None:
    node = module.body[0] if module.body else None
    if isinstance(node, cst.If) and isinstance(node.body, cst.IndentedBlock) and node.body.body:
        node = node.body.body[0]
    return node if isinstance(node, cst.FunctionDef) else None


def analyze_functions(lines: list[str], functions, failures: list | None = None) -> dict[str, FunctionAnalysis]:
    """Analyse the given jit functions of one file (FunctionFacts), each from its own source only.  A function
    that cannot be analysed is added to ``failures`` as (FunctionFacts, reason), never dropped in silence."""
    failures = failures if failures is not None else []
    parsed: dict[str, tuple] = {}
    for fn in functions:
        if getattr(fn, "nesting", 0) > MAX_NESTING:
            failures.append((fn, f"expressions nested {fn.nesting} deep (more than {MAX_NESTING}); not analysed"))
            continue
        try:
            module = cst.parse_module(cut_function(lines, fn.line, fn.end_line))
        except cst.ParserSyntaxError as exc:
            failures.append((fn, f"libcst cannot parse it: {str(exc).splitlines()[0]}"))
            continue
        func = _function_def(module)
        if func is None:
            failures.append((fn, "its source could not be cut out of the file"))
            continue
        parsed[fn.name] = (fn, module, func)

    results: dict[str, FunctionAnalysis] = {}
    in_progress: set[str] = set()

    def summary(name: str):
        if name in results:
            return results[name]
        if name not in parsed or name in in_progress:
            return None
        return run(name)

    def run(name: str) -> FunctionAnalysis:
        fn, module, func = parsed[name]
        in_progress.add(name)
        analyzer = _FunctionAnalyzer(func, fn.qualname, module.code_for_node, summary)
        results[name] = analyzer.run()
        in_progress.discard(name)
        return results[name]

    for name in parsed:
        if name not in results:
            run(name)
    return results
