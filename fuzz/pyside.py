"""Python values for the fuzzer: a seeded generator, the objects with hostile dunder
methods it puts in them, and the model of what crossing into JavaScript does to a value
(docs/conversions.md, "Python to JavaScript", then "to_py()" on the way back).
"""
from __future__ import annotations

import array
import concurrent.futures
import ctypes
import math
import random
import struct
from typing import Any

import pymport_py as node

from oracle import (NO_VALUE, AnyJSObject, AnyValue, Expect, Promise, Raised, Same, View, show,
                    too_deep)

MAX_SAFE = 2 ** 53


# ---- exceptions that hooks raise ----

class FuzzError(Exception):
    """Raised by the hostile dunder methods (and its subclasses below)."""


class FuzzLookupError(LookupError):
    pass


class FuzzBaseException(BaseException):
    pass


HOOK_EXCEPTIONS = [FuzzError, FuzzError, FuzzError, FuzzLookupError, ValueError, TypeError,
                   KeyError, AttributeError, RecursionError, FuzzBaseException, KeyboardInterrupt,
                   SystemExit]


def new_exception(rng: random.Random, tag: str) -> BaseException:
    kind = rng.choice(HOOK_EXCEPTIONS)
    text = rng.choice([f"hook {tag}", f"hook {tag} \ud800 lone", "", f"{tag}" * 3])
    return kind(text) if text else kind()


# ---- hostile objects ----
# Each keeps the exception its hooks raise in `fuzz_exc`; _Model below says what converting
# each does (and so which of those exceptions may come out).

class _Hook:
    fuzz_exc: BaseException

    def fuzz_describe(self) -> str:
        return f"{type(self).__name__}(raises={type(self.fuzz_exc).__name__}{self.fuzz_exc.args!r})"


class IterRaisingList(list):
    """A list whose __iter__, __len__ and __getitem__ raise."""

    def __iter__(self):
        raise self.fuzz_exc

    def __len__(self):
        raise self.fuzz_exc

    def __getitem__(self, i):
        raise self.fuzz_exc


class IterRaisingTuple(tuple):
    def __iter__(self):
        raise self.fuzz_exc

    def __len__(self):
        raise self.fuzz_exc


class IterRaisingSet(set):
    def __iter__(self):
        raise self.fuzz_exc


class IterRaisingFrozenset(frozenset):
    def __iter__(self):
        raise self.fuzz_exc


class LyingDict(dict):
    """A dict whose mapping methods raise: a copy reads the dict itself."""

    def __iter__(self):
        raise self.fuzz_exc

    def keys(self):
        raise self.fuzz_exc

    def items(self):
        raise self.fuzz_exc

    def __getitem__(self, k):
        raise self.fuzz_exc

    def __len__(self):
        raise self.fuzz_exc


class LyingInt(int):
    """Converted by its int value, never its methods (tests/test_conversions.py)."""

    def __index__(self):
        raise self.fuzz_exc

    def __int__(self):
        raise self.fuzz_exc

    def __abs__(self):
        raise self.fuzz_exc

    def bit_length(self):
        raise self.fuzz_exc

    def __repr__(self):
        raise self.fuzz_exc


class LyingFloat(float):
    def __float__(self):
        raise self.fuzz_exc

    def __repr__(self):
        raise self.fuzz_exc


class LyingStr(str):
    def __str__(self):
        raise self.fuzz_exc

    def __len__(self):
        raise self.fuzz_exc

    def encode(self, *args, **kwargs):
        raise self.fuzz_exc


class LyingBytes(bytes):
    def __bytes__(self):
        raise self.fuzz_exc

    def __len__(self):
        raise self.fuzz_exc


class Hostile(_Hook):
    """An object passed by reference whose chosen dunders raise; the others answer with
    values that say which method answered. JavaScript reaches them through the PyObject
    API (String(p), p.get, p.length, [...p], inspect)."""

    def __init__(self, exc: BaseException, raising: frozenset[str], tag: int):
        self.fuzz_exc = exc
        self.raising = raising
        self.tag = tag

    def _hook(self, name: str) -> None:
        if name in self.raising:
            raise self.fuzz_exc

    def __str__(self):
        self._hook("__str__")
        return f"str {self.tag}"

    def __repr__(self):
        self._hook("__repr__")
        return f"repr {self.tag}"

    def __len__(self):
        self._hook("__len__")
        return self.tag

    def __iter__(self):
        self._hook("__iter__")
        return iter(range(self.tag % 5))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._hook("__getattr__")
        return f"attr {name}"

    def __getitem__(self, key):
        self._hook("__getitem__")
        return f"item {key!r}"

    def __bool__(self):
        self._hook("__bool__")
        return True

    def __hash__(self):
        self._hook("__hash__")
        return self.tag

    def __eq__(self, other):
        self._hook("__eq__")
        return self is other

    def fuzz_describe(self) -> str:
        return (f"Hostile(tag={self.tag}, raising={sorted(self.raising)}, "
                f"raises={type(self.fuzz_exc).__name__}{self.fuzz_exc.args!r})")


HOSTILE_DUNDERS = ["__str__", "__repr__", "__len__", "__iter__", "__getattr__", "__getitem__",
                   "__bool__", "__hash__", "__eq__"]


class RaisingCallable(_Hook):
    """A callable (a JavaScript function in JS) whose call raises."""

    def __init__(self, exc: BaseException):
        self.fuzz_exc = exc

    def __call__(self, *args):
        raise self.fuzz_exc


class NamelessCallable(_Hook):
    """A callable whose __name__ raises or is not a str: its function is 'pyfunction'."""

    def __init__(self, exc: BaseException, name: Any):
        self.fuzz_exc = exc
        self.fuzz_name = name

    @property
    def __name__(self):
        if self.fuzz_name is None:
            raise self.fuzz_exc
        return self.fuzz_name

    def __call__(self, *args):
        return 7


class RaisingAwaitable(_Hook):
    """An awaitable whose __await__ raises: its Promise rejects with the exception."""

    def __init__(self, exc: BaseException):
        self.fuzz_exc = exc

    def __await__(self):
        raise self.fuzz_exc


class ValueAwaitable:
    """An awaitable that gives `value` at once."""

    def __init__(self, value: Any):
        self.value = value

    def __await__(self):
        return self.value
        yield  # a generator that finishes at once

    def fuzz_describe(self) -> str:
        return f"ValueAwaitable({show(self.value)})"


class ClassRaisingAwaitable(_Hook):
    """An awaitable whose __class__ raises: telling what kind of awaitable it is fails."""

    def __init__(self, exc: BaseException):
        self.fuzz_exc = exc

    @property
    def __class__(self):
        raise self.fuzz_exc

    def __await__(self):
        return None
        yield


class Mutator(_Hook):
    """A callable whose __name__ (read while the container holding it is copied) changes
    that container: clears or grows a list, adds non-str keys to a dict. The copy may be of
    the container before or after (or a dict raises RuntimeError), but must not crash."""

    def __init__(self, exc: BaseException, victim: Any, how: str):
        self.fuzz_exc = exc
        self.victim = victim
        self.how = how

    @property
    def __name__(self):
        v = self.victim
        if self.how == "clear":
            v.clear()
        elif self.how == "grow" and isinstance(v, list):
            v.extend(range(100))
        elif isinstance(v, dict):
            v[(1, 2, 3, 4)] = 1
            v[2 ** 62] = 2
        return "mutator"

    def __call__(self, *args):
        return None

    def fuzz_describe(self) -> str:
        return f"Mutator({self.how} the {type(self.victim).__name__} holding it)"


class Plain:
    """An ordinary object: by reference. Its hash is its tag, so that sets holding it iterate
    in the same order at every run."""

    def __init__(self, tag: int = 0):
        self.tag = tag

    def __hash__(self) -> int:
        return self.tag

    def fuzz_describe(self) -> str:
        return f"Plain({self.tag})"


# ---- generator ----

INT_EDGES = [0, 1, -1, 2 ** 31 - 1, -2 ** 31, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
             2 ** 53, 2 ** 53 + 1, -(2 ** 53), -(2 ** 53) - 1, 2 ** 63 - 1, -(2 ** 63), 2 ** 63,
             2 ** 64 - 1, 2 ** 64, -(2 ** 64), 2 ** 64 + 1, 2 ** 128, -(2 ** 128) + 1, 2 ** 256 - 1]

FLOAT_EDGES = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -5e-324,
               2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
               float(2 ** 53), float(2 ** 53 + 2), -float(2 ** 53), float(2 ** 63), 1e21, 1e-7,
               0.1, 1 / 3, 0.5, -1.5, 1e300, 123456789.0]

# Code points by the UTF-16 and PyUnicode storage cases they exercise.
CODE_POINTS = [
    lambda r: r.randrange(0x20, 0x7F),              # ASCII
    lambda r: r.randrange(0, 0x20),                 # controls, NUL
    lambda r: r.randrange(0x80, 0x100),             # Latin-1 (1-byte kind)
    lambda r: r.randrange(0x100, 0xD800),           # BMP (2-byte kind)
    lambda r: r.randrange(0xD800, 0xDC00),          # lone high surrogate
    lambda r: r.randrange(0xDC00, 0xE000),          # lone low surrogate
    lambda r: r.randrange(0xE000, 0x10000),         # BMP after the surrogates
    lambda r: r.randrange(0x10000, 0x110000),       # astral (4-byte kind, a pair in JS)
]

ARRAY_CODES = "bBhHiIlLqQfd"
CTYPES = [ctypes.c_int8, ctypes.c_uint8, ctypes.c_int16, ctypes.c_uint16, ctypes.c_int32,
          ctypes.c_uint32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_float, ctypes.c_double,
          ctypes.c_bool, ctypes.c_char]


def random_str(r: random.Random) -> str:
    n = r.choice([0, 1, 2, 3, 5, 8, 13, r.randrange(0, 40), 253, 254, 255, 256, 257,
                  r.randrange(200, 600)])
    pools = r.sample(CODE_POINTS, r.randrange(1, 4))
    return "".join(chr(r.choice(pools)(r)) for _ in range(n))


def random_int(r: random.Random) -> int:
    c = r.random()
    if c < 0.3:
        return r.randrange(-1000, 1000)
    if c < 0.6:
        return r.choice(INT_EDGES) + r.choice([0, 0, 0, 1, -1])
    if c < 0.95:
        return r.getrandbits(r.randrange(1, 200)) * r.choice([1, -1])
    return r.getrandbits(r.randrange(200, 20000)) * r.choice([1, -1])


def random_float(r: random.Random) -> float:
    c = r.random()
    if c < 0.35:
        return r.choice(FLOAT_EDGES)
    if c < 0.6:
        x = struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
        return x
    if c < 0.8:
        return float(r.randrange(-2 ** 60, 2 ** 60)) * r.choice([1, 1, 0.5, 2 ** -30])
    return r.uniform(-1e6, 1e6)


class PyGen:
    """Generates one nested Python value. `known` names the known defects to exercise;
    `env` is where JSObjects in the value come from (none when `jsobjects` is false)."""

    def __init__(self, rng: random.Random, known: set[str], env: Any, jsobjects: bool = True,
                 max_nodes: int = 60):
        self.r = rng
        self.known = known
        self.env = env
        self.jsobjects = jsobjects
        self.max_nodes = max_nodes
        self.awaitables = True
        self.start()

    def start(self) -> None:
        self.left = self.max_nodes
        self.made_awaitables = 0
        self.open: list[Any] = []    # the mutable containers being filled: a cycle's targets
        self.done: list[Any] = []    # finished ones, to share (a few times: copies multiply)
        self.shares = 3

    def top(self) -> Any:
        """The value of a case."""
        state = self.r.getstate()
        v = self.value()
        if self.made_awaitables and "awaitable-in-cycle" not in self.known and \
                any(r.type is RecursionError for r in roundtrip_model(v).raises):
            # Known defect 'awaitable-in-cycle': the same draw again, without awaitables.
            self.r.setstate(state)
            self.start()
            self.awaitables = False
            v = self.value()
        return v

    def value(self, depth: int = 0, hashable: bool = False) -> Any:
        self.left -= 1
        r = self.r
        if hashable:
            return self.hashable()
        if depth >= 6 or self.left <= 0 or r.random() < 0.45:
            return self.leaf()
        return self.container(depth)

    def hashable(self) -> Any:
        r = self.r
        c = r.randrange(12)
        if c < 3:
            return random_int(r)
        if c < 5:
            return random_float(r)
        if c < 7:
            return random_str(r)
        if c == 7:
            return r.choice([None, True, False])
        if c == 8:
            return bytes(r.getrandbits(8) for _ in range(r.randrange(0, 6)))
        if c == 9:
            return Plain(r.randrange(1000))
        if c == 10:
            return tuple(self.hashable() for _ in range(r.randrange(0, 3)))
        return frozenset(self.hashable() for _ in range(r.randrange(0, 3)))

    def leaf(self) -> Any:
        r = self.r
        c = r.randrange(100)
        if c < 6:
            return None
        if c < 8:
            return node.null
        if c < 12:
            return r.choice([True, False])
        if c < 30:
            return random_int(r)
        if c < 45:
            return random_float(r)
        if c < 62:
            return random_str(r)
        if c < 67:
            return bytes(r.getrandbits(8) for _ in range(r.choice([0, 1, 5, r.randrange(0, 300)])))
        if c < 72:
            return self.buffer()
        if c < 76:
            return self.lying_scalar()
        if c < 80:
            return self.jsobject() if self.jsobjects else Plain(r.randrange(1000))
        if c < 83:
            return Plain(r.randrange(1000))
        if c < 86:
            return self.callable()
        if c < 88 and self.awaitables:
            self.made_awaitables += 1
            return self.awaitable()
        if c < 91:
            return Hostile(self.exc(), frozenset(r.sample(HOSTILE_DUNDERS, r.randrange(0, 4))),
                           r.randrange(0, 100))
        if c < 93:
            return node.ref(self.value(5))
        if c < 95:
            return {r.choice([1, 2.5, None, (1,), b"k"]): self.leaf()}  # non-str key: by reference
        if c < 96 and self.open:
            return r.choice(self.open)  # a cycle
        if c < 97 and self.done and self.shares:
            self.shares -= 1
            return r.choice(self.done)  # shared, not a cycle
        return r.choice([len, print, Plain, lambda *a: None])

    def exc(self) -> BaseException:
        return new_exception(self.r, str(self.r.randrange(1000)))

    def buffer(self) -> Any:
        r = self.r
        n = r.choice([0, 1, 2, 3, 4, 8, 16, r.randrange(0, 64)])
        data = bytes(r.getrandbits(8) for _ in range(n))
        c = r.randrange(7)
        if c == 0:
            return bytearray(data)
        if c == 1:
            code = r.choice(ARRAY_CODES)
            a = array.array(code)
            a.frombytes(data[: len(data) - len(data) % a.itemsize])
            return a
        if c == 2:
            return memoryview(data)  # read-only: a copy
        if c == 3:
            return memoryview(bytearray(data))[r.randrange(0, n + 1):]
        if c == 4:
            return memoryview(bytearray(data))[:: r.choice([2, 3, -1])]  # strided: a copy
        if c == 5:
            fmt = r.choice("bBhHiIlLqQfd?c")
            size = struct.calcsize(fmt)
            view = memoryview(bytearray(data[: n - n % size]))
            if fmt in "?":
                view = memoryview(bytearray(b % 2 for b in data))
            return view.cast(fmt)
        kind = r.choice(CTYPES)
        arr = (kind * r.randrange(0, 5))()
        ctypes.memmove(arr, data, min(len(data), ctypes.sizeof(arr)))
        return arr

    def lying_scalar(self) -> Any:
        r = self.r
        c = r.randrange(4)
        if c == 0:
            v = LyingInt(random_int(r))
        elif c == 1:
            v = LyingFloat(random_float(r))
        elif c == 2:
            v = LyingStr(random_str(r))
        else:
            v = LyingBytes(bytes(r.getrandbits(8) for _ in range(r.randrange(0, 9))))
        v.fuzz_exc = self.exc()
        return v

    def callable(self) -> Any:
        r = self.r
        c = r.randrange(3)
        if c == 0:
            return RaisingCallable(self.exc())
        if c == 1:
            return NamelessCallable(self.exc(), r.choice([None, 5, "a\ud800b", "name", "n\0ul"]))
        return r.choice([len, abs, repr, Plain])

    def awaitable(self) -> Any:
        r = self.r
        c = r.randrange(3)
        if c == 0:
            return RaisingAwaitable(self.exc())
        if c == 1:
            return ValueAwaitable(r.choice([1, "s", None, 2 ** 70, Plain(r.randrange(1000))]))
        return ClassRaisingAwaitable(self.exc())

    def jsobject(self) -> Any:
        """A JSObject made by eval: a function, a class instance, a symbol or an Array."""
        src, model = self.r.choice([
            ("(function named() {})", None), ("new (class K {})()", None), ("Symbol('s')", None),
            ("[1, 'two', 3n]", [1, "two", 3]), ("({a: [null]})", {"a": [None]}),
            ("new Map([[1, 2]])", {1: 2}), ("Buffer.from('hi')", b"hi"),
        ])
        obj = self.env.eval(src)
        obj_model = Same(obj) if model is None else model
        _JS_MODELS[id(obj)] = (obj, obj_model, src)
        return obj

    def container(self, depth: int) -> Any:
        r = self.r
        c = r.randrange(100)
        hostile = r.random() < 0.08
        if c < 35:
            v = IterRaisingList() if hostile else []
            self.open.append(v)
            v.extend(self.value(depth + 1) for _ in range(self.size()))
            self.maybe_mutator(v)
            self.done.append(self.open.pop())
        elif c < 50:
            items = [self.value(depth + 1) for _ in range(self.size())]
            v = IterRaisingTuple(items) if hostile else tuple(items)
        elif c < 80:
            v = LyingDict() if hostile else {}
            self.open.append(v)
            for _ in range(self.size()):
                v[self.key()] = self.value(depth + 1)
            self.maybe_mutator(v)
            self.done.append(self.open.pop())
        else:
            items = [self.value(depth + 1, hashable=True) for _ in range(self.size())]
            if r.random() < 0.5:
                v = IterRaisingSet(items) if hostile else set(items)
            else:
                v = IterRaisingFrozenset(items) if hostile else frozenset(items)
        if hostile:
            v.fuzz_exc = self.exc()
            while type(v.fuzz_exc) is TypeError and "iter-typeerror" not in self.known \
                    and not isinstance(v, dict):
                v.fuzz_exc = self.exc()  # known defect 'iter-typeerror'
        return v

    def maybe_mutator(self, v: Any) -> None:
        if self.r.random() < 0.03:
            how = "clear" if isinstance(v, list) and self.r.random() < 0.5 else "grow"
            if isinstance(v, list):
                v.insert(self.r.randrange(list.__len__(v) + 1), Mutator(self.exc(), v, how))
            else:
                v["mutator"] = Mutator(self.exc(), v, how)

    def size(self) -> int:
        return self.r.choice([0, 1, 1, 2, 2, 3, 4, 6, self.r.randrange(0, 12)])

    def key(self) -> str:
        r = self.r
        c = r.randrange(10)
        if c < 4:
            return r.choice("abcdefgh") + str(r.randrange(20))
        if c < 6:
            return str(r.choice([0, 1, 2, 10, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, -1, r.randrange(100)]))
        if c < 7:
            return r.choice(["01", "1.5", "-0", "", "length", "constructor", "toString", "then"]
                            + (["__proto__"] if "proto-key" in self.known else []))
        if c < 8 and "proto-key" in self.known:
            return "__proto__"
        return random_str(r)[:12]


_JS_MODELS: dict[int, tuple[Any, Any, str]] = {}  # id(JSObject) -> (it, to_py model, source)


def forget_jsobjects() -> None:
    _JS_MODELS.clear()


# ---- the model: what a value becomes after a round trip through JavaScript ----

TYPED_FORMAT = {"b": "b", "B": "B", "c": "B", "?": "B", "h": "h", "H": "H", "i": "i", "I": "I",
                "l": "q", "q": "q", "L": "Q", "Q": "Q", "f": "f", "d": "d"}
TYPED_NAME = {"b": "Int8Array", "B": "Uint8Array", "h": "Int16Array", "H": "Uint16Array",
              "i": "Int32Array", "I": "Uint32Array", "q": "BigInt64Array", "Q": "BigUint64Array",
              "f": "Float32Array", "d": "Float64Array"}


def buffer_kind(v: Any) -> tuple[str, bytes, str | None]:
    """('shared', raw bytes, format) for a buffer JavaScript sees in place as a typed array
    of that format; ('copy', bytes, None) for one copied into a Buffer."""
    m = memoryview(v)
    if not m.readonly and m.c_contiguous and m.nbytes > 0:
        fmt = m.format[1:] if m.format[:1] in "@=<" else m.format
        js = TYPED_FORMAT.get(fmt, "B") if len(fmt) == 1 else "B"
        if m.nbytes % struct.calcsize(js):
            js = "B"
        return "shared", m.tobytes(), js
    return "copy", m.tobytes(), None


def utf16(s: str) -> str:
    """What a str is after a trip through UTF-16: adjacent high and low surrogates in a
    Python str become one code point (a JS string cannot keep them apart)."""
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def number_model(x: float) -> Any:
    if math.isfinite(x) and x == math.floor(x) and abs(x) <= MAX_SAFE:
        return int(x)
    return x


class _Model:
    """Walks a Python value as the copy to JavaScript does and builds what to_py() of that
    copy gives, collecting the exceptions that may happen instead."""

    def __init__(self, returned: bool = True, nested: bool = False) -> None:
        self.raises: list[Raised] = []
        self.impossible = False  # no value can be the outcome (a cycle, an unhashable member)
        self.active: set[int] = set()
        self.returned = returned  # the value comes back as a call's result
        self.nested = nested      # inside an Array or object the channel makes
        self.changed = False      # a Mutator changes a container while it is copied

    def may_raise(self, exc: BaseException) -> None:
        self.raises.append(Raised(type(exc), obj=exc))

    def must_raise(self, r: Raised) -> None:
        self.raises.append(r)
        self.impossible = True

    def of(self, v: Any) -> Any:
        # By type, never isinstance(): that reads __class__, which a hook may override.
        t = type(v)
        if v is None or v is node.null:
            return None
        if t is bool:
            return v
        if issubclass(t, int):
            return int.__int__(v)
        if issubclass(t, float):
            return number_model(float.__float__(v))
        if issubclass(t, str):
            return utf16(str.__str__(v))
        if issubclass(t, node.JSObject):
            return self.of_jsobject(v)
        if issubclass(t, node.ref):
            inner = v.value
            if issubclass(type(inner), node.JSObject) and not (self.active or self.nested):
                return self.of_jsobject(inner)  # it comes back as itself, and unwrap copies it
            return Same(inner)
        if issubclass(t, bytes):
            return bytes(memoryview(v))
        if issubclass(t, (list, tuple, dict, set, frozenset)):
            return self.of_container(v)
        if _has_buffer(v):
            kind, raw, fmt = buffer_kind(v)
            if kind == "copy" or fmt == "B":
                return raw
            return View(fmt, tuple(memoryview(raw).cast(fmt).tolist()))
        if t is ClassRaisingAwaitable:
            self.may_raise(v.fuzz_exc)  # isinstance() reads __class__
            return Promise(Expect(None))
        if t is RaisingAwaitable:
            if self.active or self.nested or not self.returned:
                # A Promise that no call returned to Python (one inside a copy, or read back
                # from where JavaScript keeps it): its rejection is reported as unhandled, and
                # waiting for it later makes Node warn. So it is not awaited.
                return AnyJSObject
            return Promise(Expect(raises=[Raised(type(v.fuzz_exc), obj=v.fuzz_exc)]))
        if t is ValueAwaitable:
            return Promise(Expect(Same(v.value) if type(v.value) is Plain else self.of(v.value)))
        if t is Mutator:
            self.changed = True
        return Same(v)

    def of_jsobject(self, v: Any) -> Any:
        entry = _JS_MODELS.get(id(v))
        if entry is None or entry[0] is not v:
            raise RuntimeError("fuzz: a JSObject the generator did not make")
        return entry[1]

    def of_container(self, v: Any) -> Any:
        if isinstance(v, dict) and not all(isinstance(k, str) for k in dict.keys(v)):
            return Same(v)  # non-str keys: by reference
        if id(v) in self.active:
            for r in too_deep():
                self.must_raise(r)
            return None
        self.active.add(id(v))
        try:
            hook = getattr(v, "fuzz_exc", None)
            if hook is not None:
                # An overridden __iter__ of a list, tuple or set subclass may be used to read
                # it (a copy through iteration); a dict subclass is read as a dict.
                self.may_raise(hook)
            if isinstance(v, dict):
                out = {utf16(str.__str__(k)): self.of(x) for k, x in dict.items(v)}
            elif isinstance(v, (set, frozenset)):
                members = [self.of(x) for x in (set.__iter__(v) if isinstance(v, set)
                                                 else frozenset.__iter__(v))]
                out = set()
                for m in members:
                    if isinstance(m, (list, dict, set, View)):
                        self.must_raise(Raised(TypeError))  # to_py() cannot put it in a set
                        return None
                    out.add(m.obj if isinstance(m, Same) else m)
            else:
                base = list.__iter__(v) if isinstance(v, list) else tuple.__iter__(v)
                out = [self.of(x) for x in base]
            return out
        finally:
            self.active.discard(id(v))


def is_awaitable(v: Any) -> bool:
    """As the conversion tells (by type: an __await__, or a concurrent future)."""
    return hasattr(type(v), "__await__") or issubclass(type(v), concurrent.futures.Future)


def _has_buffer(v: Any) -> bool:
    try:
        memoryview(v)
        return True
    except TypeError:
        return False


def roundtrip_model(v: Any, returned: bool = True, nested: bool = False) -> Expect:
    """What `unwrap(echo(v))` gives, where echo is `(x) => x` in JavaScript and unwrap is
    to_py() for a JSObject. `returned`: the value comes back as the result of a call (not
    read from a property, nor from to_js()); `nested`: inside an Array or object."""
    m = _Model(returned, nested)
    value = m.of(v)
    if m.changed:
        return Expect(AnyValue, m.raises + [Raised(RuntimeError)])
    return Expect(NO_VALUE if m.impossible else value, m.raises)


# ---- the model of what JavaScript sees (the descriptor DESCRIBE_JS computes) ----

DESCRIBE_JS = r"""(() => {
  const { PyObject } = require('pymport');
  const view = new DataView(new ArrayBuffer(8));
  const hex = (x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex');
  const d = (x) => {
    switch (typeof x) {
      case 'undefined': return ['undefined'];
      case 'boolean': return ['boolean', x];
      case 'number':
        if (Number.isNaN(x)) return ['number', 'NaN'];
        view.setFloat64(0, x);
        return ['number', view.getBigUint64(0).toString(16)];
      case 'bigint': return ['bigint', x.toString(16)];
      case 'string': return ['string', x];
      case 'symbol': return ['symbol'];
      case 'function': return ['function', x.name];
    }
    if (x === null) return ['null'];
    if (x instanceof PyObject) return ['PyObject'];
    if (Buffer.isBuffer(x)) return ['Buffer', hex(x)];
    if (ArrayBuffer.isView(x)) return [x.constructor.name, hex(x)];
    if (Array.isArray(x)) return ['Array', x.map(d)];
    if (x instanceof Set) return ['Set', [...x].map(d)];
    if (x instanceof Promise) return ['Promise'];
    if (Object.getPrototypeOf(x) === Object.prototype)
      return ['Object', Object.keys(x).map((k) => [k, d(x[k])])];
    return ['other', Object.prototype.toString.call(x)];
  };
  return (x) => JSON.stringify(d(x));
})()"""


def function_name(v: Any) -> str:
    """The name of the JavaScript function made from callable v: its __name__ when that is a
    str that UTF-8 can encode (up to a NUL), else 'pyfunction'."""
    try:
        name = getattr(v, "__name__")
    except BaseException:  # noqa: B902 - a hook's __name__ raises anything
        return "pyfunction"
    if not isinstance(name, str):
        return "pyfunction"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "pyfunction"
    return name.split("\0")[0]


def canonical(desc: Any) -> Any:
    """A descriptor with Set members and Object entries sorted (their order is not the point)."""
    if not isinstance(desc, list) or not desc:
        return desc
    if desc[0] == "Object":
        return ["Object", sorted(([k, canonical(d)] for k, d in desc[1]), key=lambda e: e[0])]
    if desc[0] == "Set":
        return ["Set", sorted((canonical(d) for d in desc[1]), key=repr)]
    if desc[0] == "Array":
        return ["Array", [canonical(d) for d in desc[1]]]
    return desc


class _Describe(_Model):
    """Walks a Python value as the conversion to JavaScript does and builds what DESCRIBE_JS
    gives for the result."""

    def js(self, v: Any, nested: bool = False) -> Any:
        t = type(v)
        if v is None:
            return ["null"] if nested else ["undefined"]
        if v is node.null:
            return ["null"]
        if t is bool:
            return ["boolean", v]
        if issubclass(t, int):
            n = int.__int__(v)
            if abs(n) <= MAX_SAFE:
                return self.number(float(n))
            return ["bigint", format(n, "x")]
        if issubclass(t, float):
            return self.number(float.__float__(v))
        if issubclass(t, str):
            return ["string", utf16(str.__str__(v))]
        if issubclass(t, node.ref):
            inner = v.value
            return ["function", function_name(inner)] if callable(inner) and not \
                issubclass(type(inner), BaseException) else ["PyObject"]
        if issubclass(t, bytes):
            return ["Buffer", bytes(memoryview(v)).hex()]
        if issubclass(t, (list, tuple, dict, set, frozenset)):
            return self.container(v)
        if _has_buffer(v):
            kind, raw, fmt = buffer_kind(v)
            return ["Buffer" if kind == "copy" else TYPED_NAME[fmt], raw.hex()]
        if t is ClassRaisingAwaitable:
            self.may_raise(v.fuzz_exc)
            return ["Promise"]
        if t in (RaisingAwaitable, ValueAwaitable):
            return ["Promise"]
        if t is Mutator:
            self.changed = True
            return ["function", "mutator"]
        if callable(v) and not issubclass(t, BaseException):
            return ["function", function_name(v)]
        return ["PyObject"]

    @staticmethod
    def number(x: float) -> list:
        if math.isnan(x):
            return ["number", "NaN"]
        return ["number", format(struct.unpack(">Q", struct.pack(">d", x))[0], "x")]

    def container(self, v: Any) -> Any:
        if isinstance(v, dict) and not all(isinstance(k, str) for k in dict.keys(v)):
            return ["PyObject"]
        if id(v) in self.active:
            self.must_raise(Raised(RecursionError))
            return None
        self.active.add(id(v))
        try:
            hook = getattr(v, "fuzz_exc", None)
            if hook is not None:
                self.may_raise(hook)
            if isinstance(v, dict):
                entries = {}
                for k, x in dict.items(v):
                    entries[utf16(str.__str__(k))] = self.js(x, nested=True)
                return ["Object", [[k, x] for k, x in entries.items()]]
            if isinstance(v, (set, frozenset)):
                members = set.__iter__(v) if isinstance(v, set) else frozenset.__iter__(v)
                out, primitives = [], set()
                for x in members:
                    desc = self.js(x, nested=True)
                    if desc == ["number", "8000000000000000"]:
                        desc = ["number", "0"]  # a Set keeps -0 as +0
                    if desc and desc[0] in ("number", "bigint", "string", "boolean", "null"):
                        if repr(desc) in primitives:
                            continue  # the same JS value: one member (two NaNs, say)
                        primitives.add(repr(desc))
                    out.append(desc)
                return ["Set", out]
            items = list.__iter__(v) if isinstance(v, list) else tuple.__iter__(v)
            return ["Array", [self.js(x, nested=True) for x in items]]
        finally:
            self.active.discard(id(v))


def describe_model(v: Any) -> Expect:
    """What DESCRIBE_JS(v) gives, after json.loads() and canonical()."""
    m = _Describe()
    desc = m.js(v)
    if m.changed:
        return Expect(AnyValue, m.raises + [Raised(RuntimeError)])
    return Expect(NO_VALUE if m.impossible else canonical(desc), m.raises)
