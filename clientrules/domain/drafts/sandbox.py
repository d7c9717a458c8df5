"""Owner-written draft templates, checked and filled in a Jinja sandbox (pure computation, no I/O).

An owner-edited template must not reach Python objects, run code, or exhaust
the machine. Five layers keep it so:

1. :func:`check_template` refuses, before anything is filled, a template that
   names a field outside :data:`~clientrules.domain.drafts.fields.FIELDS`
   (``jinja2.meta.find_undeclared_variables``), reads a key a record does not
   document or any attribute of anything else (``__class__``, ``items``...),
   uses a construct outside a small whitelist (no calls, macros, imports,
   includes, recursive loops, ``**``), a filter outside :data:`FILTERS`, nests
   loops deeper than :data:`MAX_LOOP_DEPTH`, or is longer than :data:`MAX_TEMPLATE_CHARS`.
2. The environment is Jinja's ``ImmutableSandboxedEnvironment`` with
   ``StrictUndefined`` (nothing is ever filled with a blank), no globals, and
   attribute access that only reads keys of the plain dicts the fields hold.
3. Repeating text or a list (``"x" * n``) is refused while filling.
4. Every fill runs on a budget (:class:`_Budget`), counted by hooks the checked
   template is rewritten with (:class:`_Metering`): each value a template
   builds stays small (text of at most :data:`MAX_TEXT_CHARS` characters, lists
   of at most :data:`MAX_LIST_LENGTH` items holding no lists, numbers within
   :data:`MAX_NUMBER`), checked before it is built; each value read, built or
   compared is counted against :data:`MAX_WORK`; loops run at most
   :data:`MAX_LOOP_ROUNDS` times in all. The work counted bounds the time a
   fill takes, and being a count, not a clock, it refuses the same template
   at ``rules check`` and at every render, however busy the machine.
5. Filling stops once the text passes :data:`MAX_DRAFT_CHARS`.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import jinja2
from jinja2 import meta, nodes
from jinja2.runtime import Context, LoopContext
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer

from clientrules.domain.errors import DraftError
from clientrules.domain.drafts.fields import FIELDS, FieldDoc
from clientrules.domain.suggestions import did_you_mean

MAX_TEMPLATE_CHARS = 20_000
MAX_DRAFT_CHARS = 20_000
MAX_LOOP_DEPTH = 2
#: how deep parts of a template may sit inside one another (brackets, filters, sums, ifs)
MAX_NESTING = 100
#: the longest text a template may build (with ``~``, ``+`` or a filter)
MAX_TEXT_CHARS = MAX_DRAFT_CHARS
#: the longest list a template may build
MAX_LIST_LENGTH = 1_000
#: the largest number a template may compute (a thousand million million)
MAX_NUMBER = 10**15
#: characters (and items) one fill may read, build and compare, all told
MAX_WORK = 1_000_000
#: rounds of every loop of one fill, all told
MAX_LOOP_ROUNDS = 10_000
#: the work one part of a template (a name, a test, a sum...) costs each round of a loop, in characters read
_STEP_WORK = 40
#: text filters only: none takes a size that could make a huge text (center, indent) or reaches attributes (map, attr)
FILTERS = (
    "abs", "capitalize", "default", "d", "first", "float", "int", "join", "last", "length", "count",
    "lower", "max", "min", "reverse", "round", "sort", "sum", "title", "trim", "truncate", "unique",
    "upper", "wordcount",
)
LOOP_KEYS = ("index", "index0", "revindex", "revindex0", "first", "last", "length")
_ALLOWED = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.For, nodes.If, nodes.CondExpr, nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
    nodes.FloorDiv, nodes.Concat, nodes.Assign, nodes.List, nodes.Tuple, nodes.Keyword,
)
_CONSTRUCTS = {
    nodes.Call: "calling a function",
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "including another template",
    nodes.Import: "importing",
    nodes.FromImport: "importing",
    nodes.Extends: "extending another template",
    nodes.Block: "blocks",
    nodes.Pow: "'**'",
    nodes.Mod: "'%'",
    nodes.FilterBlock: "filter blocks",
    nodes.With: "with blocks",
}


class _DraftEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox: plain values only, keys of plain dicts (and a loop's counters) as attributes, no repetition of text,
    arithmetic and joining on the fill's budget."""

    intercepted_binops = frozenset({"*", "+", "-", "/", "//"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and isinstance(attribute, str) and attribute in obj:
            return obj[attribute]
        if isinstance(obj, LoopContext) and attribute in LOOP_KEYS:
            return getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) or (isinstance(obj, (list, tuple, str)) and isinstance(argument, (int, slice))):
            try:
                return obj[argument]
            except (IndexError, KeyError, TypeError):
                pass
        return self.undefined(obj=obj, name=argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and not (_is_number(left) and _is_number(right)):
            raise SecurityError("repeating text or lists with '*' is not allowed")
        budget = _budget(context)
        budget.spend(_STEP_WORK)  # checked arithmetic is the slowest step: paid for again beyond its loop's rounds
        for operand in (left, right):
            budget.check(operand)
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            budget.check_size(left, len(left) + len(right))
            budget.spend(len(left) + len(right))
        return budget.built(super().call_binop(context, operator, left, right))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Budget:
    """What one fill may still do (see the module): its work and loop rounds left; refuses what would overspend."""

    def __init__(self) -> None:
        self.work = MAX_WORK
        self.rounds = MAX_LOOP_ROUNDS

    def spend(self, work: int) -> None:
        self.work -= work
        if self.work < 0:
            raise DraftError(f"the draft does too much work: it reads or builds over {MAX_WORK:,} characters")

    def read(self, value: Any) -> Any:
        """``value``, its size counted: every value a template uses again is paid for again."""
        self.spend(_size(value, self.work + 1))
        return value

    def built(self, value: Any) -> Any:
        """``value``, a value just built, checked against the limits of what a template builds and paid for."""
        self.check(value)
        if isinstance(value, (list, tuple)) and any(isinstance(item, (list, tuple)) for item in value):
            raise DraftError("a list in a draft cannot hold lists")
        return self.read(value)

    def check(self, value: Any) -> None:
        if isinstance(value, (str, list, tuple)):
            self.check_size(value, len(value))
        elif _is_number(value) and not abs(value) <= MAX_NUMBER:  # so that NaN is refused too
            raise DraftError(f"a number in a draft is at most {MAX_NUMBER:,}")

    @staticmethod
    def check_size(value: str | list[Any] | tuple[Any, ...], size: int) -> None:
        if isinstance(value, str) and size > MAX_TEXT_CHARS:
            raise DraftError(f"a text in a draft is at most {MAX_TEXT_CHARS:,} characters")
        if not isinstance(value, str) and size > MAX_LIST_LENGTH:
            raise DraftError(f"a list in a draft has at most {MAX_LIST_LENGTH:,} items")

    def loop(self, values: Any, cost: int) -> Any:
        """``values`` one by one, each round of the loop paid for (``cost``: the size of its body)."""
        for value in values:
            self.rounds -= 1
            if self.rounds < 0:
                raise DraftError(f"the draft's loops run over {MAX_LOOP_ROUNDS:,} times in all")
            self.spend(cost)
            yield value


#: where a fill's budget sits in its context: a name no template can write
_BUDGET = "budget of this fill"


def _budget(context: Context) -> _Budget:
    budget = context.parent[_BUDGET]
    assert isinstance(budget, _Budget)
    return budget


def _size(value: Any, limit: int) -> int:
    """About how many characters ``value`` is written with (an upper bound up to escapes), counted up to ``limit``."""
    size = 0
    waiting = [value]
    while waiting and size < limit:
        item = waiting.pop()
        if isinstance(item, str):
            size += len(item) + 4  # quotes and a separator, when inside a list
        elif isinstance(item, (list, tuple)):
            size += 2
            waiting.extend(item)
        elif isinstance(item, Mapping):
            size += 2
            waiting.extend(item.keys())
            waiting.extend(item.values())
        else:
            size += 8
    return size


@pass_context
def _read(context: Context, value: Any) -> Any:
    return _budget(context).read(value)


@pass_context
def _built(context: Context, value: Any) -> Any:
    return _budget(context).built(value)


@pass_context
def _joined(context: Context, values: list[Any]) -> str:
    """``a ~ b ~ c``: the text of each value, joined, checked for size before it is written."""
    budget = _budget(context)
    size = sum(_size(value, MAX_TEXT_CHARS + 1) for value in values)
    budget.spend(size)
    budget.check_size("", size)
    text: str = budget.built("".join(str(value) for value in values))
    return text


@pass_context
def _rounds(context: Context, values: Any, cost: int) -> Any:
    return _budget(context).loop(values, cost)


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """What ``{{ value }}`` writes: refused before a huge list is written out."""
    if _size(value, MAX_DRAFT_CHARS + 1) > MAX_DRAFT_CHARS:
        raise DraftError(f"the filled draft is too long (over {MAX_DRAFT_CHARS:,} characters)")
    return value


_METERS = {"_read": _read, "_built": _built, "_joined": _joined, "_rounds": _rounds}


def _environment() -> _DraftEnvironment:
    environment = _DraftEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize
    )
    environment.globals.clear()
    environment.filters = {name: environment.filters[name] for name in FILTERS} | _METERS
    return environment


ENVIRONMENT = _environment()


def check_template(text: str) -> list[str]:
    """Every problem of a template text, one line each (empty: it can be used)."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return [f"too long: {len(text):,} characters (at most {MAX_TEMPLATE_CHARS:,})"]
    try:
        tree = ENVIRONMENT.parse(text)
    except jinja2.TemplateSyntaxError as error:
        return [f"line {error.lineno}: {error.message}"]
    except RecursionError:
        return [f"nested too deeply (at most {MAX_NESTING} levels)"]
    problems = _Checker().problems_of(tree)  # first: it evaluates nothing
    if problems:
        return problems
    try:
        undeclared = meta.find_undeclared_variables(tree)
    except jinja2.TemplateError as error:
        return [f"line {getattr(error, 'lineno', 1)}: {error.message}"]
    return [
        f"unknown field {name!r}{did_you_mean(name, list(FIELDS))}" for name in sorted(undeclared) if name not in FIELDS
    ]


@functools.lru_cache(maxsize=64)
def _compiled(text: str) -> jinja2.Template:
    problems = check_template(text)
    if problems:
        raise DraftError(problems[0])
    metered = _Metering().visit(ENVIRONMENT.parse(text))
    assert isinstance(metered, nodes.Template)
    return ENVIRONMENT.from_string(metered)


def fill(text: str, fields: Mapping[str, Any]) -> str:
    """The template ``text`` filled with ``fields`` (raises :class:`DraftError` with one line saying why not)."""
    template = _compiled(text)
    size = 0
    parts: list[str] = []
    try:
        for part in template.generate({**fields, _BUDGET: _Budget()}):
            size += len(part)
            if size > MAX_DRAFT_CHARS:
                raise DraftError(f"the filled draft is too long (over {MAX_DRAFT_CHARS:,} characters)")
            parts.append(part)
    except jinja2.UndefinedError as error:
        raise DraftError(f"a value is missing: {error.message}") from None
    except SecurityError as error:
        raise DraftError(str(error)) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as error:
        raise DraftError(f"cannot be filled: {error}") from None
    return "".join(parts)


class _Shape:
    """What an expression is, as far as reading keys goes: a record with keys, a list of them, or neither."""

    def __init__(self, keys: Mapping[str, str] | None = None, *, is_list: bool = False, loop: bool = False) -> None:
        self.keys = keys
        self.is_list = is_list
        self.loop = loop


_PLAIN = _Shape()


def _field_shape(doc: FieldDoc) -> _Shape:
    return _Shape(doc.keys, is_list=isinstance(doc.example, list))


class _Checker:
    """Walks a parsed template: allowed constructs, filters, keys read, loop depth."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.scopes: list[dict[str, _Shape]] = [{name: _field_shape(doc) for name, doc in FIELDS.items()}]
        self.depth = 0
        self.nesting = 0

    def problems_of(self, tree: nodes.Template) -> list[str]:
        self.visit(tree)
        return list(dict.fromkeys(self.problems))

    def refuse(self, node: nodes.Node, problem: str) -> None:
        self.problems.append(f"line {node.lineno}: {problem}")

    def shape(self, node: nodes.Node) -> _Shape:
        if isinstance(node, nodes.Name):
            return next((scope[node.name] for scope in reversed(self.scopes) if node.name in scope), _PLAIN)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
            return self.shape(node.node)
        if isinstance(node, (nodes.Getitem, nodes.Getattr)):
            outer = self.shape(node.node)
            return _Shape(outer.keys) if outer.is_list else _PLAIN
        if isinstance(node, nodes.Filter) and node.name in ("sort", "reverse", "unique") and node.node is not None:
            return self.shape(node.node)
        if isinstance(node, nodes.Filter) and node.name in ("first", "last") and node.node is not None:
            outer = self.shape(node.node)
            return _Shape(outer.keys) if outer.is_list else _PLAIN
        return _PLAIN

    def visit(self, node: nodes.Node) -> None:
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                self.refuse(node, f"nested too deeply (at most {MAX_NESTING} levels)")
            else:
                self.visit_allowed(node)
        finally:
            self.nesting -= 1

    def visit_allowed(self, node: nodes.Node) -> None:
        kind = type(node)
        if kind in _CONSTRUCTS:
            self.refuse(node, f"not allowed in a draft: {_CONSTRUCTS[kind]}")
            return
        if not isinstance(node, _ALLOWED):
            self.refuse(node, f"not allowed in a draft: {kind.__name__.lower()}")
            return
        if isinstance(node, nodes.Name) and node.ctx == "load" and not any(node.name in s for s in self.scopes):
            self.refuse(node, f"unknown field {node.name!r}{did_you_mean(node.name, list(FIELDS))}")
        elif isinstance(node, nodes.Getattr):
            self.key_read(node, node.attr)
        elif isinstance(node, nodes.Getitem):
            self.item_read(node)
        elif isinstance(node, nodes.Filter) and node.name not in FILTERS:
            self.refuse(node, f"filter {node.name!r} is not allowed{did_you_mean(node.name, list(FILTERS))}")
        elif isinstance(node, nodes.For):
            self.loop(node)
            return
        elif isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            self.scopes[-1][node.target.name] = self.shape(node.node)
        for child in node.iter_child_nodes():
            self.visit(child)

    def key_read(self, node: nodes.Getattr | nodes.Getitem, key: str) -> None:
        shape = self.shape(node.node)
        if shape.loop:
            if key not in LOOP_KEYS:
                self.refuse(node, f"loop.{key} is not allowed; use one of {', '.join(LOOP_KEYS)}")
        elif shape.keys is None or shape.is_list:
            what = node.node.name if isinstance(node.node, nodes.Name) else "this value"
            self.refuse(node, f"{what} has no key {key!r}: only the records of a list field have keys")
        elif key not in shape.keys:
            self.refuse(node, f"unknown key {key!r}{did_you_mean(key, list(shape.keys))}; keys: {', '.join(shape.keys)}")

    def item_read(self, node: nodes.Getitem) -> None:
        argument = node.arg
        if isinstance(argument, nodes.Const) and isinstance(argument.value, str):
            self.key_read(node, argument.value)
        elif isinstance(argument, nodes.Slice) or (
            isinstance(argument, nodes.Const) and isinstance(argument.value, int)
        ):
            if not self.shape(node.node).is_list:
                self.refuse(node, "only a list field can be indexed, as in late_invoices[0]")
        else:
            self.refuse(node, "an index must be a number or a key written out, as in late_invoices[0]")

    def loop(self, node: nodes.For) -> None:
        if node.recursive:
            self.refuse(node, "recursive loops are not allowed in a draft")
            return
        if not isinstance(node.target, nodes.Name):
            self.refuse(node, "a loop takes one name, as in {% for invoice in late_invoices %}")
            return
        if self.depth >= MAX_LOOP_DEPTH:
            self.refuse(node, f"loops nest at most {MAX_LOOP_DEPTH} deep in a draft")
            return
        self.visit(node.iter)
        outer = self.shape(node.iter)
        self.scopes.append({node.target.name: _Shape(outer.keys) if outer.is_list else _PLAIN, "loop": _Shape(loop=True)})
        self.depth += 1
        for child in (*node.body, *((node.test,) if node.test else ())):
            self.visit(child)
        self.depth -= 1
        self.scopes.pop()
        for child in node.else_:
            self.visit(child)



class _Metering(NodeTransformer):
    """Rewrites a checked template so each fill pays for what it does (see :class:`_Budget`): every name and text
    read, every value built by a filter or a list, every ``~`` and every round of a loop goes through a meter."""

    def visit_Name(self, node: nodes.Name) -> nodes.Node:
        return _meter("_read", node) if node.ctx == "load" else node

    def visit_Const(self, node: nodes.Const) -> nodes.Node:
        return _meter("_read", node) if isinstance(node.value, str) else node

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        return _meter("_built", self.generic_visit(node))

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return _meter("_built", self.generic_visit(node))

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        visited = self.generic_visit(node)
        return _meter("_built", visited) if node.ctx == "load" else visited

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        operands = [self.visit(operand) for operand in node.nodes]
        return _meter("_joined", nodes.List(operands, lineno=node.lineno))

    def visit_For(self, node: nodes.For) -> nodes.Node:
        steps = 1 + sum(_body_size(child) for child in (*node.body, *((node.test,) if node.test else ())))
        visited = self.generic_visit(node)
        assert isinstance(visited, nodes.For)
        visited.iter = _meter("_rounds", visited.iter, nodes.Const(steps * _STEP_WORK, lineno=node.lineno))
        return visited


def _meter(name: str, node: nodes.Node, *arguments: nodes.Node) -> nodes.Filter:
    return nodes.Filter(node, name, list(arguments), [], None, None, lineno=node.lineno)


def _body_size(node: nodes.Node) -> int:
    """How many nodes one round of a loop runs through, at most (an inner loop's rounds pay for themselves)."""
    if isinstance(node, nodes.For):
        return 1 + _body_size(node.iter) + sum(_body_size(child) for child in node.else_)
    return 1 + sum(_body_size(child) for child in node.iter_child_nodes())
