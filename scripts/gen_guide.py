"""Regenerate the generated parts of docs/guide.md from the code, so that they stay true:

* between ``<!-- BEGIN commands -->`` and ``<!-- END commands -->``: every command of
  ``pjcsync --help`` with its usage line and help (from ``pjcsync.cli.build_parser``);
* between ``<!-- BEGIN config -->`` and ``<!-- END config -->``: every key of
  ``pjcsync.config.SCHEMA`` with its kind, default and meaning.

    .venv/bin/python scripts/gen_guide.py          # rewrite docs/guide.md in place
    .venv/bin/python scripts/gen_guide.py --check  # exit 1 if docs/guide.md is out of date
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GUIDE = ROOT / "docs" / "guide.md"

KIND = {"int": "integer", "float": "number", "str": "string", "bool": "true/false", "floats": "list of numbers",
        "float|floats": "number or list (one per qubit)", "str|float": "string or number",
        "int|str": "integer or string",
        "values": "table: key = [values] or {start, stop, num}"}


def _default(key) -> str:
    from pjcsync.config import REQUIRED
    if key.default is REQUIRED:
        return "**required**"
    if key.default is None:
        return "(none)"
    if isinstance(key.default, bool):
        return "`true`" if key.default else "`false`"
    if isinstance(key.default, str):
        return f'`"{key.default}"`'
    if isinstance(key.default, dict) and not key.default:
        return "(nothing varied)"
    return f"`{key.default!r}`"


def config_table() -> str:
    from pjcsync.config import SCHEMA
    out = []
    for section, keys in SCHEMA.items():
        out += [f"#### `[{section}]`", "", "| key | kind | default | meaning |", "|---|---|---|---|"]
        for name, key in keys.items():
            doc = key.doc.replace("|", "\\|")
            if key.choices:
                doc += " (one of " + ", ".join(f"`{c}`" for c in key.choices) + ")"
            if key.minimum is not None and key.kind in ("int", "float", "float|floats"):
                doc += f"; at least {key.minimum:g}"
            out.append(f"| `{name}` | {KIND.get(key.kind, key.kind)} | {_default(key)} | {doc} |")
        out.append("")
    return "\n".join(out)


def commands() -> str:
    from pjcsync.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {c.dest: c.help for c in sub._choices_actions}
    out = []
    for name, p in sub.choices.items():
        usage = " ".join(p.format_usage().split()[1:])
        out += [f"#### `pjcsync {name}`", "", helps.get(name, ""), "", "```", usage, "```", ""]
        for act in p._actions:
            if act.option_strings and act.help and "-h" not in act.option_strings:
                out.append(f"- `{', '.join(act.option_strings)}`: {act.help}")
        out.append("")
    return "\n".join(out)


def render(text: str) -> str:
    for tag, body in (("commands", commands()), ("config", config_table())):
        pat = re.compile(rf"(<!-- BEGIN {tag} -->\n).*?(<!-- END {tag} -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"{GUIDE}: markers for {tag!r} not found")
        text = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description="regenerate docs/guide.md's tables")
    ap.add_argument("--check", action="store_true", help="only check that the guide is up to date")
    args = ap.parse_args()
    old = GUIDE.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print(f"{GUIDE} is out of date: run .venv/bin/python scripts/gen_guide.py", file=sys.stderr)
            return 1
        return 0
    GUIDE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
