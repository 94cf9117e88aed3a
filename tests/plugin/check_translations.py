#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every user-visible string of the plug-in is translated in every catalogue of po/LINGUAS.

    check_translations.py SOURCE_ROOT

Extracts the strings from the files in po/POTFILES with xgettext (as the meson pot target does),
then requires a non-empty, non-fuzzy translation in each po/LANG.po whose printf directives match
the original's.  Exit status 0 / 1, 77 when xgettext is missing.
"""
import ast
import os
import re
import shutil
import subprocess
import sys


def parse_po(text):
    """{msgid: (msgstr, fuzzy)} from PO text (no plurals or contexts are used here)."""
    entries, fuzzy, field, parts = {}, False, None, {"msgid": [], "msgstr": []}

    def flush():
        if parts["msgid"] or parts["msgstr"]:
            msgid = "".join(parts["msgid"])
            if msgid:
                entries[msgid] = ("".join(parts["msgstr"]), fuzzy)

    for line in text.splitlines() + [""]:
        line = line.strip()
        if not line:
            flush()
            fuzzy, field, parts = False, None, {"msgid": [], "msgstr": []}
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid ") or line.startswith("msgstr "):
            field, rest = line.split(" ", 1)
            parts[field].append(ast.literal_eval(rest))
        elif line.startswith('"') and field:
            parts[field].append(ast.literal_eval(line))
    return entries


def directives(s):
    return sorted(re.findall(r"%[-+ #0-9.]*[a-zA-Z]", s))


def main():
    root = sys.argv[1]
    if shutil.which("xgettext") is None:
        print("FAIL: missing tool: xgettext (gettext)")
        return 1
    po = os.path.join(root, "po")
    sources = [l.strip() for l in open(os.path.join(po, "POTFILES")) if l.strip()]
    pot = subprocess.run(["xgettext", "--from-code=UTF-8", "--keyword=_", "--keyword=N_",
                          "--language=C", "--no-location", "-o", "-", *sources],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    msgids = [m for m in parse_po(pot)]
    failed = 0
    langs = [l.strip() for l in open(os.path.join(po, "LINGUAS")) if l.strip()]
    for lang in langs:
        before = failed
        catalogue = parse_po(open(os.path.join(po, lang + ".po"), encoding="utf-8").read())
        for msgid in msgids:
            msgstr, fuzzy = catalogue.get(msgid, ("", False))
            problem = ("missing" if not msgstr else "fuzzy" if fuzzy else
                       "printf directives differ" if directives(msgstr) != directives(msgid) else "")
            if problem:
                failed += 1
                print(f"FAIL - {lang}: {problem}: {msgid[:70]!r}")
        print(f"{'ok  ' if failed == before else 'FAIL'} - {lang}: {len(msgids)} strings checked")
    print(f"{len(langs) * len(msgids) - failed} passed, {failed} failed")
    return 1 if failed or not msgids or len(langs) < 3 else 0


if __name__ == "__main__":
    sys.exit(main())
