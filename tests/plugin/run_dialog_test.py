#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real dialog in a real GIMP on Xvfb.

    run_dialog_test.py --build BUILD --plugindir DIR [--screenshot OUT.png]

Installs the plug-in into a throw-away profile, starts GIMP 3 on a private Xvfb display with a
Python-Fu batch script (dialog_gimp.py) that opens a 96x64 photo and runs plug-in-impasto
interactively.  This driver waits for the "Style Transfer" dialog and for its first live preview,
takes a screenshot of the dialog (xwd + ImageMagick), presses OK, checks that the new layer is on
top, then presses Ctrl+Z in the image window and checks that one undo step removed it.
Exit status: 0 passed, 1 failed, 77 skipped (no gimp-3.0, Xvfb, xdotool, xwd or convert).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
TOOLS = ("gimp-3.0", "Xvfb", "xdotool", "xwd", "convert")
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import run_plugin_tests as common  # noqa: E402  (install, inputs, check())


def wait_for(predicate, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def read_facts(path):
    facts = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                facts[key] = value
    return facts


def xdotool(display, *args):
    proc = subprocess.run(["xdotool", *args], env=dict(os.environ, DISPLAY=display),
                          capture_output=True, text=True)
    return proc.stdout.split()


def find_window(display, name):
    ids = xdotool(display, "search", "--onlyvisible", "--name", name)
    return ids[-1] if ids else None


def press(display, window, keys):
    """Focus window (no window manager runs) and type keys into it."""
    xdotool(display, "windowactivate", "--sync", window)
    xdotool(display, "windowfocus", "--sync", window)
    time.sleep(0.3)
    xdotool(display, "key", "--clearmodifiers", keys)


def preview_settled(log_text):
    """The last preview line says "drawn" and nothing new came for a second."""
    def last():
        lines = [l for l in log_text().splitlines() if l.startswith("impasto: preview")]
        return lines[-1] if lines else ""
    before = last()
    if "drawn" not in before:
        return False
    time.sleep(1.0)
    return last() == before and len(log_text()) > 0


def make_dialog_models(shared, models, folder):
    """The shared models (symlinked) plus a sidecar with a thumbnail for udnie-9."""
    os.makedirs(folder)
    for name in os.listdir(models):
        if name.endswith(".onnx"):
            os.symlink(os.path.join(models, name), os.path.join(folder, name))
    painting = os.path.join(shared, "models-src", "images-style", "udnie.jpg")
    thumb = common.GdkPixbuf.Pixbuf.new_from_file_at_scale(painting, 96, 96, True)
    thumb.savev(os.path.join(folder, "udnie-thumbnail.png"), "png", [], [])
    with open(os.path.join(folder, "udnie-9.json"), "w") as f:
        f.write('{"name": "Udnie", "description": "Francis Picabia, Udnie (1913)", '
                '"author": "pytorch/examples fast-neural-style", "license": "BSD-3-Clause", '
                '"thumbnail": "udnie-thumbnail.png"}\n')


def screenshot(display, window, path):
    xwd = subprocess.run(["xwd", "-silent", "-id", window], capture_output=True,
                         env=dict(os.environ, DISPLAY=display))
    subprocess.run(["convert", "xwd:-", path], input=xwd.stdout, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--plugindir", required=True)
    parser.add_argument("--screenshot", default="")
    args = parser.parse_args()
    shared = os.environ.get("IMPASTO_SHARED", "")
    models = os.path.realpath(os.path.join(shared, "models"))
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"SKIP: missing {', '.join(missing)}")
        return SKIP
    if not os.path.exists(os.path.join(models, "mosaic-9.onnx")):
        print(f"SKIP: no shared models in {models}")
        return SKIP

    work = tempfile.mkdtemp(prefix="impasto-dialog-test-")
    test_dir = os.path.join(work, "dialog")
    os.makedirs(test_dir)
    common.make_inputs(shared, test_dir)
    photo = os.path.join(shared, "models-src", "images-content", "chelsea.png")
    common.GdkPixbuf.Pixbuf.new_from_file(photo).scale_simple(
        360, 240, common.GdkPixbuf.InterpType.BILINEAR).savev(
        os.path.join(test_dir, "dialog-in.png"), "png", [], [])
    dialog_models = os.path.join(work, "models")
    make_dialog_models(shared, models, dialog_models)
    profile = common.new_profile(work, "profile", common.install(args.build, args.plugindir, work))
    with open(os.path.join(profile, "gimprc"), "w") as f:
        f.write("(show-welcome-dialog no)\n(show-tips no)\n")

    display = f":{90 + os.getpid() % 500}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path = os.path.join(work, "gimp.log")
    gimp = None
    try:
        time.sleep(1.0)
        env = dict(os.environ, DISPLAY=display, GIMP3_DIRECTORY=profile, IMPASTO_MODEL_PATH=dialog_models,
                   IMPASTO_TEST_DIR=test_dir, IMPASTO_PREVIEW_LOG="1", LANG="C.UTF-8",
                   LC_ALL="C.UTF-8", NO_AT_BRIDGE="1", GTK_A11Y="none",
                   **common.sanitizer_env())
        script = os.path.join(here, "dialog_gimp.py")
        with open(log_path, "w") as log:
            gimp = subprocess.Popen(["gimp-3.0", "--no-splash", "--batch-interpreter=python-fu-eval",
                                     "-b", f"exec(open({script!r}).read())", "--quit"],
                                    env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        log_text = lambda: open(log_path, errors="replace").read()

        window = wait_for(lambda: find_window(display, "^Style Transfer$"), 120, 0.5)
        if not common.check("the Style Transfer dialog opens", window is not None,
                            log_text()[-2000:]):
            return 1
        drawn = wait_for(lambda: preview_settled(log_text), 60)
        common.check("the live preview is drawn", drawn, log_text()[-2000:])
        shot = os.path.join(work, "dialog.png")
        screenshot(display, window, shot)
        common.check("screenshot of the dialog taken", os.path.getsize(shot) > 10000)
        if args.screenshot:
            shutil.copy2(shot, args.screenshot)
            print(f"# screenshot: {args.screenshot}")

        press(display, window, "Return")
        facts_path = os.path.join(test_dir, "facts.txt")
        facts = wait_for(lambda: (lambda f: f if "ok-done" in f else None)(read_facts(facts_path)),
                         120)
        if not common.check("OK runs the filter", facts and facts.get("status") == "success",
                            f"{facts}\n{log_text()[-2000:]}"):
            return 1
        common.check("a new layer on top named 'Udnie (Impasto)' (sidecar name)",
                     facts.get("layers") == "2" and facts.get("top-name") == "Udnie (Impasto)",
                     str(facts))
        common.check("the new layer has the source's size", facts.get("top-size") == "360x240",
                     facts.get("top-size"))

        image_window = find_window(display, r"^\*?\[.*GIMP$")
        if common.check("the image window is found", image_window is not None):
            press(display, image_window, "ctrl+z")
        open(os.path.join(test_dir, "undone"), "w").close()
        facts = wait_for(lambda: (lambda f: f if "done" in f else None)(read_facts(facts_path)), 60)
        common.check("one undo step removes the new layer",
                     facts and facts.get("layers-after-undo") == "1" and
                     facts.get("name-after-undo") != "Udnie (Impasto)", str(facts))
        bad = common.criticals(log_text())
        common.check("no CRITICAL in GIMP's log", not bad, "\n".join(bad[:5]))
        bad = common.sanitizer_reports(log_text())
        common.check("no sanitizer report from our code", not bad, "\n".join(bad[:5]))
        clashes = [l for l in log_text().splitlines() if "mnemonic" in l.lower()]
        common.check("no mnemonic warnings", not clashes, "\n".join(clashes[:5]))
    finally:
        if gimp is not None:
            try:
                gimp.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gimp.pid, signal.SIGKILL)  # GIMP and its plug-ins: our session only
                gimp.wait()
        xvfb.terminate()
        xvfb.wait()
        if not os.environ.get("IMPASTO_KEEP_TEST_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    print(f"{common.passed} passed, {common.failed} failed")
    return 1 if common.failed else 0


if __name__ == "__main__":
    sys.exit(main())
