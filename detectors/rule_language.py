"""The user-rule language: a small, safe expression language parsed by Python's own `ast`
parser, checked against a whitelist of node kinds, then turned into nested Python closures
once (no `eval`, no names, no attributes).

    change("crypto:ETH", "24h") > 0.06 and funding("ETH") > 0.0005
    not (price("hk:HSI") > 25000) or value("cn:TURNOVER") < 8e11

Functions: change(id[, window]) a fraction against the previous close (24 h for crypto; the
window may be "24h", "1d" or "session", all meaning that), price(id), value(id) (a metric's
latest), funding(symbol) (the latest of `funding:<symbol>`). Operators: and, or, not,
comparisons (chains too), + - * /, unary minus. A value not known yet makes the rule undecided.
A rule is at most MAX_CHARS characters, MAX_DEPTH levels deep, its numbers MAX_DIGITS digits.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crosscurrent.catalog import default_catalog

WINDOWS = ("24h", "1d", "session")
MAX_CHARS = 2000  # a rule's length: Python's parser recurses on nesting, ours would too
MAX_DEPTH = 50  # nested operations and parentheses
MAX_DIGITS = 100  # of one number (a float has 17 significant digits)
FUNCTIONS = {"change": (1, 2), "price": (1, 1), "value": (1, 1), "funding": (1, 1)}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Eq: operator.eq, ast.NotEq: operator.ne}
_COMPARE_TEXT = "> >= < <= == !="
_LONG_NUMBER = re.compile(f"[0-9][0-9_]{{{MAX_DIGITS},}}")  # more than MAX_DIGITS digits
_OPERATOR_NAMES = {ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_ARITH: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv}


class RuleError(ValueError):
    """A rule that cannot be used: says where (1-based column) and what."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column


class Lookup(Protocol):
    def change(self, ident: str) -> float | None: ...

    def price(self, ident: str) -> float | None: ...

    def value(self, ident: str) -> float | None: ...


Node = Callable[[Lookup], float | bool | None]  # None: a value it needs is not known yet


@dataclass(frozen=True)
class Rule:
    text: str
    tree: ast.Expression
    ids: frozenset[str]
    run: Node

    def evaluate(self, lookup: Lookup) -> bool | None:
        """True or False; None while a value it needs is not known."""
        try:
            result = self.run(lookup)
        except ZeroDivisionError:
            return None
        return None if result is None else bool(result)


def _where(node: ast.AST) -> int:
    return getattr(node, "col_offset", 0) + 1


def compile_rule(text: str) -> Rule:
    """Parse and check a rule; RuleError with the column of the first problem."""
    text = text.strip()
    _check_size(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:  # offset 0: at the end of the rule
        raise RuleError(exc.offset or len(text) + 1,
                        f"syntax error: {' '.join(str(exc.msg).split())}") from None
    except (RecursionError, MemoryError):
        raise RuleError(1, f"nested more than {MAX_DEPTH} levels deep: split it into "
                        "simpler rules") from None
    except ValueError as exc:  # a NUL byte
        raise RuleError(1, f"syntax error: {exc}") from None
    _check_depth(tree)
    ids: set[str] = set()
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if id(node) in callees:
            continue  # a function's name: checked with its call
        if isinstance(node, ast.Call):
            ids.add(_check_call(node))
        elif isinstance(node, ast.Constant):
            _check_constant(node)
        elif isinstance(node, ast.Compare):
            _check_operators(node)
        elif isinstance(node, ast.Name):
            raise RuleError(_where(node), f"unknown name {node.id!r} (strings need quotes; "
                            f"functions: {', '.join(FUNCTIONS)})")
        elif not isinstance(node, ast.Expression | ast.BoolOp | ast.UnaryOp | ast.Compare |
                            ast.BinOp | ast.And | ast.Or | ast.Not | ast.USub | ast.UAdd |
                            ast.cmpop | ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Load):
            raise RuleError(_where(node), f"{type(node).__name__} is not allowed in a rule")
    _check_strings(tree.body)
    return Rule(text, tree, frozenset(ids), _compile(tree.body))


def _check_size(text: str) -> None:
    """Refuse what would make the parser or the checks recurse deep or convert huge numbers."""
    depth = 0
    for column, char in enumerate(text, start=1):
        depth += (char == "(") - (char == ")")
        if depth > MAX_DEPTH:
            raise RuleError(column, f"parentheses nested more than {MAX_DEPTH} levels deep: "
                            "split it into simpler rules")
    digits = _LONG_NUMBER.search(text)
    if digits:
        raise RuleError(digits.start() + 1, f"a number of {len(digits.group())} digits is too "
                        f"long (at most {MAX_DIGITS} digits; write large numbers as 1e12)")
    if len(text) > MAX_CHARS:
        raise RuleError(MAX_CHARS + 1, f"the rule is {len(text)} characters long (at most "
                        f"{MAX_CHARS}): split it into simpler rules")


def _check_depth(tree: ast.AST) -> None:
    """At most MAX_DEPTH nested operations (walked without recursion)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RuleError(_where(node), f"nested more than {MAX_DEPTH} levels deep: split it "
                            "into simpler rules")
        stack += [(child, depth + isinstance(child, ast.expr))
                  for child in ast.iter_child_nodes(node)]


def _check_constant(node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RuleError(_where(node), f"unsupported constant {value!r}")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise RuleError(_where(node), "a number too large for a float (at most about "
                            "1.8e308)") from None


def _check_operators(node: ast.Compare) -> None:
    for op in node.ops:
        if type(op) not in _COMPARE:
            name = _OPERATOR_NAMES.get(type(op), type(op).__name__)
            raise RuleError(_where(node), f"operator {name!r} is not allowed in a rule "
                            f"(comparisons: {_COMPARE_TEXT})")


def _check_call(node: ast.Call) -> str:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = repr(node.func.id) if isinstance(node.func, ast.Name) else "(an expression)"
        raise RuleError(_where(node), f"unknown function {name}: only "
                        f"{', '.join(FUNCTIONS)} can be called")
    name, (least, most) = node.func.id, FUNCTIONS[node.func.id]
    if node.keywords or not least <= len(node.args) <= most:
        raise RuleError(_where(node), f"{name}() takes {least}"
                        f"{'' if least == most else f' or {most}'} quoted argument(s)")
    args = []
    for arg in node.args:
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
            raise RuleError(_where(arg), f"{name}() arguments are quoted strings")
        args.append(arg.value)
    ident = f"funding:{args[0]}" if name == "funding" else args[0]
    if ident not in default_catalog():
        raise RuleError(_where(node.args[0]), f"unknown instrument id {ident!r}")
    if name == "change" and len(args) == 2 and args[1] not in WINDOWS:
        raise RuleError(_where(node.args[1]), f"window {args[1]!r} is not one of "
                        f"{', '.join(WINDOWS)}")
    return ident


def _check_strings(node: ast.AST) -> None:
    """Strings only as function arguments."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        raise RuleError(_where(node), "a string here is not a number")
    if isinstance(node, ast.Call):
        return
    for child in ast.iter_child_nodes(node):
        _check_strings(child)


def _compile(node: ast.AST) -> Node:
    """The checked expression as a closure over its parts, built once per rule. A value not
    known yet makes its whole expression None (a plain return: a rule waiting for a value is
    evaluated on every tick, and an exception costs more than the rest of it)."""
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v) for v in node.values]
        combine = all if isinstance(node.op, ast.And) else any

        def boolean(lookup: Lookup) -> bool | None:
            values = [part(lookup) for part in parts]  # every value known
            return None if None in values else combine(values)
        return boolean
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda lookup: None if (value := operand(lookup)) is None else not value
        if isinstance(node.op, ast.USub):
            return lambda lookup: None if (value := operand(lookup)) is None else -value
        return operand
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        steps = [(_COMPARE[type(op)], _compile(right))
                 for op, right in zip(node.ops, node.comparators, strict=True)]

        def compare(lookup: Lookup) -> bool | None:
            left = first(lookup)
            if left is None:
                return None
            for test, right_part in steps:
                right = right_part(lookup)
                if right is None:
                    return None
                if not test(left, right):
                    return False
                left = right
            return True
        return compare
    if isinstance(node, ast.BinOp):
        arith, left, right = _ARITH[type(node.op)], _compile(node.left), _compile(node.right)

        def binary(lookup: Lookup) -> float | None:
            a, b = left(lookup), right(lookup)
            return None if a is None or b is None else arith(a, b)
        return binary
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)
        constant = float(node.value)
        return lambda lookup: constant
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    arg = node.args[0]
    assert isinstance(arg, ast.Constant)
    name, ident = node.func.id, str(arg.value)
    if name == "funding":
        ident = f"funding:{ident}"

    def call(lookup: Lookup) -> float | None:
        found = (lookup.change(ident) if name == "change" else
                 lookup.price(ident) if name == "price" else lookup.value(ident))
        return found if found is not None and math.isfinite(found) else None
    return call
