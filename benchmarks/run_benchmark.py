#!/usr/bin/env python3
"""Sweep a whole tree of published Triton kernels with sentinel-lint and compare it with other tools.

One command::

    python benchmarks/run_benchmark.py                      # pip-download fla-core, liger-kernel, vllm==0.20.0
    python benchmarks/run_benchmark.py --corpus /path/to/vllm-0.33.0 --corpus /path/to/fla-core-0.6.0
    python benchmarks/run_benchmark.py --corpus DIR --profile   # plus: where a cold run spends its time

What it does, for each corpus (a tree of Python files; nothing in it is built, installed, imported or run):

* times, median of ``--runs`` runs after ``--warmup`` untimed ones, the wall clock and peak memory of
  - sentinel-lint cold (``--no-cache``) with ``--jobs`` = the number of cores, and with ``--jobs 1``;
  - sentinel-lint warm (a ``--cache-dir`` populated by one untimed run first);
  - ``ruff check --no-cache --exit-zero --isolated`` (ruff's default rules, the corpus's own ruff config ignored);
  - semgrep with ``benchmarks/semgrep/sentinel-guard.yaml`` (an approximation of SL001), if semgrep can be found
    or installed into a separate venv in the work directory (``pip install semgrep``), else the reason why not;
  - the I/O floor: a Python process that walks the tree and reads every ``*.py`` file's bytes;
* checks that sentinel-lint's findings (JSON ``diagnostics`` and ``errors``) are identical for ``--jobs 1`` vs
  ``--jobs N``, cached vs uncached, and across the repeated runs;
* prints a table and writes ``benchmarks/RESULTS.md`` (machine, corpus, date, table, targets, equality checks).

Memory: "peak RSS" is ``ru_maxrss`` from ``wait4`` on the tool's process (the largest single process among it and
its reaped children).  "tree PSS" samples, every ``--sample-ms``, the summed proportional set size of the tool's
whole process tree (``/proc/PID/smaps_rollup``), so forked workers count once each and shared pages are split.

Only the standard library is used; ruff and semgrep are run as commands.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SEMGREP_RULE = HERE / "semgrep" / "sentinel-guard.yaml"
DEFAULT_PACKAGES = ["fla-core", "liger-kernel", "vllm==0.20.0"]
DEFAULT_WORK = Path(tempfile.gettempdir()) / "sentinel-lint-bench"
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")

TARGETS_NOTE = (
    "Targets: cold check ≤ 1.0 × ruff; warm check ≤ 2 × the I/O floor; peak memory < 500 MB "
    "(judged on the larger of peak RSS and tree PSS)."
)


# -- measuring one command -------------------------------------------------------------------------------------

@dataclass
class Sample:
    wall: float
    maxrss_mb: float
    tree_pss_mb: float
    returncode: int


@dataclass
class Measurement:
    name: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_rss(self) -> float:
        return max(s.maxrss_mb for s in self.samples)

    @property
    def peak_pss(self) -> float:
        return max(s.tree_pss_mb for s in self.samples)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:  # no smaps_rollup: fall back to RSS
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


class TreeSampler(threading.Thread):
    """Peak of the summed PSS of a process and all its descendants, sampled."""

    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total, stack, seen = 0, [self.pid], set()
            while stack:
                p = stack.pop()
                if p in seen:
                    continue
                seen.add(p)
                total += _pss_kb(p)
                stack.extend(_children(p))
            self.peak_kb = max(self.peak_kb, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_once(argv: list[str], cwd: Path, sample_interval: float, env: dict | None = None,
             stdout_path: Path | None = None) -> tuple[Sample, str]:
    """Run ``argv``; wall time from spawn to reap, peak RSS from wait4, tree PSS sampled.  Returns stderr tail."""
    with tempfile.TemporaryFile() as err, (open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb")) as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, env=env)
        sampler = TreeSampler(proc.pid, sample_interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:].decode("utf-8", "replace")
    return Sample(wall, usage.ru_maxrss / 1024, sampler.peak_kb / 1024, proc.returncode), tail


def measure(name: str, argv: list[str], cwd: Path, runs: int, warmup: int, interval: float, *, env=None,
            ok_codes=(0,), log=print) -> Measurement:
    m = Measurement(name, argv)
    for i in range(warmup + runs):
        sample, tail = run_once(argv, cwd, interval, env=env)
        if sample.returncode not in ok_codes:
            raise RuntimeError(f"{name}: exit {sample.returncode}: {' '.join(argv)}\n{tail}")
        tag = "warm-up" if i < warmup else f"run {i - warmup + 1}/{runs}"
        log(f"  {name:<38} {tag:<10} {sample.wall:8.2f} s  rss {sample.maxrss_mb:6.0f} MB  "
            f"tree pss {sample.tree_pss_mb:6.0f} MB")
        if i >= warmup:
            m.samples.append(sample)
    return m


# -- the corpus ------------------------------------------------------------------------------------------------

def _safe_members_tar(tf: tarfile.TarFile, dest: Path):
    for member in tf.getmembers():
        target = (dest / member.name).resolve()
        if not str(target).startswith(str(dest.resolve())) or member.issym() or member.islnk() or member.isdev():
            continue
        yield member


def unpack(archive: Path, dest_root: Path) -> Path:
    """Unpack an sdist or wheel under ``dest_root``; returns the package's directory."""
    name = archive.name
    if name.endswith(".whl"):
        dist, version = name.split("-")[:2]
        dest = dest_root / f"{dist}-{version}"
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (dest / info.filename).resolve()
                if str(target).startswith(str(dest.resolve())):
                    zf.extract(info, dest)
        return dest
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            top = {n.split("/")[0] for n in zf.namelist()}
            for info in zf.infolist():
                target = (dest_root / info.filename).resolve()
                if str(target).startswith(str(dest_root.resolve())):
                    zf.extract(info, dest_root)
    else:
        with tarfile.open(archive) as tf:
            top = {m.name.split("/")[0] for m in tf.getmembers()}
            members = list(_safe_members_tar(tf, dest_root))
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest_root, members=members, filter="data")
            else:
                tf.extractall(dest_root, members=members)
    return dest_root / min(top) if len(top) == 1 else dest_root


def pip_fetch(spec: str, downloads: Path, dist: str, log=print) -> tuple[Path, str]:
    """Download one package with pip, no dependencies.  Returns (archive, how)."""
    downloads.mkdir(parents=True, exist_ok=True)
    attempts = []
    if dist in ("auto", "sdist"):
        # --no-build-isolation: pip prepares the sdist's metadata with what is already installed and installs
        # nothing; packages whose setup needs more (vLLM needs setuptools-scm, torch, ...) fail here and fall back.
        attempts.append(("sdist", ["--no-binary", ":all:", "--no-build-isolation"]))
    if dist in ("auto", "wheel"):
        attempts.append(("wheel", ["--only-binary", ":all:"]))
    errors = []
    for how, extra in attempts:
        with tempfile.TemporaryDirectory(dir=downloads) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                   *extra, "-d", tmp, spec]
            log(f"  pip download {spec} ({how})")
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
            files = [p for p in Path(tmp).iterdir() if p.is_file()]
            if proc.returncode == 0 and files:
                final = downloads / files[0].name
                shutil.move(str(files[0]), final)
                return final, how
            errors.append(f"{how}: " + (proc.stderr.strip().splitlines() or ["no file"])[-1])
    raise RuntimeError(f"could not download {spec}: " + "; ".join(errors))


def build_corpus(packages: list[str], work: Path, dist: str, refresh: bool, log=print) -> tuple[Path, list[dict]]:
    corpus = work / "corpus"
    manifest_path = work / "corpus.json"
    if manifest_path.exists() and not refresh:
        manifest = json.loads(manifest_path.read_text())
        if [m["spec"] for m in manifest] == packages and all((corpus / m["dir"]).is_dir() for m in manifest):
            log(f"reusing corpus {corpus} ({', '.join(m['archive'] for m in manifest)})")
            return corpus, manifest
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    manifest = []
    for spec in packages:
        archive, how = pip_fetch(spec, work / "downloads", dist, log)
        pkg_dir = unpack(archive, corpus)
        manifest.append({"spec": spec, "archive": archive.name, "how": how, "dir": pkg_dir.name,
                         "version": _archive_version(archive.name)})
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return corpus, manifest


def _archive_version(name: str) -> str:
    if name.endswith(".whl"):
        return name.split("-")[1]
    for suffix in SDIST_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)].rsplit("-", 1)[-1]
    return "?"


def describe_tree(root: Path) -> dict:
    """Package name/version (from PKG-INFO or a .dist-info METADATA near the top) and file counts."""
    meta = {}
    candidates = [root / "PKG-INFO", *sorted(root.glob("*.dist-info/METADATA"))]
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        candidates += [child / "PKG-INFO", *sorted(child.glob("*.dist-info/METADATA"))]
    packages = []
    for c in candidates:
        if c.is_file():
            name = version = None
            for line in c.read_text(errors="replace").splitlines()[:40]:
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
            if name and (name, version) not in packages:
                packages.append((name, version))
    py_files, py_bytes, all_files = 0, 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        all_files += len(filenames)
        for f in filenames:
            if f.endswith(".py"):
                py_files += 1
                try:
                    py_bytes += os.path.getsize(os.path.join(dirpath, f))
                except OSError:
                    pass
    meta["packages"] = [f"{n} {v}" for n, v in packages]
    meta.update(py_files=py_files, py_mb=py_bytes / 1e6, all_files=all_files)
    return meta


# -- the I/O floor (run as a subprocess of this script) ----------------------------------------------------------

def io_floor(root: str) -> None:
    n = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    total += len(fh.read())
                n += 1
    print(n, total)


# -- tools -----------------------------------------------------------------------------------------------------

def find_tool(name: str, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def tool_version(argv: list[str], env: dict | None = None) -> str:
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120, env=env)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        return f"unknown ({exc})"


def get_semgrep(args, work: Path, log=print) -> tuple[str | None, str]:
    """(semgrep executable or None, status line)."""
    if args.no_semgrep:
        return None, "skipped (--no-semgrep)"
    exe = args.semgrep or shutil.which("semgrep")
    venv = work / "semgrep-venv"
    if not exe and (venv / "bin" / "semgrep").exists():
        exe = str(venv / "bin" / "semgrep")
    how = "found"
    if not exe:
        if not args.install_semgrep:
            return None, "not installed, and --no-install-semgrep given"
        log(f"installing semgrep into {venv} (pip install semgrep) ...")
        proc = subprocess.run([sys.executable, "-m", "venv", str(venv)], check=False, capture_output=True, text=True)
        if proc.returncode == 0:
            proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                   "--disable-pip-version-check", "semgrep"], check=False, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"`pip install semgrep` failed: {last}"
        exe, how = str(venv / "bin" / "semgrep"), f"installed with pip into {venv}"
    version = tool_version([exe, "--version"], env=semgrep_env())  # without the env: a network version check
    # Offline check: run the rule on a one-line file; metrics and the version check are off, the rule is local.
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.py"
        probe.write_text("import triton\n@triton.jit\ndef k(block_idx):\n    if block_idx < 0:\n        return\n")
        proc = subprocess.run([exe, "scan", *semgrep_flags(1), "--config", str(SEMGREP_RULE), "--json", tmp],
                              check=False, capture_output=True, text=True, env=semgrep_env(), timeout=300)
        if proc.returncode not in (0, 1):
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return None, f"semgrep {version} {how}, but it did not run offline: exit {proc.returncode}: {last}"
        try:
            hits = len(json.loads(proc.stdout)["results"])
        except (ValueError, KeyError):
            hits = -1
        if hits != 1:
            return None, f"semgrep {version} {how}, but the probe gave {hits} findings instead of 1"
    return exe, f"semgrep {version}, {how}; runs offline (--metrics=off, local rule)"


def semgrep_flags(jobs: int) -> list[str]:
    # Scan what the other tools scan: no default .semgrepignore (which drops tests/ etc.), sentinel-lint's 8 MB
    # size limit instead of semgrep's 1 MB.
    return ["--metrics=off", "--disable-version-check", "--x-ignore-semgrepignore-files",
            "--max-target-bytes", "8000000", "--quiet", "-j", str(jobs)]


def semgrep_env() -> dict:
    env = dict(os.environ)
    env.update(SEMGREP_SEND_METRICS="off", SEMGREP_ENABLE_VERSION_CHECK="0")
    return env


# -- findings equality ---------------------------------------------------------------------------------------------

def load_findings(path: Path) -> tuple[list, list, dict]:
    data = json.loads(path.read_text())
    return data["diagnostics"], data["errors"], data.get("summary", {})


def same(a: Path, b: Path) -> bool:
    da, ea, _ = load_findings(a)
    db, eb, _ = load_findings(b)
    return da == db and ea == eb


def code_fingerprint() -> str:
    """Hash of sentinel-lint's sources (the editable install can change under a long benchmark)."""
    import hashlib
    h = hashlib.sha256()
    for f in sorted([*(REPO / "sentinel_lint").rglob("*.py"), *(REPO / "rules").glob("*.toml")]):
        h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
    head = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], check=False,
                          capture_output=True, text=True).stdout.strip()
    return f"{head or '?'} / sources {h.hexdigest()[:12]}"


# -- one corpus ------------------------------------------------------------------------------------------------

def bench_corpus(root: Path, label: str, args, tools: dict, scratch: Path, log=print) -> dict:
    root = root.resolve()
    jobs = args.jobs
    interval = args.sample_ms / 1000
    out_dir = scratch / re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tree = describe_tree(root)
    log(f"\n== {label}: {root}  ({tree['py_files']} .py files, {tree['py_mb']:.1f} MB)  load {os.getloadavg()}")
    results: dict = {"label": label, "root": str(root), "tree": tree, "load_before": os.getloadavg(),
                     "code_before": code_fingerprint()}
    sl = tools["sentinel-lint"]
    common = ["check", "--output-format", "json", "--exit-zero", "-q"]
    ms: list[Measurement] = []
    R, W = args.runs, args.warmup

    ms.append(measure("I/O floor (read every .py)", [sys.executable, str(Path(__file__).resolve()), "--io-floor",
                                                      str(root)], root, R, W, interval, log=log))

    cold_n = [sl, *common, "--no-cache", "--jobs", str(jobs), "-o", "OUT", str(root)]

    def sl_measure(name, argv, tag, warmup):  # each run writes its own report ("OUT"), to compare them all
        m = Measurement(name, argv)
        for i in range(-warmup, R):
            out = out_dir / f"{tag}-{'warmup' if i < 0 else i}.json"
            run_argv = [out if a == "OUT" else a for a in argv]
            sample, tail = run_once([str(a) for a in run_argv], root, interval)
            if sample.returncode != 0:
                raise RuntimeError(f"{name}: exit {sample.returncode}\n{tail}")
            log(f"  {name:<38} {'warm-up' if i < 0 else f'run {i + 1}/{R}':<10} {sample.wall:8.2f} s  "
                f"rss {sample.maxrss_mb:6.0f} MB  tree pss {sample.tree_pss_mb:6.0f} MB")
            if i >= 0:
                m.samples.append(sample)
        return m

    ms.append(sl_measure(f"sentinel-lint cold (--jobs {jobs})", cold_n, "cold-jN", W))
    ms.append(sl_measure("sentinel-lint cold (--jobs 1)", [sl, *common, "--no-cache", "--jobs", "1", "-o", "OUT",
                                                           str(root)], "cold-j1", W if args.warmup_jobs1 else 0))
    cache = out_dir / "cache"
    populate = [sl, *common, "--cache-dir", str(cache), "--jobs", str(jobs), "-o", str(out_dir / "populate.json"),
                str(root)]
    sample, tail = run_once(populate, root, interval)
    if sample.returncode != 0:
        raise RuntimeError(f"populating the cache: exit {sample.returncode}\n{tail}")
    log(f"  {'sentinel-lint cache populate (1 run)':<38} {'':<10} {sample.wall:8.2f} s")
    results["populate_wall"] = sample.wall
    ms.append(sl_measure(f"sentinel-lint warm (--jobs {jobs})", [sl, *common, "--cache-dir", str(cache), "--jobs",
                                                                 str(jobs), "-o", "OUT", str(root)], "warm-jN", W))

    ruff = tools.get("ruff")
    if ruff:
        ms.append(measure("ruff check --no-cache (defaults)", [ruff, "check", "--no-cache", "--exit-zero",
                                                               "--isolated", str(root)], root, R, W, interval, log=log))
    semgrep = tools.get("semgrep")
    if semgrep:
        sg_out = out_dir / "semgrep.json"
        ms.append(measure(f"semgrep (1 rule, -j {jobs})", [semgrep, "scan", *semgrep_flags(jobs), "--config",
                                                            str(SEMGREP_RULE), "--json", "-o", str(sg_out), str(root)],
                          root, R, W, interval, env=semgrep_env(), ok_codes=(0, 1), log=log))
        try:
            sg = json.loads(sg_out.read_text())
            results["semgrep_findings"] = len(sg.get("results", []))
            results["semgrep_scanned"] = len(sg.get("paths", {}).get("scanned", []))
            results["semgrep_errors"] = len(sg.get("errors", []))
        except (OSError, ValueError):
            pass

    # findings equality
    checks = []
    first = out_dir / "cold-jN-0.json"
    diags, errs, summary = load_findings(first)
    results["summary"] = summary
    results["findings"] = [f"{d['path']}:{d['line']}:{d['column']}: {d['code']} {d['message']}" for d in diags]
    results["n_errors"] = len(errs)
    checks.append((f"--jobs 1 vs --jobs {jobs} (cold)", same(out_dir / "cold-j1-0.json", first)))
    checks.append(("cached (warm) vs uncached (cold)", same(out_dir / "warm-jN-0.json", first)))
    checks.append(("cache-populating run vs --no-cache", same(out_dir / "populate.json", first)))
    for tag in ("cold-jN", "cold-j1", "warm-jN"):
        runs = sorted(out_dir.glob(f"{tag}-[0-9]*.json"))
        checks.append((f"all {len(runs)} timed runs of {tag} agree", all(same(r, first) for r in runs)))
    results["checks"] = checks
    results["measurements"] = ms
    results["load_after"] = os.getloadavg()
    results["code_after"] = code_fingerprint()
    if results["code_after"] != results["code_before"]:
        log(f"  WARNING: sentinel-lint's sources changed during the measurement: {results['code_before']} -> "
            f"{results['code_after']}")
    if args.profile:
        results["profile"] = (phases(sl, root, jobs, log) + parser_floor(sl, root, jobs, log)
                              + profile(sl, root, out_dir, log))
    return results


def phases(sl: str, root: Path, jobs: int, log=print) -> str:
    """Wall time per stage of one cold run with --jobs 1 and one with --jobs N (SENTINEL_LINT_TIMINGS)."""
    lines = []
    for n in sorted({1, jobs}):
        argv = [sl, "check", "--no-cache", "--jobs", str(n), "--exit-zero", "-q", str(root)]
        env = dict(os.environ, SENTINEL_LINT_TIMINGS="1")
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, check=False)
        line = next((x for x in proc.stderr.splitlines() if "timings:" in x), "no timings printed")
        lines.append(f"cold run, --jobs {n}: {line.split('timings: ', 1)[-1]}")
        log(f"  {lines[-1]}")
    return ("Stages of a cold run (wall seconds; with one job each stage's time is its CPU time):\n"
            + "\n".join(lines) + "\n\n")


def parser_floor(sl: str, root: Path, jobs: int, log=print) -> str:
    """CPU time of the parsers alone on what a cold run parses (``parse_floor.py``), in sentinel-lint's Python."""
    argv = [_python_of(sl), str(HERE / "parse_floor.py"), "--jobs", str(jobs), str(root)]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    text = proc.stdout.strip() if proc.returncode == 0 else f"parse_floor.py failed: {proc.stderr.strip()[-400:]}"
    log("  " + text.replace("\n", "\n  "))
    return "Parsers alone on what a cold run parses (benchmarks/parse_floor.py, best of 3):\n" + text + "\n\n"


def _python_of(sl: str) -> str:
    """The interpreter of the sentinel-lint console script (this one if it is not a script)."""
    with open(sl, "rb") as f:
        head = f.read(200)
    if head.startswith(b"#!"):
        return head[2:].split(b"\n")[0].decode().strip() or sys.executable
    return sys.executable


def profile(sl: str, root: Path, out_dir: Path, log=print) -> str:
    """One cold run under cProfile, ``--jobs 1`` so that the per-file work runs in the profiled process."""
    prof = out_dir / "cold.prof"
    argv = [_python_of(sl), "-m", "cProfile", "-o", str(prof), "-m", "sentinel_lint", "check", "--no-cache", "--jobs", "1",
            "--output-format", "json", "--exit-zero", "-q", "-o", str(out_dir / "profiled.json"), str(root)]
    log(f"  profiling: {' '.join(argv)}")
    start = time.perf_counter()
    subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    import io
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(25)
    buf2 = io.StringIO()
    pstats.Stats(str(prof), stream=buf2).strip_dirs().sort_stats("tottime").print_stats(15)
    text = (f"cold run, --jobs 1, under cProfile: {wall:.1f} s wall (profiling overhead included)\n\n"
            "Top 25 by cumulative time:\n" + _trim_pstats(buf.getvalue()) +
            "\nTop 15 by own (tottime) time:\n" + _trim_pstats(buf2.getvalue()))
    return text


def _trim_pstats(text: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[i:]).rstrip() + "\n"
    return text


# -- report ----------------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        cpu = platform.processor() or "?"
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal")), 0)
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        from importlib.metadata import version
        libcst = version("libcst")
    except Exception:  # noqa: BLE001
        libcst = "?"
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    return {"cpu": cpu, "cores": cores, "usable_cores": usable, "ram": mem, "os": platform.platform(),
            "python": platform.python_version(), "libcst": libcst}


def table_rows(res: dict) -> list[list[str]]:
    ms: list[Measurement] = res["measurements"]
    files = res["summary"].get("files_seen") or res["tree"]["py_files"]
    floor = next(m for m in ms if m.name.startswith("I/O floor")).median
    ruff = next((m for m in ms if m.name.startswith("ruff")), None)
    rows = []
    for m in ms:
        med = m.median
        walls = [s.wall for s in m.samples]
        rows.append([m.name, f"{med:.2f}", f"{min(walls):.2f}–{max(walls):.2f}", f"{files / med:,.0f}",
                     f"{m.peak_rss:.0f}", f"{m.peak_pss:.0f}", f"{med / ruff.median:.2f}" if ruff else "n/a",
                     f"{med / floor:.1f}"])
    return rows


HEADER = ["tool", "median wall s", "min–max s", "files/s", "peak RSS MB", "tree PSS MB", "× ruff", "× I/O floor"]


def text_table(rows) -> str:
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def fmt(r):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(HEADER), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def md_table(rows) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def targets(res: dict) -> list[str]:
    ms = {m.name: m for m in res["measurements"]}
    floor = next(m for n, m in ms.items() if n.startswith("I/O floor")).median
    ruff = next((m for n, m in ms.items() if n.startswith("ruff")), None)
    cold = next(m for n, m in ms.items() if n.startswith("sentinel-lint cold") and "--jobs 1)" not in n)
    warm = next(m for n, m in ms.items() if n.startswith("sentinel-lint warm"))
    sl = [m for n, m in ms.items() if n.startswith("sentinel-lint")]
    peak = max(max(m.peak_rss, m.peak_pss) for m in sl)
    out = []
    if ruff:
        r = cold.median / ruff.median
        out.append(f"cold check / ruff = {r:.2f} (target ≤ 1.0): {'met' if r <= 1.0 else 'NOT met'}")
    w = warm.median / floor
    out.append(f"warm check / I/O floor = {w:.1f} (target ≤ 2): {'met' if w <= 2 else 'NOT met'}")
    out.append(f"peak memory of sentinel-lint = {peak:.0f} MB (target < 500 MB): {'met' if peak < 500 else 'NOT met'}")
    return out


def write_results(path: Path, all_results: list[dict], info: dict, argv: list[str]) -> None:
    m = info["machine"]
    lines = ["# sentinel-lint benchmark", "",
             f"Generated by `python benchmarks/run_benchmark.py {' '.join(argv)}` on {info['date']}.", "",
             ("**Other processes (for example test suites) may have been running on this machine during the "
             "measurement**; the load average before and after each corpus is recorded below. Numbers are medians of "
             f"{info['runs']} timed runs after {info['warmup']} untimed warm-up run(s)."), "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable by this process)",
             f"- RAM: {m['ram']}", f"- OS: {m['os']}",
             f"- Python {m['python']}, libcst {m['libcst']}", (f"- {info['sentinel_version']} "
             f"(commit {info['commit']})"), f"- {info['ruff_version']}", f"- semgrep: {info['semgrep_status']}", "",
             "## Method", "",
             "- **sentinel-lint cold**: `sentinel-lint check --no-cache --jobs N --output-format json --exit-zero`.",
             "- **sentinel-lint warm**: the same with `--cache-dir D` after one untimed run populated `D`.",
             ("- **ruff**: `ruff check --no-cache --exit-zero --isolated` (default rules; `--isolated` so the corpus's "
             "own ruff configuration does not add rules)."),
             ("- **semgrep**: `semgrep scan --config benchmarks/semgrep/sentinel-guard.yaml` — a syntactic "
             "approximation of SL001 (index-like name compared with 0/-1 inside `@triton.jit` functions), with "
             "`--metrics=off --x-ignore-semgrepignore-files --max-target-bytes 8000000`."),
             "- **I/O floor**: a fresh Python process that walks the tree and reads every `*.py` file's bytes.",
             ("- Wall time from spawn to exit. **peak RSS**: `ru_maxrss` from `wait4` (largest single process). "
             "**tree PSS**: the summed proportional set size of the whole process tree (workers included), sampled "
             f"every {info['sample_ms']} ms, so a process that lives less than that (ruff on a small tree) may show ~0 there; "
              "peak RSS is the figure for those. files/s uses sentinel-lint's `files_seen` for every tool."),
             "- Nothing in the corpus is built, installed, imported or run.", ""]
    if info.get("manifest"):
        lines += ["## Corpus obtained with pip", ""]
        lines += [f"- `{x['spec']}` → `{x['archive']}` ({x['how']}), version {x['version']}" for x in info["manifest"]]
        lines.append("")
    for res in all_results:
        t, s = res["tree"], res["summary"]
        lines += [f"## Corpus: {res['label']}", "",
                  f"- Path: `{res['root']}`",
                  f"- Packages: {', '.join(t['packages']) or 'n/a'}",
                  (f"- {t['py_files']} `.py` files ({t['py_mb']:.1f} MB), {t['all_files']} files in all; "
                  f"sentinel-lint saw {s.get('files_seen')} files, skipped {s.get('files_skipped_by_prefilter')} "
                  f"by the byte prefilter, found {s.get('files_with_kernels')} files with kernels, "
                  f"{s.get('kernels')} kernels, {s.get('findings')} findings, {res['n_errors']} file errors"),
                  (f"- Load average before: {', '.join(f'{x:.2f}' for x in res['load_before'])}; after: "
                  f"{', '.join(f'{x:.2f}' for x in res['load_after'])}"),
                  (f"- sentinel-lint code measured: {res['code_before']}" if res["code_after"] == res["code_before"]
                   else f"- **sentinel-lint's sources changed during this corpus's measurement** "
                        f"({res['code_before']} → {res['code_after']}); the numbers mix two versions"), "",
                  md_table(table_rows(res)), "",
                  (f"One cold run that also wrote the cache (the untimed run before the warm runs) took "
                  f"{res['populate_wall']:.2f} s."), ""]
        if "semgrep_findings" in res:
            lines += [(f"semgrep scanned {res['semgrep_scanned']} files and reported {res['semgrep_findings']} "
                      f"matches ({res['semgrep_errors']} errors); it matches every guard of that shape, right or "
                      f"wrong, while sentinel-lint reports only the guards that disagree with the inferred "
                      f"padding."), ""]
        lines += ["### Targets", "", *[f"- {x}" for x in targets(res)], "", "### Findings equality", ""]
        lines += [f"- {name}: {'identical' if ok else '**DIFFERENT**'}" for name, ok in res["checks"]]
        lines += ["", f"sentinel-lint findings ({len(res['findings'])}):", ""]
        lines += [f"- `{f}`" for f in res["findings"][:50]] or ["- none"]
        if len(res["findings"]) > 50:
            lines.append(f"- ... and {len(res['findings']) - 50} more")
        lines.append("")
        if res.get("profile"):
            lines += ["### Where the time goes (`--profile`)", "", "```", res["profile"].rstrip(), "```", ""]
    path.write_text("\n".join(lines))


# -- main ------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--io-floor"]:
        io_floor(argv[1])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", action="append", type=Path, metavar="DIR",
                   help="an already unpacked tree to measure (repeatable; each is measured on its own)")
    p.add_argument("--packages", nargs="+", default=DEFAULT_PACKAGES, metavar="SPEC",
                   help=f"pip requirement specs to download and unpack (default: {' '.join(DEFAULT_PACKAGES)})")
    p.add_argument("--dist", choices=["auto", "sdist", "wheel"], default="auto",
                   help="sdist (metadata prepared without build isolation), wheel, or sdist then wheel (default)")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK, help=f"downloads, corpus, scratch (default "
                                                                        f"{DEFAULT_WORK})")
    p.add_argument("--refresh", action="store_true", help="download and unpack the packages again")
    p.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before them (default 1)")
    p.add_argument("--no-warmup-jobs1", dest="warmup_jobs1", action="store_false",
                   help="skip the warm-up of the slow --jobs 1 run (the page cache is warm by then anyway)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="--jobs N for the parallel runs "
                                                                         "(default: cores)")
    p.add_argument("--sentinel-lint", dest="sentinel_lint", help="sentinel-lint executable")
    p.add_argument("--ruff", help="ruff executable (default: beside this Python, else PATH)")
    p.add_argument("--semgrep", help="semgrep executable (default: PATH, else installed into the work dir)")
    p.add_argument("--no-install-semgrep", dest="install_semgrep", action="store_false")
    p.add_argument("--no-semgrep", action="store_true")
    p.add_argument("--profile", action="store_true", help="also run one cold sentinel-lint (--jobs 1) under "
                                                          "cProfile and print the top 25 by cumulative time")
    p.add_argument("--sample-ms", type=int, default=50, help="tree memory sampling interval (default 50)")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="Markdown report to write")
    args = p.parse_args(argv)

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    sl = find_tool("sentinel-lint", args.sentinel_lint)
    if not sl:
        p.error("sentinel-lint not found; install it or pass --sentinel-lint")
    tools = {"sentinel-lint": sl, "ruff": find_tool("ruff", args.ruff)}
    semgrep, semgrep_status = get_semgrep(args, work)
    tools["semgrep"] = semgrep
    print(f"semgrep: {semgrep_status}")
    if not tools["ruff"]:
        print("ruff: not found; ratios to ruff are n/a")

    manifest = None
    if args.corpus:
        corpora = [(c.resolve(), c.resolve().name) for c in args.corpus]
        for c, _ in corpora:
            if not c.is_dir():
                p.error(f"--corpus {c}: not a directory")
    else:
        print(f"building the corpus in {work} from {' '.join(args.packages)}")
        corpus, manifest = build_corpus(args.packages, work, args.dist, args.refresh)
        corpora = [(corpus, "+".join(f"{m['dir']}" for m in manifest))]

    try:
        commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], check=False, capture_output=True,
                                text=True).stdout.strip() or "?"
    except OSError:
        commit = "?"
    info = {"machine": machine(), "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "runs": args.runs, "warmup": args.warmup, "sample_ms": args.sample_ms, "commit": commit,
            "sentinel_version": tool_version([sl, "--version"]),
            "ruff_version": tool_version([tools["ruff"], "--version"]) if tools["ruff"] else "ruff: not found",
            "semgrep_status": semgrep_status, "manifest": manifest}
    m = info["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram']}, Python {m['python']}, libcst {m['libcst']}, "
          f"{info['ruff_version']}")

    all_results = []
    for root, label in corpora:
        res = bench_corpus(root, label, args, tools, work / "scratch", log=print)
        all_results.append(res)
        print(f"\n{label}: {res['summary'].get('files_seen')} files, {res['summary'].get('findings')} findings")
        print(text_table(table_rows(res)))
        for line in targets(res):
            print("  " + line)
        for name, ok in res["checks"]:
            print(f"  findings {name}: {'identical' if ok else 'DIFFERENT'}")
        if res.get("profile"):
            print("\n" + res["profile"])
    write_results(args.results, all_results, info, argv)
    raw = work / "results.json"
    raw.write_text(json.dumps([{**{k: v for k, v in r.items() if k != "measurements"},
                                "measurements": [{"name": x.name, "argv": [str(a) for a in x.argv],
                                                  "samples": [vars(s) for s in x.samples]}
                                                 for x in r["measurements"]]} for r in all_results],
                              indent=1, default=str))
    print(f"\nwrote {args.results} and {raw}")
    ok = all(ok for r in all_results for _, ok in r["checks"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
