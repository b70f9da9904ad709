"""Stages 5-7: resolve conventions, run the rules on every checked file with kernels, apply suppressions."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..checks import RULES, CheckContext
from ..config import Settings
from ..conventions import ConventionSource, ParamConvention
from ..diagnostics import Diagnostic
from ..model.ids import FunctionId, ParamId
from ..model.resolve import Resolver
from ..model.sites import FunctionAnalysis
from ..source import decode_source, read_source_bytes
from ..suppressions import apply_suppressions, parse_suppressions
from .link import Linked
from .plan import Plan
from .scan import ScanResult


@dataclass
class Checked:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    conventions: list[ParamConvention] = field(default_factory=list)  # of every kernel index parameter checked
    files_with_kernels: int = 0
    kernels: int = 0


class _FileText:
    """A checked file's text, read only if a rule needs positions or suppressions are matched."""

    def __init__(self, entry):
        self.entry = entry
        self._text: list = []

    def __call__(self) -> str | None:
        if not self._text:
            try:
                self._text.append(decode_source(read_source_bytes(self.entry.path), self.entry.display)[0])
            except OSError:
                self._text.append(None)
        return self._text[0]


def check(plan: Plan, scanned: ScanResult, linked: Linked, analyses: dict[FunctionId, FunctionAnalysis],
          settings: Settings) -> Checked:
    resolver = Resolver(linked.project, linked.graph, analyses, settings)
    by_module: dict[str, dict[str, FunctionAnalysis]] = {}
    for fn_id, analysis in analyses.items():
        by_module.setdefault(fn_id.module, {})[fn_id.qualname] = analysis
    rules = [rule for code, rule in RULES.items() if code in settings.select and not rule.reviews_suppressions]
    reviewers = [rule for code, rule in RULES.items() if code in settings.select and rule.reviews_suppressions]
    out = Checked()
    for display in plan.reported:
        result = scanned.results.get(display)
        if result is None or result.facts is None or not result.facts.kernels:
            continue
        facts = result.facts
        out.files_with_kernels += 1
        out.kernels += len(facts.kernels)
        out.conventions += _index_conventions(facts, resolver, settings)
        text = _FileText(plan.entry(display))
        ctx = CheckContext(facts, by_module.get(facts.module, {}), resolver, settings, text)
        found = [d for rule in rules for d in rule.check(ctx)]
        if found or (facts.has_suppressions and reviewers):
            source = text()
            if source is not None:
                suppressions = parse_suppressions(source)
                found = apply_suppressions(found, suppressions)
                for rule in reviewers:
                    found += rule.check_suppressions(display, suppressions, set(settings.select), set(RULES))
        out.diagnostics += found
    out.diagnostics.sort(key=Diagnostic.sort_key)
    return out


def _index_conventions(facts, resolver: Resolver, settings: Settings) -> list[ParamConvention]:
    """Index parameters always ("unknown" and why included), others where something says what they hold."""
    out = []
    for fn in facts.kernels:
        for param in fn.params:
            pc = resolver.param_convention(ParamId(facts.module, fn.qualname, param))
            if settings.is_index_param(param) or pc.launched_as or (
                    pc.convention is not None and pc.source is not ConventionSource.PACK):
                out.append(pc)
    return out
