"""The parser floor of a cold run: CPU seconds spent in the parsers alone on the code sentinel-lint must parse.

One cold ``--jobs 1`` run records what it parses (the files the byte prefilter keeps, for ``ast``; the jit functions
the index flow needs, for libcst); then each parser is timed again on exactly that input, with nothing else done.
Divided by the number of cores, that is the least wall time any design with the same reach can take, however well
its own analysis is tuned: the figure to hold against ruff's whole run.

    python benchmarks/parse_floor.py TREE [--jobs N]
"""
from __future__ import annotations

import argparse
import ast
import gc
import os
import sys
import time
from pathlib import Path


def record(root: Path) -> tuple[list[tuple[str, bytes]], list[str]]:
    """One cold run at ``root``; the (path, bytes) of the files it parses with ``ast`` and the function sources it
    parses with libcst."""
    from sentinel_lint import engine
    from sentinel_lint.config import load_settings
    from sentinel_lint.stages import kernels, scan
    from sentinel_lint.model.indexflow import cut_function
    from sentinel_lint.source import decode_source, split_lines

    files: list[tuple[str, bytes]] = []
    functions: list[str] = []
    analyse_source, analyse_kernels = scan.analyse_source, kernels.analyse_kernels

    def source_spy(data, path, module, digest):
        files.append((path, data))
        return analyse_source(data, path, module, digest)

    def kernels_spy(data, path, fns):
        text, _ = decode_source(data, path)
        if text is not None:
            lines = split_lines(text)
            functions.extend(cut_function(lines, f.line, f.end_line) for f in fns)
        return analyse_kernels(data, path, fns)

    scan.analyse_source, kernels.analyse_kernels = source_spy, kernels_spy
    try:
        engine.run([root], load_settings([root]), jobs=1, cache_dir=None)  # one job: the spies see every call
    finally:
        scan.analyse_source, kernels.analyse_kernels = analyse_source, analyse_kernels
    return files, functions


def cpu(fn, items, errors: tuple) -> float:
    gc.disable()
    start = time.process_time()
    for item in items:
        try:
            fn(item)
        except errors:  # a file the run reported as unparsable costs what it costs
            continue
    took = time.process_time() - start
    gc.enable()
    return took


def floors(root: Path, jobs: int) -> str:
    import libcst

    from sentinel_lint.discovery import might_hold_kernel
    from sentinel_lint.source import decode_source

    files, functions = record(root)
    kernel_files: list[str] = []
    host_files: list[str] = []
    for path, data in files:
        text, _ = decode_source(data, path)  # the engine parses the decoded text, not the bytes
        if text is not None:
            (kernel_files if might_hold_kernel(data) else host_files).append(text)
    bad_source = (SyntaxError, ValueError, RecursionError)
    t_kernel = min(cpu(ast.parse, kernel_files, bad_source) for _ in range(3))
    t_host = min(cpu(ast.parse, host_files, bad_source) for _ in range(3))
    t_cst = min(cpu(libcst.parse_module, functions, (libcst.ParserSyntaxError, RecursionError)) for _ in range(3))

    def mb(texts) -> float:
        return sum(len(t.encode()) for t in texts) / 1e6

    total = t_kernel + t_host + t_cst
    rows = [
        f"ast.parse, files with kernels:       {len(kernel_files):5d} files {mb(kernel_files):6.1f} MB  {t_kernel:6.2f} s CPU",
        f"ast.parse, host files naming indices: {len(host_files):5d} files {mb(host_files):6.1f} MB  {t_host:6.2f} s CPU",
        (f"libcst.parse_module, jit functions:   {len(functions):5d} fns   "
         f"{mb(functions):6.1f} MB  {t_cst:6.2f} s CPU"),
        f"parsers alone: {total:.2f} s CPU = {total / jobs:.2f} s wall at best on {jobs} core(s)",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tree", type=Path)
    p.add_argument("--jobs", type=int, default=None, help="cores to divide by (default: this machine's)")
    args = p.parse_args(argv)
    print(floors(args.tree.resolve(), args.jobs or os.cpu_count() or 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
