"""Typed identities: functions, parameters, host flow-graph nodes and the origins of kernel values.

Small immutable tuples (hashing and equality in C: the flow graph looks nodes up millions of times), each with a
kind where one type has several kinds, so that nothing is ever encoded into a string and parsed back.
"""
from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from .. import codec


class FunctionId(NamedTuple):
    module: str  # dotted module name
    qualname: str  # ``Class.method`` or ``function``, unique within the module


class ParamId(NamedTuple):
    """A kernel (or jit helper) parameter."""

    module: str
    function: str  # qualname
    name: str

    @property
    def function_id(self) -> FunctionId:
        return FunctionId(self.module, self.function)


class NodeKind(IntEnum):
    LOCAL = 1  # a variable or parameter of a function (``scope`` its qualname; "" at module level)
    ARGUMENT = 2  # a value that exists only as a call argument (``torch.full(...)`` passed inline), by position
    RETURN = 3  # what a function returns (``scope`` its qualname)
    FIELD = 4  # a field read from objects of one known class (``scope`` the class)
    FIELD_SET = 5  # a field written on objects of one known class: read there, and through its bases and subclasses
    FIELD_READ = 6  # a field read from an object of unknown class: it sees every class's field of that name
    FIELD_WRITE = 7  # a field written on an object of unknown class: it reaches every class's field of that name


class Node(NamedTuple):
    """A place host code keeps a value: the vertices of the flow graph."""

    kind: NodeKind
    module: str  # "" for fields: an object's fields are the same wherever it is used
    scope: str
    name: str

    @property
    def is_field(self) -> bool:
        return self.kind >= NodeKind.FIELD

    @property
    def tensor_name(self) -> str:
        """The bare name the node spells: ``state_ids`` for a local, a parameter or a field of that name."""
        return self.name.rsplit(".", 1)[-1]

    def describe(self) -> str:
        if self.kind is NodeKind.RETURN:
            return f"return of {self.scope}()"
        if self.kind in (NodeKind.FIELD, NodeKind.FIELD_SET):
            return f"field {self.scope}.{self.name}"
        if self.is_field:
            return f"field .{self.name}"
        if self.kind is NodeKind.ARGUMENT:
            return f"argument at {self.name} in {self.scope or '<module>'}"
        return f"{self.name} in {self.scope or '<module>'}"


def local(module: str, scope: str, name: str) -> Node:
    return Node(NodeKind.LOCAL, module, scope, name)


def argument(module: str, scope: str, line: int, col: int) -> Node:
    return Node(NodeKind.ARGUMENT, module, scope, f"{line}:{col}")


def returned(module: str, function: str) -> Node:
    return Node(NodeKind.RETURN, module, function, "")


def typed_field(owner: str, name: str) -> Node:
    return Node(NodeKind.FIELD, "", owner, name)


def typed_field_set(owner: str, name: str) -> Node:
    return Node(NodeKind.FIELD_SET, "", owner, name)


def field_read(name: str) -> Node:
    return Node(NodeKind.FIELD_READ, "", "", name)


def field_write(name: str) -> Node:
    return Node(NodeKind.FIELD_WRITE, "", "", name)


class OriginKind(IntEnum):
    LOAD = 1  # loaded through a pointer parameter: ``tl.load(param + i)``
    PARAM = 2  # the parameter's own value (a scalar, or a value a calling kernel loaded)


class Origin(NamedTuple):
    """Where a value inside a jit function comes from, in terms of that function's own parameters."""

    kind: OriginKind
    param: str


def loaded(param: str) -> Origin:
    return Origin(OriginKind.LOAD, param)


def param_value(param: str) -> Origin:
    return Origin(OriginKind.PARAM, param)


codec.register(FunctionId, ParamId, Node, NodeKind, Origin, OriginKind)
