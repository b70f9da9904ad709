"""Command line: arguments and exit codes, nothing else.  0 clean, 1 findings, 2 usage, configuration or parse errors."""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import click

from . import __version__
from .config import ConfigError, available_packs, load_settings
from .diagnostics import printable
from .engine import run
from .report import EMITTERS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _common(func):
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="pyproject.toml to read [tool.sentinel-lint] from (default: nearest one above PATH)."),
        click.option("--rule-pack", help=f"Set the conventions explicitly from a pack: {', '.join(available_packs())}."),
        click.option("--sentinel", "sentinel", metavar="[NAME=]VALUE",
                     help="Set the padding value of block tables and state indices explicitly, e.g. NULL_BLOCK_ID=0."),
        click.option("--no-infer", is_flag=True, help="Do not read conventions from the code that writes the padding."),
        click.option("--select", help="Comma-separated rule codes to run."),
        click.option("--ignore", help="Comma-separated rule codes to skip."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: number of cores)."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the cache."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Cache directory (default: per user, outside the project; see docs/cache.md)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(paths, config_file, rule_pack, sentinel, no_infer, select, ignore):
    overrides: dict = {}
    if rule_pack:
        overrides["rule-pack"] = rule_pack
    if no_infer:
        overrides["infer"] = False
    if select:
        overrides["select"] = [c.strip() for c in select.split(",") if c.strip()]
    if ignore:
        overrides["ignore"] = [c.strip() for c in ignore.split(",") if c.strip()]
    if sentinel:
        name, _, value = sentinel.rpartition("=")
        try:
            overrides["sentinel"] = {"name": name, "value": int(value)} if name else {"value": int(value)}
        except ValueError:
            raise ConfigError(f"--sentinel expects [NAME=]INTEGER, got {sentinel!r}") from None
    return load_settings(paths, config_file=config_file, overrides=overrides)


def _cache_dir(settings, no_cache: bool, cache_dir: Path | None) -> Path | None:
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir
    from .cache import default_cache_dir

    return default_cache_dir(settings.root)


class _Progress:
    """A progress bar on a terminal; nothing when piped or in CI."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled
        self.label = label
        self.bar = None

    def start(self, total: int) -> None:
        if self.enabled and total > 0:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _progress(label: str, quiet: bool) -> _Progress:
    enabled = sys.stderr.isatty() and not os.environ.get("CI") and not quiet
    return _Progress(enabled, label)


def _prepare(ctx_paths, config_file, rule_pack, sentinel, no_infer, select, ignore):
    paths = list(ctx_paths) or [Path(".")]
    for path in paths:
        if not path.exists():
            raise click.UsageError(f"path does not exist: {path}")
    return paths, _settings(paths, config_file, rule_pack, sentinel, no_infer, select, ignore)


class _Group(click.Group):
    """No traceback reaches the user: an unexpected exception is one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except ConfigError as exc:
            click.echo(f"sentinel-lint: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            click.echo(f"sentinel-lint: internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
            sys.exit(EXIT_ERROR)


def write_report(path: Path, text: str) -> None:
    """Write a report file, creating its directory; a failure is a clear error (exit 2), not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sentinel-lint")
def main() -> None:
    """Find and fix Triton kernel guards that disagree with how their index tensors are padded."""


@main.command()
@_common
@click.option("--output-format", type=click.Choice(sorted(EMITTERS)), default="text", show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print counts per rule instead of each finding.")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
def check(paths, config_file, rule_pack, sentinel, no_infer, select, ignore, jobs, no_cache, cache_dir, output_format,
          exit_zero, statistics, quiet, output_file):
    """Report guards that disagree with their tensor's padding convention."""
    try:
        paths, settings = _prepare(paths, config_file, rule_pack, sentinel, no_infer, select, ignore)
    except ConfigError as exc:
        click.echo(f"sentinel-lint: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    progress = _progress("Checking", quiet or output_format != "text")
    try:
        result = run(paths, settings, jobs=jobs, cache_dir=_cache_dir(settings, no_cache, cache_dir), progress=progress)
    finally:
        progress.close()
    if os.environ.get("SENTINEL_LINT_TIMINGS"):  # where a run's time goes, for benchmarks and bug reports
        phases = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in result.stats.phases.items())
        click.echo(f"sentinel-lint: timings: {phases}; total {result.stats.elapsed:.2f}s", err=True)
    color = output_format == "text" and output_file is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    report = EMITTERS[output_format](result, color=color, statistics=statistics, quiet=quiet)
    if output_file is not None:
        write_report(output_file, report)
    else:
        click.echo(report, nl=False)
    if result.errors:
        sys.exit(EXIT_ERROR)
    if result.diagnostics and not exit_zero:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


@main.command()
@_common
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff and write nothing.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if anything would change.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes marked unsafe.")
@click.option("--allow-read-only", is_flag=True, help="Also rewrite files without write permission bits.")
@click.option("--quiet", "-q", is_flag=True, help="Print only what changed.")
def fix(paths, config_file, rule_pack, sentinel, no_infer, select, ignore, jobs, no_cache, cache_dir, show_diff,
        check_only, unsafe_fixes, allow_read_only, quiet):
    """Rewrite wrong guards to the form the convention requires, changing nothing else."""
    from . import api

    started = time.perf_counter()
    try:
        paths, settings = _prepare(paths, config_file, rule_pack, sentinel, no_infer, select, ignore)
    except ConfigError as exc:
        click.echo(f"sentinel-lint: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    write = not (show_diff or check_only)
    progress = _progress("Scanning", quiet)
    try:
        outcome = api.fix(paths, settings, unsafe=unsafe_fixes, write=write, allow_read_only=allow_read_only,
                          jobs=jobs, cache_dir=_cache_dir(settings, no_cache, cache_dir), progress=progress)
    finally:
        progress.close()
    first = outcome.analysis
    for changed in outcome.files:
        if show_diff:
            import difflib
            from .source import split_lines

            click.echo("".join(difflib.unified_diff(split_lines(changed.original), split_lines(changed.fixed),
                                                    fromfile=f"a/{changed.path}", tofile=f"b/{changed.path}")),
                       nl=False)
        elif not quiet:
            verb = "Would fix" if check_only else "Fixed"
            for d in changed.applied:
                click.echo(f"{verb} {printable(d.path)}:{d.line}:{d.col + 1}: {d.code} {d.message}")
    for d in outcome.remaining if not quiet else ():
        click.echo(f"{printable(d.path)}:{d.line}:{d.col + 1}: {d.code} {d.message} "
                   f"(not fixed: {d.unfixable_reason or 'unsafe'})")
    errors = first.errors + outcome.errors
    for error in errors:
        click.echo(f"{printable(error.path)}:{error.line}:{error.col + 1}: E902 {error.reason}", err=True)
    if not quiet:
        s = first.stats
        by_rule = Counter(d.code for d in first.diagnostics)
        rules = ", ".join(f"{c}: {n}" for c, n in sorted(by_rule.items())) or "none"
        verb = "would fix" if not write else "fixed"
        click.echo(
            f"{s.files_seen} files scanned, {s.files_skipped_by_prefilter} skipped by prefilter, "
            f"{s.files_with_kernels} with kernels, {len(outcome.files)} {verb} ({len(outcome.applied)} guards); "
            f"findings by rule: {rules}; {time.perf_counter() - started:.2f}s",
            err=True,
        )
    if errors:
        sys.exit(EXIT_ERROR)
    if check_only and outcome.files:
        sys.exit(EXIT_FINDINGS)
    if write and outcome.remaining:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


@main.command()
@_common
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def conventions(paths, config_file, rule_pack, sentinel, no_infer, select, ignore, jobs, no_cache, cache_dir,
                output_format):
    """Show the convention that reaches each kernel index parameter, and the chain that proves it."""
    try:
        paths, settings = _prepare(paths, config_file, rule_pack, sentinel, no_infer, select, ignore)
    except ConfigError as exc:
        click.echo(f"sentinel-lint: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    result = run(paths, settings, jobs=jobs, cache_dir=_cache_dir(settings, no_cache, cache_dir))
    items = []
    for pc in result.conventions:
        conv = pc.convention
        items.append({
            "path": pc.path,
            "kernel": pc.kernel,
            "param": pc.param,
            "launched_as": pc.launched_as or None,
            "source": pc.status,
            "convention": conv.to_json() if conv else None,
            "mixed": [{"value": v, "chain": [e.to_json() for e in r.chain]} for v, r in pc.mixed],
        })
    if output_format == "json":
        click.echo(json.dumps({"schema": "sentinel-lint-conventions/1", "parameters": items}, indent=2))
        return
    for pc in result.conventions:
        conv = pc.convention
        head = f"{pc.path}: {pc.kernel}({pc.param})"
        if conv is None:
            click.echo(f"{head}: {pc.status}")
            continue
        click.echo(f"{head}: {conv.summary()} [{pc.status}: {conv.origin}]")
        for chain in conv.chains[:3]:
            for i, e in enumerate(chain):
                arrow = "  " if i == 0 else "  → "
                if not e.path:  # a field link made by name, between two of the steps around it
                    click.echo(f"    {arrow}(linked by field name: {e.what})")
                    continue
                loc = f"{e.path}:{e.line}" if e.line else e.path
                click.echo(f"    {arrow}{loc}: {e.what}{' (by name)' if e.by_name else ''}")
        if len(conv.chains) > 3:
            click.echo(f"    … and {len(conv.chains) - 3} more chains")
    if not result.conventions:
        click.echo("No kernel index parameters found.")


@main.command("rules")
def list_rules():
    """List the rules."""
    from .checks import RULES

    for code, rule in sorted(RULES.items()):
        click.echo(f"{code}  {rule.name:30s} {rule.summary}")


@main.command()
@click.argument("code")
def explain(code):
    """Print one rule's documentation."""
    from .checks import RULES

    rule = RULES.get(code.upper())
    if rule is None:
        click.echo(f"sentinel-lint: error: unknown rule {code!r}; known: {', '.join(sorted(RULES))}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(rule.explain(), nl=False)
