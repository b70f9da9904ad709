"""Stage 3, link: the project's modules, static constants and callees, and the host value-flow graph."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings, engine_constants
from ..model.flow import FlowGraph
from ..model.project import Project
from .plan import Plan
from .scan import ScanResult, WorkerState, on_demand_loader


@dataclass
class Linked:
    project: Project
    graph: FlowGraph | None  # None with inference off


def link(plan: Plan, scanned: ScanResult, settings: Settings, state: WorkerState) -> Linked:
    modules = [r.facts for r in scanned.results.values() if r.facts is not None]
    project = Project(modules, loader=on_demand_loader(scanned, state), external_constants=engine_constants())
    graph = FlowGraph(project, plan.infers_from, settings.is_index_param).build() if settings.infer else None
    return Linked(project, graph)
