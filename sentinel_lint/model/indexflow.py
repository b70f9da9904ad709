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

import libcst as cst

from .ids import Origin, OriginKind, loaded, param_value
from .sites import (AllOf, AnyOf, Atom, AtomRef, FunctionAnalysis, GuardContext, GuardSite, HelperCall, Negation,
                    Opaque, Operand, Predicate)

_OPS = {
    cst.LessThan: "<", cst.LessThanEqual: "<=", cst.GreaterThan: ">", cst.GreaterThanEqual: ">=",
    cst.Equal: "==", cst.NotEqual: "!=",
}
_CAST_METHODS = frozenset({"to", "cast"})
_CAST_FUNCS = frozenset({"cast"})
_SCANNED: dict[type, bool] = {}  # node type -> an expression part that may hold a guard


class _State:
    __slots__ = ("vals", "ptrs")

    def __init__(self, vals=None, ptrs=None):
        self.vals: dict[str, frozenset] = dict(vals or {})
        self.ptrs: dict[str, frozenset] = dict(ptrs or {})

    def copy(self) -> "_State":
        return _State(self.vals, self.ptrs)

    def merge(self, other: "_State") -> "_State":
        out = self.copy()
        for table, theirs in ((out.vals, other.vals), (out.ptrs, other.ptrs)):
            for name, origins in theirs.items():
                table[name] = table.get(name, frozenset()) | origins
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
        self._returns_vals: frozenset = frozenset()
        self._returns_ptrs: frozenset = frozenset()
        self._stores: set[str] = set()
        self._loads: set[str] = set()

    def run(self) -> FunctionAnalysis:
        state = _State({p: frozenset({param_value(p)}) for p in self.params}, {p: frozenset({p}) for p in self.params})
        self.block(self.func.body, state)
        self.result.sites = list(self._sites.values())
        self.result.calls = list(self._calls.values())
        self.result.returns = (self._returns_vals, self._returns_ptrs)
        self.result.stores_through = frozenset(self._stores)
        self.result.loads_through = frozenset(self._loads)
        return self.result

    # -- statements ---------------------------------------------------------------------------------------------
    def block(self, block, state: _State) -> _State:
        body = block.body if isinstance(block, cst.IndentedBlock) else [block]
        if isinstance(block, cst.SimpleStatementSuite):
            body = block.body
        for stmt in body:
            state = self.statement(stmt, state)
        return state

    def statement(self, stmt: cst.CSTNode, state: _State) -> _State:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                state = self.small(small, state)
            return state
        if isinstance(stmt, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Expr, cst.Return)):
            return self.small(stmt, state)
        if isinstance(stmt, cst.If):
            self.scan(stmt.test, state, GuardContext.IF)
            then = self.block(stmt.body, state.copy())
            if stmt.orelse is None:
                other = state
            elif isinstance(stmt.orelse, cst.If):
                other = self.statement(stmt.orelse, state.copy())
            else:
                other = self.block(stmt.orelse.body, state.copy())
            return then.merge(other)
        if isinstance(stmt, (cst.For, cst.While)):
            if isinstance(stmt, cst.While):
                self.scan(stmt.test, state, GuardContext.WHILE)
            else:
                self.scan(stmt.iter, state, GuardContext.EXPR)
            entry = state.copy()
            if isinstance(stmt, cst.For):
                self.kill_target(stmt.target, entry)
            once = self.block(stmt.body, entry.copy())
            twice = self.block(stmt.body, entry.merge(once))
            out = state.merge(twice)
            if stmt.orelse is not None:
                out = self.block(stmt.orelse.body, out)
            return out
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
                _, ptrs = self.eval(node.value, state)
                state.ptrs[name] = state.ptrs.get(name, frozenset()) | ptrs  # p += offset stays a pointer
                state.vals[name] = frozenset()
        elif isinstance(node, cst.Expr):
            self.scan(node.value, state, GuardContext.EXPR)
            call = node.value
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.args and (
                    call.func.attr.value == "store" or call.func.attr.value.startswith("atomic_")):
                self._stores |= self.eval(call.args[0].value, state)[1]
        elif isinstance(node, cst.Return) and node.value is not None:
            self.scan(node.value, state, GuardContext.RETURN)
            vals, ptrs = self.eval(node.value, state)
            self._returns_vals |= vals
            self._returns_ptrs |= ptrs
        return state

    def kill_target(self, target: cst.CSTNode, state: _State) -> None:
        if isinstance(target, cst.Name):
            state.vals[target.value] = frozenset()
            state.ptrs[target.value] = frozenset()
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.kill_target(element.value, state)

    def assign(self, target: cst.CSTNode, value: cst.CSTNode, state: _State) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
                evaluated = [self.eval(e.value, state) for e in value.elements]
                for element, (vals, ptrs) in zip(target.elements, evaluated):
                    self._bind(element.value, vals, ptrs, state)
            else:
                self.kill_target(target, state)
            return
        vals, ptrs = self.eval(value, state)
        self._bind(target, vals, ptrs, state)

    def _bind(self, target, vals, ptrs, state: _State) -> None:
        if isinstance(target, cst.Name):
            state.vals[target.value] = vals
            state.ptrs[target.value] = ptrs
        else:
            self.kill_target(target, state)

    # -- expressions --------------------------------------------------------------------------------------------
    def eval(self, node: cst.CSTNode, state: _State) -> tuple[frozenset, frozenset]:
        """(value origins, pointer parameters) of an expression."""
        empty = frozenset()
        if isinstance(node, cst.Name):
            return state.vals.get(node.value, empty), state.ptrs.get(node.value, empty)
        if isinstance(node, cst.Call):
            func = node.func
            name = _dotted(func) or ""
            last = name.rsplit(".", 1)[-1]
            args = [a for a in node.args if a.keyword is None]
            if last == "load" and isinstance(func, cst.Attribute) and node.args:
                ptr_arg = next((a for a in node.args if a.keyword and a.keyword.value == "pointer"), node.args[0])
                _, ptrs = self.eval(ptr_arg.value, state)
                self._loads |= ptrs
                return frozenset(loaded(p) for p in ptrs), empty
            if isinstance(func, cst.Attribute) and func.attr.value in _CAST_METHODS:
                inner = self.eval(func.value, state)  # idx.to(tl.int64)
                if inner[0] or inner[1]:
                    return inner
            if last in _CAST_FUNCS and args:  # tl.cast(idx, tl.int64)
                return self.eval(args[0].value, state)
            if last == "where" and len(args) == 3:
                a, b = self.eval(args[1].value, state), self.eval(args[2].value, state)
                return a[0] | b[0], a[1] | b[1]
            if isinstance(func, cst.Name):  # a call to another @triton.jit function
                call = self.record_call(node, func.value, state)
                summary = self.summaries(func.value)
                if summary is not None:
                    return self.apply_summary(summary, call)
            return empty, empty
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Subtract)):
            left, right = self.eval(node.left, state), self.eval(node.right, state)
            return empty, left[1] | right[1]  # pointer arithmetic keeps the pointer; the value is new
        if isinstance(node, cst.Subscript):
            return self.eval(node.value, state)  # idx[None, :] broadcasts the same ids
        if isinstance(node, cst.IfExp):
            a, b = self.eval(node.body, state), self.eval(node.orelse, state)
            return a[0] | b[0], a[1] | b[1]
        return empty, empty

    def record_call(self, node: cst.Call, callee: str, state: _State) -> HelperCall:
        key = id(node)
        args = [self.eval(a.value, state) for a in node.args if a.keyword is None and not a.star]
        kwargs = {a.keyword.value: self.eval(a.value, state) for a in node.args if a.keyword is not None}
        for _, ptrs in [*args, *kwargs.values()]:
            self._loads |= ptrs  # a helper may load through it (pointers handed on count as read)
        call = self._calls.get(key)
        if call is None:
            call = HelperCall(callee, args, kwargs, 0)
            self._calls[key] = call
        else:  # second loop iteration: widen
            call.args = [(a[0] | b[0], a[1] | b[1]) for a, b in zip(call.args, args)]
            for k, v in kwargs.items():
                old = call.kwargs.get(k, (frozenset(), frozenset()))
                call.kwargs[k] = (old[0] | v[0], old[1] | v[1])
        return call

    @staticmethod
    def apply_summary(summary: FunctionAnalysis, call: HelperCall) -> tuple[frozenset, frozenset]:
        """Map a helper's return origins (in terms of its parameters) onto the caller's arguments."""
        bound: dict[str, tuple] = {}
        for name, arg in zip(summary.params, call.args):
            bound[name] = arg
        bound.update(call.kwargs)
        vals, ptrs = set(), set()
        for origin in summary.returns[0]:
            arg = bound.get(origin.param)
            if arg is None:
                continue
            if origin.kind is OriginKind.PARAM:
                vals |= arg[0]
            else:
                vals |= {loaded(p) for p in arg[1]}
        for param in summary.returns[1]:
            if param in bound:
                ptrs |= bound[param][1]
        return frozenset(vals), frozenset(ptrs)

    # -- guard sites --------------------------------------------------------------------------------------------
    def scan(self, node: cst.CSTNode, state: _State, context: GuardContext) -> None:
        """Find every guard site in an expression; a site's sub-expressions are part of it."""
        if isinstance(node, (cst.Comparison, cst.BooleanOperation, cst.UnaryOperation, cst.BinaryOperation)):
            atoms: list[Atom] = []
            pred = self.predicate(node, state, atoms)
            if atoms:
                self.add_site(node, pred, atoms, context)
                return
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
            return
        for child in _children(node, _SCANNED, _is_scanned):
            self.scan(child, state, context)

    def add_site(self, node, pred, atoms, context) -> None:
        key = id(node)
        if key in self._sites:  # seen on an earlier loop iteration: widen the origins
            old = self._sites[key]
            for old_atom, new_atom in zip(old.atoms, atoms):
                old_atom.left.origins |= new_atom.left.origins
                old_atom.right.origins |= new_atom.right.origins
            return
        self._sites[key] = GuardSite(self.qualname, pred, atoms, self.code_for(node), context)

    def operand(self, node: cst.CSTNode, state: _State) -> Operand:
        vals, _ = self.eval(node, state)
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
