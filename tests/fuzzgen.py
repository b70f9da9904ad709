"""Random kernels for fuzzing: valid ones built from the guard grammar, and byte-level mutations of them.

Used by tests/test_fuzz.py (bounded, in CI) and benchmarks/fuzz.py (long runs).
"""
from __future__ import annotations

import random

INDEX_NAMES = ["state_indices", "block_table", "slot_mapping", "cache_indices", "rows", "page_ids", "dst_ptr"]
OPS = ["<", "<=", ">", ">=", "==", "!="]
CONSTS = ["-1", "0", "1", "PAD", "NULL_BLOCK_ID", "pad_id", "n"]


def guard(rng: random.Random, var: str) -> str:
    def atom() -> str:
        op, const = rng.choice(OPS), rng.choice(CONSTS)
        return f"{const} {op} {var}" if rng.random() < 0.2 else f"{var} {op} {const}"

    kind = rng.randrange(6)
    if kind == 0:
        return atom()
    if kind == 1:
        return f"({atom()}) & ({var} < n)"
    if kind == 2:
        return f"not ({atom()})"
    if kind == 3:
        return f"{atom()} or {atom()}"
    if kind == 4:
        return f"({atom()}) | ({atom()})"
    return f"~({atom()})"


def kernel(rng: random.Random, name: str) -> str:
    param = rng.choice(INDEX_NAMES)
    var = rng.choice(["idx", "slot", "blk", "s"])
    cast = rng.choice(["", ".to(tl.int64)", ""])
    g = guard(rng, var)
    form = rng.randrange(4)
    body = [f"    {var} = tl.load({param} + tl.program_id(0)){cast}"]
    if form == 0:
        body += [f"    if {g}:", "        return", f"    tl.store(out + {var} * D + offs, x)"]
    elif form == 1:
        body += [f"    tl.store(out + {var} * D + offs, x, mask=({g}))"]
    elif form == 2:
        body += [f"    safe = tl.where({g}, {var}, 0)", "    tl.store(out + safe * D + offs, x)"]
    else:
        body += [f"    ok = {g}", "    if ok:", f"        tl.store(out + {var} * D + offs, x)"]
    return "\n".join([
        "@triton.jit",
        f"def {name}(out, {param}, x, n, pad_id: tl.constexpr, D: tl.constexpr):",
        "    offs = tl.arange(0, D)",
        *body,
        "",
    ])


HEADER = "import triton\nimport triton.language as tl\n\nPAD = -1\nNULL_BLOCK_ID = 0\n\n\n"


def module(rng: random.Random, count: int = 3) -> str:
    return HEADER + "\n\n".join(kernel(rng, f"k{i}") for i in range(count))


def host(rng: random.Random, kernels: int = 3) -> str:
    """Host code that pads and launches: some modules give the kernels a traced convention."""
    value = rng.choice(["-1", "0", "PAD", "NULL_BLOCK_ID"])
    lines = ["import torch", "from .kern import *", "", "", "def launch(out, x, table, n):",
             f"    table[n:].fill_({value})"]
    for i in range(kernels):
        lines.append(f"    k{i}[(n,)](out, table, x, n, pad_id={rng.choice(['-1', '0'])}, D=16)")
    return "\n".join(lines) + "\n"


def mutate(rng: random.Random, text: str) -> str:
    """A few random edits: delete, duplicate or swap characters and lines, insert odd bytes."""
    data = list(text)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        i = rng.randrange(len(data))
        kind = rng.randrange(5)
        if kind == 0:
            del data[i:i + rng.randint(1, 8)]
        elif kind == 1:
            data[i:i] = data[i:i + rng.randint(1, 20)]
        elif kind == 2:
            data[i:i] = list(rng.choice(["(", ")", ":", "\n", "\t", "  ", "#", "\\\n", "\f", "\x00", "é", '"""']))
        elif kind == 3:
            j = rng.randrange(len(data))
            data[i], data[j] = data[j], data[i]
        else:
            lines = "".join(data).split("\n")
            k = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines)), lines[k])
            data = list("\n".join(lines))
    return "".join(data)
