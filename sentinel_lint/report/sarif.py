"""SARIF 2.1.0 for GitHub code scanning: rules with help, results with regions, fixes, and the convention chain as
related locations and a code flow."""
from __future__ import annotations

import json
from urllib.parse import quote

from .. import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(path: str, line: int, col: int | None = None, end_line: int | None = None, end_col: int | None = None,
              message: str | None = None, ident: int | None = None) -> dict:
    physical: dict = {"artifactLocation": {"uri": quote(path), "uriBaseId": "%SRCROOT%"}}
    if line and line > 0:  # an unknown line gets no region, rather than a made-up line 1
        region = {"startLine": line}
        if col is not None:
            region["startColumn"] = col + 1
        if end_line:
            region["endLine"] = end_line
            if end_col is not None:
                region["endColumn"] = end_col + 1
        physical["region"] = region
    loc = {"physicalLocation": physical}
    if message:
        loc["message"] = {"text": message}
    if ident is not None:
        loc["id"] = ident
    return loc


def _rule_descriptor(rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(rule.what.split())},
        "help": {"text": rule.explain(), "markdown": rule.explain()},
        "defaultConfiguration": {"level": "error"},
    }


def emit(result, **_) -> str:
    from ..checks import RULES  # rule documentation: only this report carries it

    codes = sorted(RULES)
    results = []
    for d in result.diagnostics:
        item = {
            "ruleId": d.code,
            "level": "error",
            "message": {"text": d.message},
            "locations": [_location(d.path, max(d.line, 1), d.col, d.end_line or d.line,
                                    d.end_col if d.end_line else None)],
        }
        if d.code in codes:
            item["ruleIndex"] = codes.index(d.code)
        if d.related:
            item["relatedLocations"] = [
                _location(e.path, e.line, message=e.what + (" (linked by name)" if e.by_name else ""), ident=i)
                for i, e in enumerate(d.related)
            ]
            item["codeFlows"] = [{
                "threadFlows": [{
                    "locations": [{"location": _location(e.path, e.line, message=e.what)} for e in d.related]
                }]
            }]
        if d.fix is not None:
            replacements = [{
                "deletedRegion": {"startLine": e.line, "startColumn": e.col + 1, "endLine": e.end_line,
                                  "endColumn": e.end_col + 1},
                "insertedContent": {"text": e.text},
            } for e in d.fix.edits]
            item["fixes"] = [{
                "description": {"text": d.fix.description},
                "artifactChanges": [{"artifactLocation": {"uri": quote(d.path), "uriBaseId": "%SRCROOT%"},
                                     "replacements": replacements}],
            }]
        results.append(item)
    notifications = [{
        "level": "error",
        "message": {"text": e.reason},
        "locations": [_location(e.path, max(e.line, 1), e.col)],
    } for e in result.errors]
    run = {
        "tool": {"driver": {
            "name": "sentinel-lint",
            "version": __version__,
            "informationUri": "https://pypi.org/project/sentinel-lint/",
            "rules": [_rule_descriptor(RULES[c]) for c in codes],
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if notifications:
        run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": notifications}]
    else:
        run["invocations"] = [{"executionSuccessful": True}]
    return json.dumps({"version": "2.1.0", "$schema": SCHEMA, "runs": [run]}, indent=2) + "\n"
