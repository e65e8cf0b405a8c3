"""The declarative command table's types: a command, its arguments and their kinds.

Rule: an argument's kind is the only thing that decides whether a value is valid, and
``parse_args`` checks every argument of a command before its handler runs; so a bad
argument is one UsageError naming it, and nothing has changed. A kind also says how
the argument looks on the command line (``add_to``/``read``), gives a valid example
and a few wrong values (for the fuzz tests and docs). Booleans are strictly JSON
booleans: ``"false"`` or ``1`` is refused, never read by truthiness.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UsageError

if TYPE_CHECKING:
    from .host import NodeControl

# Whole numbers beyond this are refused before they reach SQLite (64-bit) or JSON.
MAX_INT_ARG = 2**53
# No text argument needs more (a card is ~1 KB, a description is capped lower).
MAX_TEXT_CHARS = 64 * 1024
MAX_LIST_ITEMS = 64
KEY_HEX_CHARS = 64


class Kind(Protocol):
    """What values an argument takes, on the socket (JSON) and on the command line."""

    def check(self, name: str, value: object) -> object:
        """The Python value for a JSON value that is not null. Raises UsageError."""
        ...

    def example(self) -> object:
        """A valid JSON value."""
        ...

    def wrong(self) -> tuple[object, ...]:
        """JSON values this kind refuses (wrong type or out of range)."""
        ...

    def add_to(self, parser: Any, arg: Arg) -> None:
        """Add the argument to an argparse parser (or group)."""
        ...

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        """The JSON value the command line gave (None: not given). Raises UsageError."""
        ...


class _Simple:
    """A kind whose command-line form is one flag (or positional) holding one value."""

    cli_type: Callable[[str], Any] | None = None
    cli_choices: tuple[Any, ...] | None = None

    def add_to(self, parser: Any, arg: Arg) -> None:
        options: dict[str, Any] = {"help": arg.help or None, "metavar": arg.metavar}
        if self.cli_type is not None:
            options["type"] = self.cli_type
        if self.cli_choices is not None:
            options["choices"] = self.cli_choices
            options.pop("metavar")
        if arg.positional:
            parser.add_argument(arg.name, **options)
        else:
            parser.add_argument(arg.cli_flag, dest=arg.name, required=arg.cli_required, **options)

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        return getattr(ns, arg.name)


@dataclass(frozen=True, slots=True)
class Str(_Simple):
    max_chars: int = MAX_TEXT_CHARS
    min_chars: int = 0
    stdin_dash: bool = False  # on the command line, "-" reads standard input

    def check(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise UsageError(f"{name} must be text")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise UsageError(f"{name} holds text that is not valid Unicode") from None
        if len(value) > self.max_chars:
            raise UsageError(f"{name} is longer than {self.max_chars} characters")
        if len(value.strip()) < self.min_chars:
            raise UsageError(f"{name} must not be empty")
        return value

    def example(self) -> object:
        return "x"

    def wrong(self) -> tuple[object, ...]:
        return (7, 1.5, True, ["x"], {"x": "y"}, "\ud800")

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        value = getattr(ns, arg.name)
        return sys.stdin.read() if self.stdin_dash and value == "-" else value


@dataclass(frozen=True, slots=True)
class FilePath(Str):
    """A file path; the command line makes it absolute (the node's cwd is not ours)."""

    min_chars: int = 1

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        value = getattr(ns, arg.name)
        return None if value is None else str(Path(value).absolute())


@dataclass(frozen=True, slots=True)
class Secret(Str):
    """A passphrase: on the command line a file holding it (or a prompt at a terminal)."""

    prompt: str | None = None

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        from ..keys.keystore import read_passphrase_file

        path = getattr(ns, arg.name)
        if path:
            return read_passphrase_file(path)
        if self.prompt is not None and sys.stdin.isatty():
            return getpass.getpass(self.prompt)
        return None


@dataclass(frozen=True, slots=True)
class Int(_Simple):
    min: int = -MAX_INT_ARG
    max: int = MAX_INT_ARG
    cli_type: Callable[[str], Any] | None = int

    def __post_init__(self) -> None:
        if self.max - self.min <= 2:  # a small set: argparse lists the choices
            object.__setattr__(self, "cli_choices", tuple(range(self.min, self.max + 1)))

    def check(self, name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{name} must be a whole number")
        if not self.min <= value <= self.max:
            if self.max == MAX_INT_ARG and self.min > -MAX_INT_ARG:
                raise UsageError(f"{name} must be at least {self.min}")
            if self.min == -MAX_INT_ARG:
                raise UsageError(f"{name} is out of range")
            raise UsageError(f"{name} must be between {self.min} and {self.max}")
        return value

    def example(self) -> object:
        return max(self.min, min(self.max, 1))

    def wrong(self) -> tuple[object, ...]:
        return ("1", 1.5, True, [1], self.min - 1, self.max + 1)


@dataclass(frozen=True, slots=True)
class Bool:
    """True or false, nothing else. ``negative`` adds a ``--no-x`` style flag."""

    negative: str | None = None
    only_true: bool = False  # a confirmation: false is refused with the arg's ``missing``

    def check(self, name: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false")
        return value

    def example(self) -> object:
        return self.only_true

    def wrong(self) -> tuple[object, ...]:
        return ("false", "true", 0, 1, [], {})

    def add_to(self, parser: Any, arg: Arg) -> None:
        if self.negative is None:
            parser.add_argument(arg.cli_flag, dest=arg.name, action="store_true", help=arg.help)
            return
        pair = parser.add_mutually_exclusive_group()
        pair.add_argument(
            arg.cli_flag, dest=arg.name, action="store_true", default=None, help=arg.help
        )
        pair.add_argument(self.negative, dest=arg.name, action="store_false")

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        value = getattr(ns, arg.name)
        # An unset store_true flag means "not given", so the table's default applies.
        return None if value is False and self.negative is None else value


@dataclass(frozen=True, slots=True)
class Choice(_Simple):
    values: tuple[str, ...] = ()
    upper: bool = False  # case-insensitive, stored upper-case (TLP labels)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cli_choices", self.values)
        if self.upper:
            object.__setattr__(self, "cli_type", str.upper)

    def check(self, name: str, value: object) -> str:
        if isinstance(value, str) and self.upper:
            value = value.upper()
        if not isinstance(value, str) or value not in self.values:
            raise UsageError(f"{name} must be one of {', '.join(self.values)}")
        return value

    def example(self) -> object:
        return self.values[0]

    def wrong(self) -> tuple[object, ...]:
        return (1.5, True, "no-such-choice", [self.values[0]])


@dataclass(frozen=True, slots=True)
class List:
    """A list of ``item``; on the command line a repeatable flag."""

    item: Str | Choice | Int
    min_items: int = 0
    max_items: int = MAX_LIST_ITEMS

    def check(self, name: str, value: object) -> list[Any]:
        if not isinstance(value, list):
            raise UsageError(f"{name} must be a list")
        if not self.min_items <= len(value) <= self.max_items:
            raise UsageError(f"{name} must hold {self.min_items} to {self.max_items} items")
        return [self.item.check(name, v) for v in value]

    def example(self) -> object:
        return [self.item.example()]

    def wrong(self) -> tuple[object, ...]:
        return ("x", 1.5, True, [1.5], [[]], *([[]] if self.min_items else []))

    def add_to(self, parser: Any, arg: Arg) -> None:
        options: dict[str, Any] = {"help": arg.help or None, "metavar": arg.metavar}
        if self.item.cli_choices is not None:
            options["choices"] = self.item.cli_choices
            options.pop("metavar")
        if self.item.cli_type is not None:
            options["type"] = self.item.cli_type
        parser.add_argument(
            arg.cli_flag, dest=arg.name, action="append", required=arg.cli_required, **options
        )

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        return getattr(ns, arg.name)


@dataclass(frozen=True, slots=True)
class Indicators:
    """``[kind, value]`` pairs; on the command line one repeatable flag per kind."""

    kinds: tuple[str, ...]
    max_items: int = MAX_LIST_ITEMS

    def check(self, name: str, value: object) -> list[tuple[str, str]]:
        if (
            not isinstance(value, list)
            or len(value) > self.max_items
            or not all(
                isinstance(i, list) and len(i) == 2 and all(isinstance(x, str) for x in i)
                for i in value
            )
        ):
            raise UsageError(f"{name} must be a list of [kind, value] pairs")
        return [(Str().check(name, k), Str().check(name, v)) for k, v in value]

    def example(self) -> object:
        return [["phone", "+447700900123"]]

    def wrong(self) -> tuple[object, ...]:
        return ("x", [["phone"]], [["phone", 1]], [1.5], {"phone": "1"})

    def add_to(self, parser: Any, arg: Arg) -> None:
        for kind in self.kinds:
            parser.add_argument(
                f"--{kind}", dest=f"{arg.name}_{kind}", metavar=kind.upper(), action="append"
            )

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        return [
            [kind, value]
            for kind in self.kinds
            for value in getattr(ns, f"{arg.name}_{kind}") or []
        ]


@dataclass(frozen=True, slots=True)
class Key(_Simple):
    """A node key: 64 hexadecimal characters on the wire, 32 bytes to the handler."""

    def check(self, name: str, value: object) -> bytes:
        raw = b""
        if isinstance(value, str) and len(value.strip()) == KEY_HEX_CHARS:
            try:
                raw = bytes.fromhex(value.strip())
            except ValueError:
                raw = b""
        if len(raw) != KEY_HEX_CHARS // 2:
            raise UsageError(f"{name} must be a node key: 64 hexadecimal characters")
        return raw

    def example(self) -> object:
        return "ab" * (KEY_HEX_CHARS // 2)

    def wrong(self) -> tuple[object, ...]:
        return ("nope", "ab" * 31, 1.5, True, ["ab" * 32])


@dataclass(frozen=True, slots=True)
class Arg:
    name: str  # the key in the socket's JSON object (and argparse's dest)
    kind: Kind
    help: str = ""
    required: bool = False
    default: Any = None  # the handler's value when the argument is absent or null
    flag: str | None = None  # the command line's spelling; None: --name-with-dashes
    positional: bool = False
    cli: bool = True  # False: only on the socket
    cli_required: bool = False  # argparse itself insists (the flag has no fallback)
    metavar: str | None = None
    missing: str | None = None  # the sentence when a required argument is absent
    example: Any = None  # a valid JSON value; None: the kind's
    outside: bool = False  # a valid value acts outside the node's data: fuzz sends it none
    # The command line offers these flags instead, one of them required; the flag given
    # (without dashes) becomes argument ``tag``: check's --phone P -> kind, value.
    one_of: tuple[str, ...] = ()
    tag: str = ""

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def valid_example(self) -> object:
        return self.kind.example() if self.example is None else self.example


class ParsedArgs:
    """A command's checked arguments: every declared one, defaults filled in.

    The typed getters raise TypeError only on a programming error (asking for an
    argument as the wrong type); the values themselves were checked by their kinds.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = dict(values)

    def __repr__(self) -> str:  # names only: values may be passphrases or indicators
        return f"ParsedArgs({sorted(self._values)})"

    def _get(self, name: str, types: type | tuple[type, ...], optional: bool) -> Any:
        value = self._values[name]
        if (value is None and optional) or isinstance(value, types):
            return value
        raise TypeError(f"argument {name} is not {types}")

    def text(self, name: str) -> str:
        return self._get(name, str, False)  # type: ignore[no-any-return]

    def optional_text(self, name: str) -> str | None:
        return self._get(name, str, True)  # type: ignore[no-any-return]

    def number(self, name: str) -> int:
        return self._get(name, int, False)  # type: ignore[no-any-return]

    def optional_number(self, name: str) -> int | None:
        return self._get(name, int, True)  # type: ignore[no-any-return]

    def flag(self, name: str) -> bool:
        return self._get(name, bool, False)  # type: ignore[no-any-return]

    def optional_flag(self, name: str) -> bool | None:
        return self._get(name, bool, True)  # type: ignore[no-any-return]

    def key(self, name: str) -> bytes:
        return self._get(name, bytes, False)  # type: ignore[no-any-return]

    def optional_key(self, name: str) -> bytes | None:
        return self._get(name, bytes, True)  # type: ignore[no-any-return]

    def items(self, name: str) -> list[Any]:
        return self._get(name, list, False)  # type: ignore[no-any-return]

    def optional_items(self, name: str) -> list[Any] | None:
        return self._get(name, list, True)  # type: ignore[no-any-return]


Result = dict[str, Any]
Handler = Callable[["NodeControl", ParsedArgs], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command-line run of a command whose work happens in the CLI process."""

    data_dir: Path
    args: ParsedArgs
    json: bool

    def emit(self, result: Result, text: str) -> None:
        emit(self.json, result, text)


def emit(as_json: bool, result: Result, text: str) -> None:
    """Print ``result`` as one JSON object under --json, else ``text`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))


Runner = Callable[[Invocation], Awaitable[int]]


def _no_text(result: Result) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class Command:
    """One row of the table: a command on the socket, the command line, or both."""

    name: str  # the socket route (POST /v1/<name>); its words on the command line
    help: str
    args: tuple[Arg, ...] = ()
    handler: Handler | None = None  # the node's side; None: the CLI does the work
    runner: Runner | None = None  # the CLI's own work; None: send it to the node
    show: Callable[[Result], str] = _no_text  # the answer for people
    output: tuple[str, ...] = ()  # top-level keys every answer (and --json) holds
    cli: bool = True  # False: only on the socket
    json: bool = True  # the command line takes --json
    unlocked: bool = True  # the node refuses it while locked (before reading arguments)
    words: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.name.split(".")))

    @property
    def offline(self) -> bool:
        """Works without a running node (the CLI does all the work)."""
        return self.handler is None or self.runner is not None


def parse_args(command: Command, raw: Mapping[str, object]) -> ParsedArgs:
    """Check every argument ``command`` declares; unknown keys are ignored.

    Raises UsageError naming the first bad argument.
    """
    values: dict[str, object] = {}
    for arg in command.args:
        value = raw.get(arg.name)
        if value is None:
            if arg.required:
                raise UsageError(arg.missing or f"{arg.name} is required")
            values[arg.name] = arg.default
            continue
        checked = arg.kind.check(arg.name, value)
        if checked is False and isinstance(arg.kind, Bool) and arg.kind.only_true:
            raise UsageError(arg.missing or f"{arg.name} must be true")
        values[arg.name] = checked
    return ParsedArgs(values)
