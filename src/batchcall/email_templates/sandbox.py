"""The sandbox email templates are compiled and rendered in: Jinja2's, bounded in time and memory whatever
the template says.

A workspace admin writes the template; a worker shared by every workspace renders it for every email row,
inside the claim's transaction. Jinja2's sandbox keeps a template out of Python's internals but not off the
worker's CPU and memory: a line of nested loops, doublings or widths takes minutes or gigabytes. So:

- When a template is stored it is refused, with its line, if it uses what an email does not need and what
  lets a short template do unbounded work: macros, call blocks, block assignments, filter blocks, recursive
  loops, blocks and inheritance, includes and imports, and any filter or test outside a list of those
  whose work is in proportion to what they are given.
- Each render has a budget: its loops may take MAX_LOOP_STEPS steps (an iteration costs as many as its
  body has parts), and it may make or go through MAX_CHARS characters (what it outputs, concatenates,
  compares, filters or calls methods with, and what those make). Whatever can make more than it is given
  (a repetition, a replacement, a join, a width, a power) is sized before it runs and refused if the budget
  cannot pay for it.
- The output is streamed, and the render stopped as soon as it passes MAX_RENDERED_CHARS.

To pay for loops, comparisons, output and concatenation, which Jinja2 compiles to plain Python, the parsed
template is rewritten before it is compiled: each loop's iterable, each compared or output value, each
concatenated part and each dict key goes through a function of this module that charges the budget.
"""

import inspect
import math
import re
from collections import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import update_wrapper
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes, pass_environment, pass_eval_context
from jinja2.environment import Environment
from jinja2.exceptions import FilterArgumentError, SecurityError
from jinja2.filters import do_round, sync_do_join, sync_do_sum
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import Namespace
from markupsafe import Markup, escape, soft_str

T = TypeVar("T")

# The most a rendered part may hold; the characters one render may make or go through (what it outputs
# counts, and what it builds on the way: a part is rarely the first draft of itself); the steps its loops
# may take, a few tenths of a second of Python at most; the widest whole number it may compute (some 1,200
# digits); and the most digits it may round to.
MAX_RENDERED_CHARS = 1_000_000
MAX_CHARS = 10 * MAX_RENDERED_CHARS
MAX_LOOP_STEPS = 500_000
MAX_INT_BITS = 4096
MAX_ROUND_DIGITS = 100
# What an item of a list a template builds costs, in the characters the budget counts: its slot in the
# list and the smallest object in it take some 64 bytes, where a character of a text takes one to four.
ITEM_CHARS = 64


class _Budget:
    """What one render of one part has spent so far."""

    def __init__(self) -> None:
        self.steps = 0
        self.chars = 0

    @property
    def chars_left(self) -> int:
        return MAX_CHARS - self.chars

    def step(self, weight: int) -> None:
        self.steps += weight
        if self.steps > MAX_LOOP_STEPS:
            raise SecurityError(f"its loops take more than {MAX_LOOP_STEPS:,} steps")

    def afford(self, chars: int) -> None:
        """Refuse what would take the render past its characters, before it is made."""
        if chars > self.chars_left:
            raise SecurityError(f"it makes or reads more than {MAX_CHARS:,} characters")

    def spend(self, chars: int) -> None:
        self.afford(chars)
        self.chars += chars

    def spend_on(self, value: object) -> None:
        """Pay for going through ``value``, or for having made it."""
        self.spend(_size(value, self.chars_left))


_budget: ContextVar[_Budget] = ContextVar("email_template_budget")


def _current() -> _Budget:
    """The budget of the render under way. There is none while Jinja2 compiles, when it tries to work out
    constant expressions ahead: the LookupError tells it that it cannot, and it leaves them to the render."""
    return _budget.get()


def _size(value: object, limit: int) -> int:
    """At least how many characters ``value`` comes to written out, and how many items there are in it to
    go through: what going through it once costs. Counting stops once past ``limit``.

    A value held many times over (a tuple of itself twice, doubled thirty times over) counts every time it
    appears, as it is written out every time, but is measured once.
    """
    return _measure(value, limit, nested=False, measured={})


def _measure(value: object, limit: int, *, nested: bool, measured: dict[int, tuple[object, int]]) -> int:
    """_size of ``value``, written out within a list or a dict when ``nested``; ``measured`` keeps what has
    been, with its size (and so alive: its id cannot be another's while this counts)."""
    if isinstance(value, str) and not nested:
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        # Fewer than one decimal digit for every three bits, and a sign.
        return value.bit_length() // 3 + 2
    if isinstance(value, float):
        return 24
    if isinstance(value, range):
        return len(value)
    known = measured.get(id(value))
    if known is not None:
        return known[1]
    if isinstance(value, str):
        # Within a list or a dict a text is quoted, and an unprintable character escaped (in up to ten
        # characters, as \U000e0001).
        size = len(value) + 2 if value.isprintable() else 10 * len(value) + 2
    else:
        size = 2
        for part in _parts(value):
            size += _measure(part, limit, nested=True, measured=measured) + 2
            if size > limit:
                return size
    measured[id(value)] = (value, size)
    return size


def _parts(value: object) -> Iterable[object]:
    """What ``value`` holds and writes out with itself. Anything else a template can reach (a loop, a
    cycler, a generator, a missing value) is written out as a short fixed text, or not at all."""
    if isinstance(value, (list, tuple, set, frozenset, abc.KeysView, abc.ValuesView, abc.ItemsView)):
        return value
    if isinstance(value, dict):
        return (part for pair in value.items() for part in pair)
    if isinstance(value, Namespace):
        # A namespace is written out with everything it holds; Jinja2 keeps that under this name.
        return (object.__getattribute__(value, "_Namespace__attrs"),)
    return ()


def _counted(iterable: Iterable[T], weight: int) -> Iterator[T]:
    """``iterable`` as a loop goes through it, each item paid for as a run of the loop's body."""
    budget = _current()
    for item in iterable:
        budget.step(weight)
        yield item


def _read(value: T) -> T:
    """``value``, paid for: it is about to be compared, written out, concatenated or hashed."""
    _current().spend_on(value)
    return value


# What a template may not use, by the statement's node, with what to call it in the refusal.
_REFUSED_STATEMENTS: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.AssignBlock: "{% set %} blocks",
    nodes.FilterBlock: "{% filter %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from %}",
}


def _refuse_unbounded(
    tree: nodes.Template, filters: Mapping[str, object], tests: Mapping[str, object]
) -> None:
    """Refuse, as a syntax error at its line (the first such line), what an email template may not use."""
    refused: list[tuple[int, str]] = []
    for node in tree.find_all(nodes.Node):
        if type(node) in _REFUSED_STATEMENTS:
            refused.append((node.lineno, _REFUSED_STATEMENTS[type(node)]))
        elif isinstance(node, nodes.For) and node.recursive:
            refused.append((node.lineno, "recursive loops"))
        elif isinstance(node, nodes.Filter) and node.name not in filters:
            refused.append((node.lineno, f"the filter '{node.name}'"))
        elif isinstance(node, nodes.Test) and node.name not in tests:
            refused.append((node.lineno, f"the test '{node.name}'"))
    if refused:
        lineno, what = min(refused, key=lambda line_and_what: line_and_what[0])
        raise TemplateSyntaxError(f"an email template cannot use {what}", lineno)


def _metered(meter: Callable[..., object], *args: nodes.Node) -> nodes.Call:
    """A call of ``meter`` (a function of this module) with ``args``, as compiled code makes it."""
    call = nodes.Call(nodes.ImportedName(f"{__name__}.{meter.__name__}"), list(args), [], None, None)
    call.set_lineno(args[0].lineno)
    return call


def _meter(tree: nodes.Template) -> None:
    """Make ``tree`` pay, as it runs, for what Jinja2 compiles to plain Python: the runs of its loops, and
    the values it compares, writes out, concatenates or uses as a dict's keys."""
    metered = (nodes.For, nodes.Compare, nodes.Output, nodes.Concat, nodes.Pair, nodes.Getitem)
    for node in list(tree.find_all(metered)):
        if isinstance(node, nodes.For):
            # An iteration runs the body (and the loop's own `if`) once: as many steps as they have parts.
            parts = [*node.body, *([node.test] if node.test is not None else [])]
            weight = 1 + sum(1 + sum(1 for _ in part.find_all(nodes.Node)) for part in parts)
            node.iter = _metered(_counted, node.iter, nodes.Const(weight))
        elif isinstance(node, nodes.Compare):
            node.expr = _metered(_read, node.expr)
            for operand in node.ops:
                operand.expr = _metered(_read, operand.expr)
        elif isinstance(node, nodes.Output):
            node.nodes = [
                child if isinstance(child, nodes.TemplateData) else _metered(_read, child)
                for child in node.nodes
            ]
        elif isinstance(node, nodes.Concat):
            node.nodes = [_metered(_read, child) for child in node.nodes]
        elif isinstance(node, nodes.Pair):
            # Hashing a nested tuple is done in C, without the guard against a stack overflow.
            node.key = _metered(_read, node.key)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
            # A slice is compiled to Python's own, a copy (a subscript goes through the sandbox's getitem).
            node.node = _metered(_read, node.node)


# printf-style formatting: the characters of a directive's flags, width and precision, and what a value
# can come to beyond its size (a float written out in full: "%f" % 1e308 is 316 characters long).
_DIRECTIVE_FLAGS = frozenset("-+ #0123456789.*")
_LONGEST_NUMBER = 320


def _directives(fmt: str) -> Iterator[tuple[str, str]]:
    """The flags, width and precision, and the conversion, of each directive of the printf-style ``fmt``,
    read as Python reads them: ``%``, a mapping key in balanced parentheses, flags, width and precision,
    a length modifier (h, l or L), and the conversion."""
    at = fmt.find("%")
    while at != -1:
        at += 1
        if fmt.startswith("(", at):
            depth = 0
            while at < len(fmt):
                depth += {"(": 1, ")": -1}.get(fmt[at], 0)
                at += 1
                if depth == 0:
                    break
        start = at
        while at < len(fmt) and fmt[at] in _DIRECTIVE_FLAGS:
            at += 1
        flags = fmt[start:at]
        if fmt[at : at + 1] in ("h", "l", "L"):
            at += 1
        yield flags, fmt[at : at + 1]
        at = fmt.find("%", at + 1)


def _number(digits: str) -> int:
    significant = digits.lstrip("0")
    # Past ten digits a width is past any budget; Python would refuse to read it as a number.
    return int(significant or "0") if len(significant) <= 10 else 10**10


def _formatted(fmt: str, values: object) -> str:
    """``fmt % values``, once the budget allows for the longest text it can make: the format, and for
    each directive its widths and precisions (a ``*`` one taken from the values) and the widest value,
    escaped when ``fmt`` is Markup and written as its repr for %r and %a."""
    budget = _current()
    budget.spend_on(values)
    arguments = values if isinstance(values, tuple) else (values,)
    widest = max((_size(argument, budget.chars_left) for argument in arguments), default=0)
    widest_star = max((abs(argument) for argument in arguments if isinstance(argument, int)), default=0)
    longest = len(fmt)
    for flags, conversion in _directives(fmt):
        padding = sum(map(_number, re.findall(r"\d+", flags))) + flags.count("*") * widest_star
        growth = 10 if conversion in ("r", "a") else 5 if isinstance(fmt, Markup) else 1
        longest += padding + growth * widest + _LONGEST_NUMBER
    budget.afford(longest)
    formatted = fmt % values
    budget.spend(len(formatted))
    return formatted


def _replacement_length(text: str, old: object, new: object, count: object = -1) -> int:
    """How long ``text.replace(old, new, count)`` is (0 when it refuses these arguments anyway)."""
    if not (isinstance(old, str) and isinstance(new, str) and isinstance(count, int)):
        return 0
    if isinstance(text, Markup):
        # Markup escapes what it puts in, and (in some versions of markupsafe) what it looks for.
        new = escape(new)
        matches = max(str.count(text, old), str.count(text, escape(old))) if old else len(text) + 1
    else:
        matches = text.count(old) if old else len(text) + 1
    if count >= 0:
        matches = min(matches, count)
    return len(text) + matches * max(len(new) - len(old), 0)


def _join_length(items: int, separator: str) -> int:
    """How many characters the separators of a join of ``items`` add."""
    return max(items - 1, 0) * len(separator)


def _strip_work(text: abc.Sized, chars: str) -> int:
    """What stripping ``chars`` off ``text`` costs: Python looks each character up among ``chars``."""
    return len(text) * len(chars)


def _bounded_method(
    receiver: str | list[object] | tuple[object, ...], method: Callable[..., Any]
) -> Callable[..., Any]:
    """``method`` of a text or a list, paying for going through its receiver and for what it makes, and
    sizing beforehand what a join, a replacement or a strip can make or take."""
    name = method.__name__

    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.spend_on(receiver)
        if isinstance(receiver, str) and name == "join" and len(args) == 1:
            args = (list(args[0]),)
            budget.afford(_join_length(len(args[0]), receiver))
        elif isinstance(receiver, str) and name == "replace":
            budget.afford(_replacement_length(receiver, *args))
        elif name in ("split", "rsplit", "splitlines"):
            # As many items as there are characters and one, at worst.
            budget.afford((len(receiver) + 1) * ITEM_CHARS)
        elif name in ("strip", "lstrip", "rstrip") and args and isinstance(args[0], str):
            budget.spend(_strip_work(receiver, args[0]))
        result = method(*args, **kwargs)
        budget.spend_on(result)
        return result

    return bounded


# The methods a template may call. Those of a text or a list go through it and are paid for as they do
# (join, replace and the strips sized first); those of a mapping only look up in it; the last four are a
# loop's and a cycler's. Any other (format, center, ljust, zfill, expandtabs, translate, append ...) is
# refused: its work is not in proportion to what it is given, or it changes a value.
_METHODS = frozenset(
    {
        *("capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha"),
        *("isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join"),
        *("lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex"),
        *("rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "striptags"),
        *("swapcase", "title", "unescape", "upper"),
        *("get", "items", "keys", "values"),
        *("changed", "cycle", "next", "reset"),
    }
)


def _value_at(args: tuple[Any, ...]) -> int:
    """Where in a filter's ``args`` its value is: first, after what Jinja2 passes some filters before it."""
    return next(
        (at for at, a in enumerate(args) if not isinstance(a, (Environment, EvalContext, Context))),
        len(args),
    )


def _charged(
    function: Callable[..., Any], *, builds_list: bool = False, loops: bool = False
) -> Callable[..., Any]:
    """A filter or test that goes through its value and arguments, paying for them and for its result.
    One that ``builds_list`` reserves ITEM_CHARS an item of its value before it builds the list; one that
    ``loops`` over its value in Python (select, map, unique ...) pays for each item it takes as a loop's
    step; and whatever yields items lazily pays for each it yields, however it is gone through after.
    Jinja2's marks (pass_eval_context and the like) are kept, so Jinja2 calls it as it did the original."""

    def charged(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        for argument in (*args, *kwargs.values()):
            budget.spend_on(argument)
        at = _value_at(args)
        value = args[at] if at < len(args) else None
        if builds_list and isinstance(value, abc.Sized):
            budget.afford(len(value) * ITEM_CHARS)
        if loops and isinstance(value, abc.Iterable) and not isinstance(value, abc.Mapping):
            args = (*args[:at], _counted(value, 1), *args[at + 1 :])
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):
            return _counted(result, 1)
        budget.spend_on(result)
        return result

    return update_wrapper(charged, function)


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[object], d: object = "", attribute: object = None) -> str:
    """Jinja2's join, once the budget allows for the separators."""
    items = list(value)
    separator = escape(d) if eval_ctx.autoescape else str(d)
    _current().afford(_join_length(len(items), separator))
    return sync_do_join(eval_ctx, items, d, attribute)  # type: ignore[arg-type]


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: object, old: object, new: object, count: int | None = None) -> str:
    """Jinja2's replace, once the budget allows for what it makes."""
    count = -1 if count is None else count
    text: str
    if not eval_ctx.autoescape:
        text, looked_for, put_in = str(s), str(old), str(new)
    else:
        if hasattr(old, "__html__") or (hasattr(new, "__html__") and not hasattr(s, "__html__")):
            text = escape(s)
        else:
            text = soft_str(s)
        looked_for, put_in = soft_str(old), soft_str(new)
    _current().afford(_replacement_length(text, looked_for, put_in, count))
    return text.replace(looked_for, put_in, count)


def _format(value: object, *args: object, **kwargs: object) -> str:
    """Jinja2's format: the ``%`` operator, bounded as that is."""
    if args and kwargs:
        raise FilterArgumentError("can't handle positional and keyword arguments at the same time")
    return _formatted(soft_str(value), kwargs or args)


def _trim(value: object, chars: object = None) -> str:
    """Jinja2's trim, paying for looking each character stripped up among ``chars``."""
    text = soft_str(value)
    if isinstance(chars, str):
        _current().spend(_strip_work(text, chars))
    return text.strip(chars)  # type: ignore[arg-type]


def _round(value: object, precision: object = 0, method: str = "common") -> float:
    """Jinja2's round, of a number only (it multiplies the value by a power of ten: a text or a list would
    be repeated) and to at most MAX_ROUND_DIGITS digits."""
    if not isinstance(value, (int, float, Undefined)):
        raise FilterArgumentError("round takes a number")
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise FilterArgumentError(f"round takes at most {MAX_ROUND_DIGITS} digits")
    return do_round(value, precision, method)  # type: ignore[arg-type]


@pass_environment
def _sum(
    environment: Environment, iterable: Iterable[Any], attribute: object = None, start: object = 0
) -> Any:
    """Jinja2's sum, of numbers only: adding lists up one to the next copies each of them again and again."""
    if not isinstance(start, (int, float)):
        raise FilterArgumentError("sum adds up numbers only")
    return sync_do_sum(environment, iterable, attribute, start)  # type: ignore[arg-type]


def _on_numbers(name: str, test: Callable[..., bool]) -> Callable[..., bool]:
    """Jinja2's ``test``, which takes its value modulo a number: of a text that would format it."""

    def numeric(value: object, *args: object) -> bool:
        if isinstance(value, str):
            raise FilterArgumentError(f"the test '{name}' takes a number")
        return test(value, *args)

    return numeric


# Filters whose work is in proportion to what they are given (every other is refused): some only look at
# their value; most go through it and are paid for as they do; the rest are bounded versions of Jinja2's.
_FILTERS_AT_A_GLANCE = ("attr", "count", "d", "default", "first", "last", "length")
_FILTERS_GOING_THROUGH = (
    *("abs", "capitalize", "e", "escape", "filesizeformat", "float", "forceescape", "int", "items"),
    *("lower", "max", "min", "safe", "string", "striptags", "title", "truncate", "upper", "urlencode"),
    "wordcount",
)
# Those that build a list of what they are given, and those that go through it item by item in Python.
_FILTERS_BUILDING_LISTS = ("dictsort", "groupby", "list", "reverse", "sort")
_FILTERS_LOOPING = ("map", "reject", "rejectattr", "select", "selectattr", "unique")
_FILTERS_BOUNDED: dict[str, Callable[..., Any]] = {
    "format": _format,
    "join": _join,
    "replace": _replace,
    "round": _round,
    "sum": _sum,
    "trim": _trim,
}

# Likewise tests; those that take their value modulo a number are given numbers only.
_TESTS_AT_A_GLANCE = (
    *("boolean", "callable", "defined", "escaped", "false", "filter", "float", "integer"),
    *("iterable", "mapping", "none", "number", "sameas", "sequence", "string", "test", "true"),
    "undefined",
)
_TESTS_GOING_THROUGH = (
    *("==", "!=", "<", "<=", ">", ">=", "eq", "equalto", "ge", "greaterthan", "gt", "in", "le"),
    *("lessthan", "lower", "lt", "ne", "upper"),
)
_TESTS_ON_NUMBERS = ("divisibleby", "even", "odd")


def _email_filters(jinja: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The filters an email template may use, of Jinja2's ``jinja``."""
    return {
        **{name: jinja[name] for name in _FILTERS_AT_A_GLANCE},
        **{name: _charged(jinja[name]) for name in _FILTERS_GOING_THROUGH},
        **{name: _charged(jinja[name], builds_list=True) for name in _FILTERS_BUILDING_LISTS},
        **{name: _charged(jinja[name], loops=True) for name in _FILTERS_LOOPING},
        **{name: _charged(function) for name, function in _FILTERS_BOUNDED.items()},
    }


def _email_tests(jinja: Mapping[str, Any]) -> dict[str, Any]:
    """The tests an email template may use, of Jinja2's ``jinja`` (which Jinja2 types as bare functions)."""
    return {
        **{name: jinja[name] for name in _TESTS_AT_A_GLANCE},
        **{name: _charged(jinja[name]) for name in _TESTS_GOING_THROUGH},
        **{name: _on_numbers(name, jinja[name]) for name in _TESTS_ON_NUMBERS},
    }


def _sequence_length(operator: str, left: object, right: object) -> int:
    """How many items (or characters) ``left + right`` or ``left * right`` makes of texts and lists."""
    sequences = (str, list, tuple)
    if operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        return len(left) + len(right)
    if operator == "*":
        if isinstance(left, sequences) and isinstance(right, int):
            return len(left) * max(right, 0)
        if isinstance(right, sequences) and isinstance(left, int):
            return len(right) * max(left, 0)
    return 0


def _product_bits(operator: str, left: object, right: object) -> int:
    """At most how many bits a product or a power of whole numbers has."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return 0
    if operator == "*":
        return left.bit_length() + right.bit_length()
    if operator == "**" and right > 0 and abs(left) > 1:
        # A power of two or more has at least a bit for each time it is multiplied: past MAX_INT_BITS
        # times there is no need to count further (nor can a float).
        return right if right > MAX_INT_BITS else int(right * math.log2(abs(left))) + 1
    return 0


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox (no attribute of Python's internals, ranges of at most 100,000), with the filters,
    tests, globals and methods an email needs, and every render within a budget (see the module)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape)
        self.filters = _email_filters(self.filters)
        self.tests = _email_tests(self.tests)
        # Not lipsum, which writes as many paragraphs as it is asked for.
        self.globals = {
            name: self.globals[name] for name in ("range", "dict", "cycler", "joiner", "namespace")
        }

    def compile_bounded(self, source: str) -> Template:
        """``source`` compiled to render within a budget; a TemplateSyntaxError if it does not parse or
        uses what an email template may not."""
        try:
            tree = self.parse(source)
            _refuse_unbounded(tree, self.filters, self.tests)
            _meter(tree)
            tree.set_environment(self)
            return self.from_string(tree)
        # Jinja2 parses and compiles by recursion, and Python compiles no more than twenty loops one
        # within another: a template nested deeper is one Jinja2 cannot compile, and says so no better.
        except (RecursionError, SyntaxError):
            raise TemplateSyntaxError("an email template cannot nest this deeply", 1) from None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _current()
        if operator == "%" and isinstance(left, str):
            return _formatted(left, right)
        budget.spend(_sequence_length(operator, left, right))
        if _product_bits(operator, left, right) > MAX_INT_BITS:
            raise SecurityError(f"it makes a whole number of more than {MAX_INT_BITS:,} bits")
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"it makes a whole number of more than {MAX_INT_BITS:,} bits")
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        # A key is hashed, all of it.
        _current().spend_on(argument)
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., Any] | None:
        """Jinja2 asks this of every attribute a template reads, before it checks that the attribute is
        safe, and gives the template what this returns instead (it was made for str.format): the one place
        that sees every method a template can call. A method not in _METHODS comes back as an undefined
        value that refuses to be called; one of a text or a list comes back bounded. (Python's own, whose
        names start with an underscore, the sandbox refuses itself.)"""
        if not inspect.isroutine(value) or value.__name__.startswith("_"):
            return None
        if value.__name__ not in _METHODS:
            return self.undefined(
                f"an email template cannot call the method '{value.__name__}'",
                name=value.__name__,
                exc=SecurityError,
            )
        receiver = getattr(value, "__self__", None)
        if isinstance(receiver, (str, list, tuple)):
            return _bounded_method(receiver, value)
        return None

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call from sandboxed code, paying for going through the arguments. The budget's own functions,
        which the sandbox has nothing to check of and are called for every value output, are called
        straight (given, in a loop or a block, only what Jinja2 adds to every call there, not theirs)."""
        if __obj is _read or __obj is _counted:
            return __obj(*args)
        budget = _current()
        for name, argument in (*enumerate(args), *kwargs.items()):
            if name not in ("_loop_vars", "_block_vars"):
                budget.spend_on(argument)
        return super().call(__context, __obj, *args, **kwargs)


def render(template: Template, values: Mapping[str, object]) -> str:
    """``template`` rendered with ``values`` within one budget, stopped as soon as its output is longer
    than MAX_RENDERED_CHARS."""
    token = _budget.set(_Budget())
    try:
        written: list[str] = []
        length = 0
        for chunk in template.generate(values):
            length += len(chunk)
            if length > MAX_RENDERED_CHARS:
                raise SecurityError(f"it renders more than {MAX_RENDERED_CHARS:,} characters")
            written.append(chunk)
        return "".join(written)
    finally:
        _budget.reset(token)
