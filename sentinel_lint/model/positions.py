"""Positions of reported comparisons, found with ``ast`` after the fact.

The index flow runs on libcst without metadata (the position provider re-generates the whole code and costs more
than the analysis).  An atom knows its function and which comparison it is in source order; this module finds the
same comparison in the file's ``ast`` (positions are free there), converts UTF-8 byte columns to characters, and
locates the operator token between the two operands.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ..source import line_offsets, split_lines

_OPERATORS = {"<", "<=", ">", ">=", "==", "!="}


@dataclass(frozen=True)
class Span:
    line: int
    col: int  # 0-based character column
    end_line: int
    end_col: int


@dataclass(frozen=True)
class AtomSpans:
    left: Span
    op: Span
    right: Span


class SourcePositions:
    def __init__(self, text: str):
        self.text = text
        self.lines = split_lines(text)
        self._offsets = line_offsets(self.lines)
        self._functions: dict[int, ast.AST] | None = None  # def line -> function node
        self._compares: dict[int, list[ast.Compare]] = {}

    def _char_col(self, line: int, byte_col: int) -> int:
        raw = self.lines[line - 1].encode("utf-8")
        return len(raw[:byte_col].decode("utf-8", errors="replace"))

    def _span(self, node: ast.AST) -> Span:
        return Span(node.lineno, self._char_col(node.lineno, node.col_offset), node.end_lineno,
                    self._char_col(node.end_lineno, node.end_col_offset))

    def compares(self, def_line: int) -> list[ast.Compare]:
        """The function's comparisons in a pre-order walk over fields in declaration order (as indexflow numbers
        them on libcst)."""
        if def_line not in self._compares:
            if self._functions is None:  # one walk of the file for all its functions, not one per finding
                self._functions = {}
                for node in ast.walk(ast.parse(self.text)):
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self._functions.setdefault(node.lineno, node)
            found: list[ast.Compare] = []
            node = self._functions.get(def_line)
            stack = list(reversed(node.body)) if node is not None else []
            while stack:
                current = stack.pop()
                if isinstance(current, ast.Compare):
                    found.append(current)
                stack.extend(reversed(list(ast.iter_child_nodes(current))))
            self._compares[def_line] = found
        return self._compares[def_line]

    def _segment(self, node: ast.AST) -> str:
        """The node's source without whitespace (ast.get_source_segment would split the whole file per call)."""
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            raw = self.lines[first].encode("utf-8")[node.col_offset:node.end_col_offset]
        else:
            raw = b"".join([self.lines[first].encode("utf-8")[node.col_offset:],
                            *(line.encode("utf-8") for line in self.lines[first + 1:last]),
                            self.lines[last].encode("utf-8")[:node.end_col_offset]])
        return "".join(raw.decode("utf-8", errors="replace").split()).strip("()")

    def atom(self, def_line: int, cmp_index: int, pair: int, left_text: str = "", right_text: str = "") -> AtomSpans | None:
        compares = self.compares(def_line)
        wanted = ("".join(left_text.split()).strip("()"), "".join(right_text.split()).strip("()"))

        def matches(node: ast.Compare) -> bool:
            operands = [node.left, *node.comparators]
            if pair + 1 >= len(operands):
                return False
            return not left_text or (self._segment(operands[pair]), self._segment(operands[pair + 1])) == wanted

        node = compares[cmp_index] if cmp_index < len(compares) else None
        if node is None or not matches(node):
            # The two walks disagree (a dict literal or keyword order): find the comparison by its text instead.
            candidates = [n for n in compares if matches(n)]
            if len(candidates) != 1:
                return None
            node = candidates[0]
        operands = [node.left, *node.comparators]
        left, right = self._span(operands[pair]), self._span(operands[pair + 1])
        op = self._operator_between(left, right)
        if op is None:
            return None
        return AtomSpans(left, op, right)

    def _operator_between(self, left: Span, right: Span) -> Span | None:
        """The comparison operator token between two operands (past parentheses, line breaks and comments)."""
        gap = self.text[self.offset(left.end_line, left.end_col):self.offset(right.line, right.col)]
        i = 0
        while i < len(gap):
            c = gap[i]
            if c == "#":  # a comment runs to the end of its line
                newline = gap.find("\n", i)
                i = len(gap) if newline == -1 else newline
            elif c in " \t\r\n\\()\f":
                i += 1
            else:
                for op in ("<=", ">=", "==", "!=", "<", ">"):
                    if gap.startswith(op, i):
                        before = gap[:i]
                        line = left.end_line + before.count("\n") + before.count("\r") - before.count("\r\n")
                        last_break = max(before.rfind("\n"), before.rfind("\r"))
                        col = (left.end_col + i) if last_break == -1 else (i - last_break - 1)
                        return Span(line, col, line, col + len(op))
                return None
        return None

    def offset(self, line: int, col: int) -> int:
        """Character offset in the text of a 1-based line and 0-based character column."""
        return self._offsets[line - 1] + col

    def source(self, start: Span, end: Span) -> str:
        """The exact text from the start of ``start`` to the end of ``end``."""
        return self.text[self.offset(start.line, start.col):self.offset(end.end_line, end.end_col)]
