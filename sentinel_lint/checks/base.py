"""One rule, one documented unit: what it finds, why it matters, wrong and right examples, fix safety, logic.

The examples are executable: the test suite runs every ``invalid`` example and expects the rule to fire, and
every ``valid`` one and expects silence (Fixit's idea), and ``sentinel-lint explain CODE`` prints the same text
(ruff's idea).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..diagnostics import Diagnostic


@dataclass(frozen=True)
class Example:
    """Code the rule must flag (``invalid``) or leave alone (``valid``); the test harness (``testing.py``) checks
    both, and for a flagged example the message, the text the finding points at, and the text after its fix."""

    code: str
    note: str = ""
    settings: tuple = ()  # extra [tool.sentinel-lint] entries for this example, as (key, value) pairs
    expect: str = ""  # a part of the message
    span: str = ""  # the text the (first) finding points at
    fixed: str | None = None  # the whole code after `sentinel-lint fix` (with --unsafe-fixes); None: no fix
    safe: bool = True  # whether that fix is marked safe


@dataclass
class CheckContext:
    """Everything a rule may read about one file: its facts, its functions' index flow, the project resolver."""

    module: object  # ModuleFacts
    analyses: dict  # qualname -> FunctionAnalysis for this module's jit functions
    resolver: object  # Resolver
    settings: object  # Settings
    read_text: Callable[[], str | None]  # the file's text, read only when a rule needs positions
    _positions: object = None
    _def_lines: dict | None = None

    @property
    def positions(self):
        """Positions of comparisons (``model.positions.SourcePositions``), or None if the file is unreadable."""
        if self._positions is None:
            from ..model.positions import SourcePositions

            text = self.read_text()
            self._positions = SourcePositions(text) if text is not None else False
        return self._positions or None

    def def_line(self, qualname: str) -> int:
        if self._def_lines is None:
            self._def_lines = {}
            for f in self.module.functions:
                self._def_lines.setdefault(f.qualname, f.line)
        return self._def_lines.get(qualname, 0)


class Rule:
    code: str = ""
    name: str = ""
    summary: str = ""
    what: str = ""
    why: str = ""
    fix_safety: str = ""
    invalid: tuple[Example, ...] = ()
    valid: tuple[Example, ...] = ()
    reviews_suppressions = False  # True: runs after the other rules, on the file's suppression comments

    def check(self, ctx: CheckContext) -> Iterable[Diagnostic]:
        """Findings in one file with kernels."""
        return ()

    def check_suppressions(self, path: str, suppressions, ran: set[str], known: set[str]) -> Iterable[Diagnostic]:
        """Findings about a file's suppression comments, once the other rules' findings were matched with them."""
        return ()

    def explain(self) -> str:
        parts = [f"{self.code} ({self.name})", "", self.summary, "", "## What it does", self.what.strip(), "",
                 "## Why is this bad?", self.why.strip(), ""]
        for title, examples in (("## Example (flagged)", self.invalid), ("## Use instead", self.valid)):
            if examples:
                parts.append(title)
                for example in examples:
                    if example.note:
                        parts.append(f"# {example.note}")
                    parts += ["```python", example.code.strip("\n"), "```"]
                parts.append("")
        parts += ["## Fix safety", self.fix_safety.strip()]
        return "\n".join(parts) + "\n"
