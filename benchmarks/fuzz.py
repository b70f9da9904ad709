"""Long fuzz run: many seeds of generated and mutated kernels through the real command line (`check`, `fix`,
`fix` again), looking for tracebacks, internal errors, non-guard edits and fixes that are not idempotent.

usage: python benchmarks/fuzz.py [--seeds N] [--packages N] [--jobs N]
"""
from __future__ import annotations

import argparse
import ast
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzzgen import host, module, mutate  # noqa: E402
from helpers import only_guard_tokens_changed  # noqa: E402


def run(args, cwd):
    env = dict(os.environ, NO_COLOR="1", CI="1")
    return subprocess.run([sys.executable, "-m", "sentinel_lint", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


def one(seed: int, packages: int, jobs: int) -> list[str]:
    rng = random.Random(seed)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[project]\nname = 'fuzz'\nversion = '0'\n", encoding="utf-8")
        for i in range(packages):
            pkg = root / f"p{i}"
            pkg.mkdir()
            (pkg / "__init__.py").write_text("", encoding="utf-8")
            kern, launcher = module(rng, rng.randint(1, 5)), host(rng)
            if rng.random() < 0.5:
                kern, launcher = mutate(rng, kern), mutate(rng, launcher)
            (pkg / "kern.py").write_text(kern, encoding="utf-8")
            (pkg / "host.py").write_text(launcher, encoding="utf-8")
        before = {p: p.read_text(encoding="utf-8") for p in root.rglob("*.py")}
        for args in (["check", "--no-cache", "-j", str(jobs), "."],
                     ["fix", "--no-cache", "--unsafe-fixes", "-j", str(jobs), "."]):
            res = run(args, root)
            if "Traceback" in res.stderr or "internal error" in res.stderr or res.returncode not in (0, 1, 2):
                problems.append(f"seed {seed} {args[0]}: rc {res.returncode}\n{res.stderr[-2000:]}")
        for path, text in before.items():
            after = path.read_text(encoding="utf-8")
            if after == text:
                continue
            try:
                ast.parse(after)
                only_guard_tokens_changed(text, after)
            except (AssertionError, SyntaxError) as exc:
                problems.append(f"seed {seed} {path.name}: bad fix {exc!r}")
        fixed = {p: p.read_text(encoding="utf-8") for p in root.rglob("*.py")}
        run(["fix", "--no-cache", "--unsafe-fixes", "-j", str(jobs), "."], root)
        for path, text in fixed.items():
            if path.read_text(encoding="utf-8") != text:
                problems.append(f"seed {seed} {path.name}: a second fix changed it again")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--packages", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    problems = []
    for seed in range(args.seeds):
        problems += one(seed, args.packages, args.jobs)
        print(f"seed {seed}: {len(problems)} problems so far", flush=True)
    print("\n".join(problems) or "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
