#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every user-visible string of the plug-in is translated in every catalogue of po/LINGUAS.

    check_translations.py SOURCE_ROOT

Extracts the strings from the files in po/POTFILES with xgettext (as the meson pot target does),
then requires a non-empty, non-fuzzy translation in each po/LANG.po whose printf directives match
the original's.  Then the mnemonics, window by window: in English and in every language, the access
keys of the dialog's labels (every string with a mnemonic except the menu label) must differ from
each other and from those of the buttons GIMP's procedure dialog adds (from GIMP's own
gimp30-libgimp catalogue); those of a window of its own (OWN_WINDOWS: the catalogue window) from
each other.
Exit status 0 / 1, 77 when xgettext is missing.
"""
import ast
import gettext
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
    # "%%" first: else "%% v" would read as a directive with the space flag.
    return sorted(re.findall(r"%[-+ #0-9.]*[a-zA-Z]", s.replace("%%", "")))


# Mnemonics outside the dialog (the menu entry).
NOT_IN_DIALOG = {"Style _Transfer…"}
# What GimpProcedureDialog adds: its buttons and the Reset button's menu.
GIMP_DIALOG = ["_Help", "_Reset", "_Cancel", "_OK", "_Load Saved Settings", "_Save Settings",
               "Reset to _Factory Defaults"]
GIMP_LOCALE = "/usr/share/locale"
# Sources that make a window of their own (not GIMP's procedure dialog): the keys of their labels
# need only differ from each other.
OWN_WINDOWS = {"ui/impasto-catalogue.c": "catalogue window"}


def mnemonic(label):
    """The access key of a GTK label ("Stre_ngth" -> "n", "样式(_Y)" -> "y"), or None."""
    m = re.search(r"_([^_\s])", label.replace("__", ""))
    return m.group(1).lower() if m else None


def check_mnemonics(lang, ours, translate, window="dialog", gimp_buttons=GIMP_DIALOG):
    """Our labels' keys are unique and differ from GIMP's dialog buttons' keys.
    translate(msgid) -> (ours translated, GIMP's translated or None when GIMP's catalogue is missing)."""
    keys = {}
    for msgid in ours:
        keys.setdefault(mnemonic(translate(msgid, False)), []).append(translate(msgid, False))
    gimp = []
    for msgid in gimp_buttons:
        text = translate(msgid, True)
        if text is None:
            print(f"FAIL - {lang}: GIMP's catalogue gimp30-libgimp.mo is missing")
            return 1
        gimp.append(text)
    failed = 0
    for key, labels in keys.items():
        clash = [g for g in gimp if mnemonic(g) == key]
        if key is None or len(labels) > 1 or clash:
            failed += 1
            print(f"FAIL - {lang}: mnemonic {key!r} of {labels} clashes "
                  f"{'with GIMP ' + str(clash) if clash else 'within the ' + window}")
    print(f"{'ok  ' if not failed else 'FAIL'} - {lang}: {len(ours)} {window} mnemonics unique"
          + (f" (with GIMP's {', '.join(gimp)})" if gimp else ""))
    return failed


def extract(root, sources):
    """msgids of the given sources, as the meson pot target extracts them."""
    pot = subprocess.run(["xgettext", "--from-code=UTF-8", "--keyword=_", "--keyword=N_",
                          "--language=C", "--no-location", "-o", "-", *sources],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    return list(parse_po(pot))


def labels(msgids):
    # Labels are short; long texts (blurbs) may hold names like IMPASTO_MODEL_PATH.
    return [m for m in msgids if len(m) < 60 and mnemonic(m) and m not in NOT_IN_DIALOG]


def main():
    root = sys.argv[1]
    if shutil.which("xgettext") is None:
        print("FAIL: missing tool: xgettext (gettext)")
        return 1
    po = os.path.join(root, "po")
    sources = [l.strip() for l in open(os.path.join(po, "POTFILES")) if l.strip()]
    msgids = extract(root, sources)
    dialog = labels(extract(root, [f for f in sources if f not in OWN_WINDOWS]))
    windows = {name: labels(extract(root, [f])) for f, name in OWN_WINDOWS.items() if f in sources}
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

        mo = os.path.join(GIMP_LOCALE, lang, "LC_MESSAGES", "gimp30-libgimp.mo")
        gimp_cat = gettext.GNUTranslations(open(mo, "rb")) if os.path.exists(mo) else None
        translate = (lambda m, is_gimp: (gimp_cat.gettext(m) if gimp_cat else None) if is_gimp
                     else (catalogue.get(m, ("", False))[0] or m))
        failed += check_mnemonics(lang, dialog, translate)
        for name, window in windows.items():
            failed += check_mnemonics(lang, window, translate, name, ())
    failed += check_mnemonics("en", dialog, lambda m, is_gimp: m)
    for name, window in windows.items():
        failed += check_mnemonics("en", window, lambda m, is_gimp: m, name, ())
    print(f"{len(langs) * len(msgids) - failed} passed, {failed} failed")
    return 1 if failed or not msgids or len(langs) < 3 or len(dialog) < 5 else 0


if __name__ == "__main__":
    sys.exit(main())
