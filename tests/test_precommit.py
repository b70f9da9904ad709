"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit against this repository.

``pre-commit try-repo`` clones this checkout (HEAD plus uncommitted changes to tracked files), builds a virtualenv
and pip-installs the package into it, exactly as a user's pre-commit would from a tag: the hooks must work from
committed code.  That needs the package index for the dependencies (libcst, click), which CI has.  Nothing is
skipped: a missing pre-commit or git is a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900  # building the hook's virtualenv downloads libcst: be generous

BUGGY = '''\
import triton
import triton.language as tl


@triton.jit
def decode_kernel(state, ssm_state_indices, D: tl.constexpr):
    i = tl.program_id(0)
    state_idx = tl.load(ssm_state_indices + i)
    if state_idx < 0:
        return
    offs = tl.arange(0, D)
    tl.store(state + state_idx * D + offs, tl.zeros([D], dtype=tl.float32))
'''

CLEAN_HELPER = "def add(a, b):\n    return a + b\n"

# The host code that pads the kernel's state indices: the evidence that makes the finding's fix safe.
HOST = '''\
from kernels.decode import decode_kernel

NULL_BLOCK_ID = 0


def decode(state, ssm_state_indices, n):
    ssm_state_indices[n:].fill_(NULL_BLOCK_ID)
    decode_kernel[(n,)](state, ssm_state_indices, D=16)
'''


def _pre_commit() -> list[str]:
    exe = Path(sys.executable).with_name("pre-commit")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pre-commit")
    assert found, "pre-commit is not installed: `pip install -e .[test]` installs it"
    return [found]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = dict(os.environ)
    env.update({
        "PRE_COMMIT_HOME": str(home),  # pre-commit's own cache and log, not the user's
        "PRE_COMMIT_COLOR": "never",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "SENTINEL_LINT_CACHE_DIR": str(home / "lint-cache"),
    })
    for var in ("PRE_COMMIT", "SKIP", "PRE_COMMIT_ALLOW_NO_CONFIG", "GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        env.pop(var, None)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    _git(repo, "config", "commit.gpgsign", "false")
    (repo / "kernels").mkdir()
    (repo / "kernels" / "decode.py").write_text(BUGGY, encoding="utf-8")
    (repo / "helper.py").write_text(CLEAN_HELPER, encoding="utf-8")
    (repo / "host.py").write_text(HOST, encoding="utf-8")
    (repo / "README.txt").write_text("not python\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def try_repo(project: Path, env: dict, hook: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_pre_commit(), "try-repo", str(REPO_ROOT), hook, "--all-files", "--verbose"],
                          cwd=project, env=env, check=False, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)


def test_manifest_declares_both_hooks():
    import yaml  # pre-commit depends on PyYAML

    hooks = {h["id"]: h for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"sentinel-lint", "sentinel-lint-fix"}
    assert hooks["sentinel-lint"]["entry"] == "sentinel-lint check"
    assert hooks["sentinel-lint-fix"]["entry"] == "sentinel-lint fix"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types"] == ["python"]
        assert hook["require_serial"] is False
        assert hook.get("pass_filenames", True) is True


def test_manifest_is_valid_for_pre_commit():
    proc = subprocess.run([*_pre_commit(), "validate-manifest", str(REPO_ROOT / ".pre-commit-hooks.yaml")],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_fails_then_fix_rewrites_then_check_passes(project: Path, env: dict):
    kernel = project / "kernels" / "decode.py"

    check = try_repo(project, env, "sentinel-lint")
    out = check.stdout + check.stderr
    assert check.returncode == 1, out
    assert "kernels/decode.py:9:8: SL001" in out, out
    assert "use `state_idx <= 0`" in out, out
    assert kernel.read_text(encoding="utf-8") == BUGGY  # the check hook writes nothing

    fix = try_repo(project, env, "sentinel-lint-fix")
    out = fix.stdout + fix.stderr
    assert fix.returncode == 1, out  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in out, out
    fixed = kernel.read_text(encoding="utf-8")
    assert "    if state_idx <= 0:\n" in fixed
    assert fixed == BUGGY.replace("if state_idx < 0:", "if state_idx <= 0:")  # nothing else changed
    assert (project / "helper.py").read_text(encoding="utf-8") == CLEAN_HELPER

    again = try_repo(project, env, "sentinel-lint")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Passed" in again.stdout

    fix_again = try_repo(project, env, "sentinel-lint-fix")  # idempotent: nothing left to rewrite
    assert fix_again.returncode == 0, fix_again.stdout + fix_again.stderr
    assert kernel.read_text(encoding="utf-8") == fixed


# -- docs/ci.md: the snippets a user copies ------------------------------------------------------------------------

CI_DOC = (REPO_ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def _yaml_blocks() -> list:
    import re

    import yaml

    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", CI_DOC, re.DOTALL)]


def test_documented_pre_commit_config_is_valid(tmp_path: Path):
    import yaml

    config = next(b for b in _yaml_blocks() if isinstance(b, dict) and "repos" in b)
    manifest = {h["id"] for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    (hooks_repo,) = config["repos"]
    assert [h["id"] for h in hooks_repo["hooks"]] == ["sentinel-lint-fix", "sentinel-lint"]
    assert {h["id"] for h in hooks_repo["hooks"]} <= manifest
    path = tmp_path / ".pre-commit-config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.run([*_pre_commit(), "validate-config", str(path)], check=False, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_documented_workflow_commands_run(tmp_path: Path):
    workflow = next(b for b in _yaml_blocks() if isinstance(b, dict) and "jobs" in b)
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"]
            if "run" in step and step["run"].startswith("sentinel-lint ")]
    assert len(runs) == 2
    uploads = [step for job in workflow["jobs"].values() for step in job["steps"]
               if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert uploads and uploads[0]["with"]["sarif_file"] == "sentinel-lint.sarif"
    (tmp_path / "pyproject.toml").write_text("[tool.sentinel-lint]\n", encoding="utf-8")
    (tmp_path / "k.py").write_text(BUGGY, encoding="utf-8")
    for command in runs:
        args = command.split()[1:]
        proc = subprocess.run([sys.executable, "-m", "sentinel_lint", *args], cwd=tmp_path, check=False,
                              capture_output=True, text=True, timeout=120)
        if "--exit-zero" in args:
            assert proc.returncode == 0, proc.stderr
            assert (tmp_path / "sentinel-lint.sarif").read_text(encoding="utf-8").lstrip().startswith("{")
        else:
            assert proc.returncode == 1, proc.stderr
            assert proc.stdout.startswith("::error file=k.py,line=9,col=8,")
