"""Score sentinel-lint on the blind engines: small multi-file engines written, with labels, by people who never
read this repository (fixtures/blind/<set>/<engine>/, each with its LABELS.json).

usage: python benchmarks/blind_score.py [--json OUT] [--verbose] [ENGINE_DIR ...]

Each engine is checked zero-config from its own root, as a user would (`sentinel-lint check .`), and compared
with its labels:
  wrong guards      found = an SL001 on the labelled line
  right guards      a false alarm = an SL001 there (worse if its fix is marked safe: it would break the guard)
  unlabelled        SL001 findings on lines no label names (read them: a missed label or a false alarm)
  mixed padding     found = an SL003 on that kernel naming the parameter
  unguarded stores  found = an SL002 on the labelled store; a false alarm = an SL002 on a store labelled safe
  impact            for wrong guards found, whether the finding's impact matches the label's
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLIND = HERE.parent / "fixtures" / "blind"


def run_tool(engine: Path) -> dict:
    env = dict(os.environ, NO_COLOR="1", CI="1")
    proc = subprocess.run([sys.executable, "-m", "sentinel_lint", "check", "--no-cache", "--exit-zero",
                           "--output-format", "json", "."], cwd=engine, capture_output=True, text=True, env=env,
                          timeout=600)
    if proc.returncode not in (0, 2) or not proc.stdout.strip():
        raise SystemExit(f"{engine}: sentinel-lint failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)


def score_engine(engine: Path) -> dict:
    labels = json.loads((engine / "LABELS.json").read_text(encoding="utf-8"))
    doc = run_tool(engine)
    diags = doc["diagnostics"]
    by_line: dict[tuple[str, int, str], list[dict]] = {}
    for d in diags:
        by_line.setdefault((d["path"], d["line"], d["code"]), []).append(d)
    out = {"engine": engine.name, "set": engine.parent.name, "errors": doc["errors"], "wrong_found": [],
           "wrong_missed": [], "false_alarms": [], "unsafe_false_alarms": [], "unlabelled": [], "mixed_found": [],
           "mixed_missed": [], "sl003_unlabelled": [], "stores_found": [], "stores_missed": [],
           "store_false_alarms": [], "impact_right": 0, "impact_wrong": [], "wrong": 0, "right": 0, "mixed": 0,
           "stores_bug": 0, "stores_safe": 0}
    labelled = set()
    for g in labels.get("guards", []):
        key = (g["path"], g["line"], "SL001")
        labelled.add(key)
        hits = by_line.get(key, [])
        if g["verdict"] == "wrong":
            out["wrong"] += 1
            if hits:
                out["wrong_found"].append(g)
                impact = hits[0].get("impact", {}).get("kind") if isinstance(hits[0].get("impact"), dict) else None
                if impact is not None:
                    if impact == g.get("impact"):
                        out["impact_right"] += 1
                    else:
                        out["impact_wrong"].append((g["path"], g["line"], g.get("impact"), impact))
            else:
                out["wrong_missed"].append(g)
        else:
            out["right"] += 1
            if hits:
                out["false_alarms"].append((g, hits[0]["message"]))
                if any(h.get("fix", {}).get("safe") for h in hits):
                    out["unsafe_false_alarms"].append(g)
    for d in diags:
        key = (d["path"], d["line"], d["code"])
        if d["code"] == "SL001" and key not in labelled:
            out["unlabelled"].append((d["path"], d["line"], d["message"], bool(d.get("fix", {}).get("safe"))))
    mixed_labels = labels.get("mixed", [])
    matched = set()
    for m in mixed_labels:
        out["mixed"] += 1
        hit = [i for i, d in enumerate(diags) if d["code"] == "SL003" and d["path"] == m["kernel_path"]
               and f"`{m['param']}`" in d["message"]]
        matched |= set(hit)
        (out["mixed_found"] if hit else out["mixed_missed"]).append(m)
    out["sl003_unlabelled"] = [(d["path"], d["line"], d["message"]) for i, d in enumerate(diags)
                               if d["code"] == "SL003" and i not in matched]
    for s in labels.get("unguarded_stores", []):
        hits = by_line.get((s["path"], s["line"], "SL002"), [])
        if s["verdict"] == "bug":
            out["stores_bug"] += 1
            (out["stores_found"] if hits else out["stores_missed"]).append(s)
        else:
            out["stores_safe"] += 1
            if hits:
                out["store_false_alarms"].append(s)
    return out


def totals(results: list[dict]) -> dict:
    keys = ("wrong", "right", "mixed", "stores_bug", "stores_safe", "impact_right")
    total = {k: sum(r[k] for r in results) for k in keys}
    for k in ("wrong_found", "false_alarms", "unsafe_false_alarms", "unlabelled", "mixed_found",
              "sl003_unlabelled", "stores_found", "store_false_alarms", "impact_wrong", "errors"):
        total[k] = sum(len(r[k]) for r in results)
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engines", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="write the per-engine results here")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args(argv)
    engines = args.engines or sorted(p.parent for p in BLIND.glob("*/*/LABELS.json"))
    results = [score_engine(e.resolve()) for e in engines]
    print(f"{'set/engine':28} {'wrong found':>11} {'false alarms':>12} {'(safe fix)':>10} {'unlabelled':>10} "
          f"{'SL003':>7} {'SL002':>7} {'SL002 FA':>8} {'errors':>6}")
    for r in results:
        print(f"{r['set'] + '/' + r['engine']:28} {len(r['wrong_found']):>5}/{r['wrong']:<5} "
              f"{len(r['false_alarms']):>6}/{r['right']:<5} {len(r['unsafe_false_alarms']):>10} "
              f"{len(r['unlabelled']):>10} {len(r['mixed_found']):>3}/{r['mixed']:<3} "
              f"{len(r['stores_found']):>3}/{r['stores_bug']:<3} {len(r['store_false_alarms']):>4}/{r['stores_safe']:<3} "
              f"{len(r['errors']):>6}")
        if args.verbose:
            for g in r["wrong_missed"]:
                print(f"    missed    {g['path']}:{g['line']} `{g['text']}` ({g['param']})")
            for g, message in r["false_alarms"]:
                print(f"    false     {g['path']}:{g['line']} `{g['text']}`: {message}")
            for path, line, message, safe in r["unlabelled"]:
                print(f"    unlabelled {path}:{line}: {message}{' [safe fix]' if safe else ''}")
            for m in r["mixed_missed"]:
                print(f"    SL003 miss {m['kernel_path']} {m['kernel']}({m['param']}) {m['values']}")
            for path, line, message in r["sl003_unlabelled"]:
                print(f"    SL003 unlabelled {path}:{line}: {message}")
            for s in r["stores_missed"]:
                print(f"    SL002 miss {s['path']}:{s['line']} {s['kernel']}({s['param']})")
            for s in r["store_false_alarms"]:
                print(f"    SL002 false {s['path']}:{s['line']} {s['kernel']}({s['param']})")
            for item in r["impact_wrong"]:
                print(f"    impact    {item}")
            for e in r["errors"]:
                print(f"    error     {e['path']}:{e['line']}: {e['reason']}")
    t = totals(results)
    print(f"\nTOTAL wrong guards found {t['wrong_found']}/{t['wrong']}; false alarms {t['false_alarms']}/{t['right']} "
          f"right guards ({t['unsafe_false_alarms']} with a safe fix); unlabelled SL001 {t['unlabelled']}; "
          f"SL003 {t['mixed_found']}/{t['mixed']} (+{t['sl003_unlabelled']} unlabelled); "
          f"SL002 {t['stores_found']}/{t['stores_bug']}, false {t['store_false_alarms']}/{t['stores_safe']}; "
          f"impact matches {t['impact_right']}/{t['wrong_found']}; errors {t['errors']}")
    if args.json:
        args.json.write_text(json.dumps({"engines": results, "totals": t}, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
