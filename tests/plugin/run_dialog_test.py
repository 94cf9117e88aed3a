#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real dialog in a real GIMP on Xvfb.

    run_dialog_test.py --build BUILD --plugindir DIR [--screenshot OUT.png]

Installs the plug-in into a throw-away profile, starts GIMP 3 on a private Xvfb display with a
Python-Fu batch script (dialog_gimp.py) that opens a 960x640 photo and runs plug-in-impasto
interactively.  This driver waits for the "Style Transfer" dialog and for its first preview (the
whole image), takes a screenshot of the dialog (xwd + ImageMagick; OUT.png), picks another style
from the list and back (a new preview each time, the same dialog width, and while the first is
computed the last result stays on screen: OUT-busy.png), turns on the split
view (its mnemonic) and drags the divider with the mouse (OUT-split.png: left of the divider the
layer as it is, right of it the same result as before), zooms to 100 % (OUT-zoom.png, a new 1:1
preview, with the whole image's statistics), pans it a few times with the statistics cached (each
1:1 preview equals the same region of the CLI's result; their latencies, from the request to the
preview on screen, are printed: issue 12's 0.5 s), sets the stroke size to 2 (a 1:1 preview with
the half-size copy's statistics, computed once), presses OK, checks that the new layer is on top
and that the last 1:1 preview (stroke size 2) equals the same region of it (issue 12's bound), then
presses Ctrl+Z in the image window and checks that one undo step removed it.
Exit status: 0 passed, 1 failed (also without gimp-3.0, Xvfb, xdotool, xwd, convert or the shared
models), 77 skipped (no shared models and IMPASTO_ALLOW_MISSING_DATA=1).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

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


def preview_lines(log_text):
    return [l for l in log_text().splitlines() if l.startswith("impasto: preview")]


def preview_settled(log_text, after=0):
    """Past the first `after` preview lines, the last says "drawn" and nothing new came for a
    second; returns that line."""
    lines = preview_lines(log_text)
    if len(lines) <= after or "drawn" not in lines[-1]:
        return None
    time.sleep(1.0)
    return lines[-1] if preview_lines(log_text) == lines else None


def preview_area(line):
    """(x, y, width, height) of the preview area in the dialog, from a "drawn" line."""
    m = re.search(r"area at (\d+),(\d+) size (\d+)x(\d+)", line or "")
    return tuple(int(v) for v in m.groups()) if m else None


def drag(display, window, x, y, dx, dy, steps=6):
    xdotool(display, "mousemove", "--window", window, str(x), str(y))
    xdotool(display, "mousedown", "1")
    for step in range(1, steps + 1):
        xdotool(display, "mousemove", "--window", window, str(x + step * dx // steps),
                str(y + step * dy // steps))
        time.sleep(0.03)
    xdotool(display, "mouseup", "1")


def drawn_at(line):
    """(x, y, ms) of a "drawn" line at scale 1."""
    m = re.search(r"\((\d+) x (\d+), (\d+) ms;.*layer (\d+),(\d+) scale 1\.000", line or "")
    return tuple(int(v) for v in m.groups()) if m else None


def preview_vs(name, test_dir, line, truth):
    """The dumped preview (the last drawn, at 1:1) against the same region of truth [H, W, 3]."""
    at = drawn_at(line)
    path = os.path.join(test_dir, "preview.png")
    if not common.check(f"{name}: the 1:1 preview is found", at and os.path.exists(path), line):
        return
    w, h, _, px, py = at
    preview = common.load_png(path)[..., :3].astype(int)
    d = abs(truth[py:py + h, px:px + w] - preview[:h, :w])
    common.check(f"{name} (mean |diff| <= 2/255, max <= 8/255)",
                 d.size and d.mean() <= 2 and d.max() <= 8,
                 f"{w}x{h} at {px},{py}: mean {d.mean():.3f}/255, max {d.max()}/255")


def crop(path, box):
    x, y, w, h = box
    return common.load_png(path)[y:y + h, x:x + w, :3].astype(int)


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


def save_shot(args, shot, suffix):
    if args.screenshot:
        root, ext = os.path.splitext(args.screenshot)
        shutil.copy2(shot, root + suffix + ext)
        print(f"# screenshot: {root + suffix + ext}")


def check_no_flash(display, window, gimp, count, shot, area, busy_shot):
    """While the new style's preview is computed, the area still shows the last result (shot),
    not the layer as it is."""
    wait_for(lambda: len(preview_lines(gimp.log)) > count, 10, 0.05)
    time.sleep(0.5)  # a frame or two, so the spinner is drawn
    screenshot(display, window, busy_shot)
    lines = preview_lines(gimp.log)[count:]
    if any("drawn" in line for line in lines) or not lines or area is None:
        print("# no flash: not checked, the new preview was ready before the screenshot: "
              + " | ".join(lines))
        return
    diff = float(abs(crop(busy_shot, area) - crop(shot, area)).mean())
    common.check("no flash: while the new preview is computed the last result stays on screen",
                 diff < 1, f"mean |diff| to the last result {diff:.2f}")


def window_width(display, window):
    out = subprocess.run(["xdotool", "getwindowgeometry", window], capture_output=True, text=True,
                         env=dict(os.environ, DISPLAY=display)).stdout
    m = re.search(r"Geometry: (\d+)x", out)
    return int(m.group(1)) if m else None


def screenshot(display, window, path):
    xwd = subprocess.run(["xwd", "-silent", "-id", window], capture_output=True,
                         env=dict(os.environ, DISPLAY=display))
    subprocess.run(["convert", "xwd:-", path], input=xwd.stdout, check=True)


class GuiGimp:
    """GIMP 3 on display with dialog_gimp.py as its batch script; the log is kept in log_path."""

    def __init__(self, display, profile, models, test_dir, log_path, extra_env=None):
        env = dict(os.environ, DISPLAY=display, GIMP3_DIRECTORY=profile, IMPASTO_MODEL_PATH=models,
                   IMPASTO_TEST_DIR=test_dir, IMPASTO_PREVIEW_LOG="1",
                   IMPASTO_PREVIEW_DUMP=os.path.join(test_dir, "preview.png"), LANG="C.UTF-8",
                   LC_ALL="C.UTF-8", NO_AT_BRIDGE="1", GTK_A11Y="none",
                   **common.sanitizer_env(), **(extra_env or {}))
        with open(os.path.join(profile, "gimprc"), "w") as f:
            f.write("(show-welcome-dialog no)\n(show-tips no)\n")
        script = os.path.join(here, "dialog_gimp.py")
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(["gimp-3.0", "--no-splash",
                                          "--batch-interpreter=python-fu-eval",
                                          "-b", f"exec(open({script!r}).read())", "--quit"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def log(self):
        return open(self.log_path, errors="replace").read()

    def stop(self):
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # GIMP and its plug-ins: our session only
            self.proc.wait()


def facts_when(path, key, timeout):
    return wait_for(lambda: (lambda f: f if key in f else None)(read_facts(path)), timeout)


def check_log(gimp, what):
    log = gimp.log()
    bad = common.criticals(log)
    common.check(f"{what}: no CRITICAL in GIMP's log", not bad, "\n".join(bad[:5]))
    bad = common.sanitizer_reports(log)
    common.check(f"{what}: no sanitizer report from our code", not bad, "\n".join(bad[:5]))
    clashes = [l for l in log.splitlines() if "mnemonic" in l.lower()]
    common.check(f"{what}: no mnemonic warnings", not clashes, "\n".join(clashes[:5]))


def styles_dialog(args, display, work, test_dir, plugin_folder, models):
    """The dialog with models: preview, screenshot, OK, then one undo step."""
    profile = common.new_profile(work, "profile", plugin_folder)
    gimp = GuiGimp(display, profile, models, test_dir, os.path.join(work, "gimp.log"))
    try:
        window = wait_for(lambda: find_window(display, "^Style Transfer$"), 120, 0.5)
        if not common.check("the Style Transfer dialog opens", window is not None,
                            gimp.log()[-2000:]):
            return
        drawn = wait_for(lambda: preview_settled(gimp.log), 90)
        common.check("the live preview is drawn", drawn, gimp.log()[-2000:])
        area = preview_area(drawn)
        common.check("the whole image is previewed (960x640 fits as 480x320)",
                     drawn and "(480 x 320," in drawn, drawn)
        shot = os.path.join(work, "dialog.png")
        screenshot(display, window, shot)
        common.check("screenshot of the dialog taken", os.path.getsize(shot) > 10000)
        save_shot(args, shot, "")

        # Another style from the list (its mnemonic, then Up) and back: a new preview each time,
        # and the dialog keeps its width.
        widths = [window_width(display, window)]
        for key in ("Up", "Down"):
            count = len(preview_lines(gimp.log))
            press(display, window, "alt+y")
            xdotool(display, "key", key)
            if key == "Up":
                check_no_flash(display, window, gimp, count, shot, area,
                               os.path.join(work, "dialog-busy.png"))
                save_shot(args, os.path.join(work, "dialog-busy.png"), "-busy")
            drawn = wait_for(lambda: preview_settled(gimp.log, count), 90)
            common.check(f"style list ({key}): a new preview", drawn is not None,
                         "\n".join(preview_lines(gimp.log)[count:]))
            widths.append(window_width(display, window))
        common.check("the dialog keeps its width when the style changes",
                     len(set(widths)) == 1 and widths[0], str(widths))

        # Split view: its mnemonic, then drag the divider from the middle to 30 % of the area.
        count = len(preview_lines(gimp.log))
        press(display, window, "alt+i")
        if area:
            x, y, w, h = area
            xdotool(display, "mousemove", "--window", window, str(x + w // 2), str(y + h // 2))
            xdotool(display, "mousedown", "1")
            for step in range(1, 11):
                xdotool(display, "mousemove", "--window", window,
                        str(x + w // 2 - step * w // 50), str(y + h // 2))
                time.sleep(0.05)
            xdotool(display, "mouseup", "1")
            time.sleep(1.0)
        split_shot = os.path.join(work, "dialog-split.png")
        screenshot(display, window, split_shot)
        save_shot(args, split_shot, "-split")
        common.check("split view and divider drag compute nothing new",
                     len(preview_lines(gimp.log)) == count, "\n".join(preview_lines(gimp.log)[count:]))
        if common.check("the preview area is found", area is not None, drawn):
            x, y, w, h = area
            plain, split = crop(shot, area), crop(split_shot, area)
            left = lambda a: a[h // 4:3 * h // 4, w // 20:w // 4]
            right = lambda a: a[h // 4:3 * h // 4, 7 * w // 20:19 * w // 20]
            d_left, d_right = (float(abs(f(plain) - f(split)).mean()) for f in (left, right))
            common.check("split view: left of the dragged divider the layer as it is, right of "
                         "it the result (mean |diff| to the plain view > 10 and < 1)",
                         d_left > 10 and d_right < 1, f"left {d_left:.1f}, right {d_right:.1f}")

        # The truth of the 1:1 previews at stroke size 1: the CLI's result.
        import numpy as np
        cli_out = os.path.join(work, "cli-full.png")
        cli = subprocess.run([os.path.join(args.build, "cli", "impasto"), "stylize",
                              os.path.join(models, "udnie-9.onnx"),
                              os.path.join(test_dir, "dialog-in.png"), cli_out, "-t", "2"],
                             capture_output=True, text=True)
        truth = common.load_png(cli_out)[..., :3].astype(int) if cli.returncode == 0 else None
        common.check("the CLI stylises the dialog's photo (the pans' truth)", truth is not None,
                     cli.stderr)
        # Zoom to 100 %: its mnemonic, then one step down the list (Whole image, 50 %, 100 %).
        count = len(preview_lines(gimp.log))
        press(display, window, "alt+z")
        xdotool(display, "key", "Down", "Down")
        drawn = wait_for(lambda: preview_settled(gimp.log, count), 90)
        common.check("100 %: a new 1:1 preview of the visible part (the network at full size)",
                     drawn and "network x1.000" in "".join(preview_lines(gimp.log)[count:]),
                     "\n".join(preview_lines(gimp.log)[count:]))
        common.check("100 %: the preview takes the whole image's statistics (computed first)",
                     drawn and ", exact;" in drawn and "whole-image statistics first" in
                     "".join(preview_lines(gimp.log)[count:]), "\n".join(preview_lines(gimp.log)[count:]))
        zoom_shot = os.path.join(work, "dialog-zoom.png")
        screenshot(display, window, zoom_shot)
        save_shot(args, zoom_shot, "-zoom")
        if truth is not None:
            preview_vs("100 %: the 1:1 preview equals the same region of the CLI's result",
                       test_dir, drawn, truth)

        # Pans at 100 % with the statistics cached: each preview is the CLI's result there; the
        # latency from the request (the mouse released) to the preview on screen is printed.

        latencies = []
        for dx in (-90, 90, -90, 90, -90):
            if area is None or truth is None:
                break
            x, y, w, h = area
            count = len(preview_lines(gimp.log))
            drag(display, window, x + w // 2, y + h // 2, dx, 0)
            drawn = wait_for(lambda: preview_settled(gimp.log, count), 60)
            new = "".join(preview_lines(gimp.log)[count:])
            if not common.check(f"pan by {dx}: a new 1:1 preview with the cached statistics",
                                drawn and ", exact;" in drawn and "statistics first" not in new
                                and drawn_at(drawn), new):
                break
            latencies.append(drawn_at(drawn)[2])
            m = re.search(r"computed (\d+) x (\d+)\)", drawn)
            common.check(f"pan by {dx}: only the band the last preview did not cover is computed",
                         m and int(m.group(1)) == abs(dx) and int(m.group(2)) == drawn_at(drawn)[1],
                         drawn)
            preview_vs(f"pan by {dx}: the 1:1 preview equals the same region of the CLI's result",
                       test_dir, drawn, truth)
        if latencies:
            print(f"# 1:1 preview latency with the statistics cached (request to screen): median "
                  f"{sorted(latencies)[len(latencies) // 2]} ms of {latencies} ms; load average "
                  f"{os.getloadavg()[0]:.1f}")

        # Stroke size 2 (its mnemonic, then the value; Tab commits it): the 1:1 preview now
        # takes the statistics of the half-size copy the final render stylises, computed once.
        count = len(preview_lines(gimp.log))
        press(display, window, "alt+k")
        xdotool(display, "key", "ctrl+a")
        xdotool(display, "type", "2")
        xdotool(display, "key", "Tab")
        drawn = wait_for(lambda: preview_settled(gimp.log, count), 120)
        new = "".join(preview_lines(gimp.log)[count:])
        common.check("stroke size 2: a 1:1 preview of the half-size copy with its statistics "
                     "(computed first)", drawn and ", exact;" in drawn and "network x0.500" in new
                     and "whole-image statistics first" in new, "\n".join(preview_lines(gimp.log)[count:]))
        if area is not None and drawn:
            x, y, w, h = area
            count = len(preview_lines(gimp.log))
            drag(display, window, x + w // 2, y + h // 2, 90, 0)
            drawn = wait_for(lambda: preview_settled(gimp.log, count), 60)
            new = "".join(preview_lines(gimp.log)[count:])
            common.check("stroke size 2, a pan: the cached statistics, no second measurement",
                         drawn and ", exact;" in drawn and "statistics first" not in new, new)

        press(display, window, "alt+o")  # OK (Return would open the focused zoom list)
        facts_path = os.path.join(test_dir, "facts.txt")
        facts = facts_when(facts_path, "ok-done", 120)
        if not common.check("OK runs the filter", facts and facts.get("status") == "success",
                            f"{facts}\n{gimp.log()[-2000:]}"):
            return
        common.check("a new layer on top named 'Udnie (Impasto)' (sidecar name)",
                     facts.get("layers") == "2" and facts.get("top-name") == "Udnie (Impasto)",
                     str(facts))
        common.check("the new layer has the source's size", facts.get("top-size") == "960x640",
                     facts.get("top-size"))
        # Issue 12: the 1:1 preview is the result (mean |diff| <= 2/255, max <= 8/255), also at
        # stroke size 2.
        final_path = os.path.join(test_dir, "final.rgb")
        if common.check("the final layer's pixels are found", os.path.exists(final_path)):
            final = np.fromfile(final_path, np.uint8).reshape(640, 960, 3).astype(int)
            preview_vs("stroke size 2: the 1:1 preview equals the same region of the final layer",
                       test_dir, drawn, final)
            if truth is not None:
                d = abs(final - truth)
                common.check("stroke size 2: the final layer is not the stroke size 1 result "
                             "(mean |diff| > 8/255: the check above can tell)", d.mean() > 8,
                             f"mean {d.mean():.2f}/255")

        image_window = find_window(display, r"^\*?\[.*GIMP$")
        if common.check("the image window is found", image_window is not None):
            press(display, image_window, "ctrl+z")
        open(os.path.join(test_dir, "undone"), "w").close()
        facts = facts_when(facts_path, "done", 60)
        common.check("one undo step removes the new layer",
                     facts and facts.get("layers-after-undo") == "1" and
                     facts.get("name-after-undo") != "Udnie (Impasto)", str(facts))
    finally:
        gimp.stop()
    check_log(gimp, "with models")


def no_models_dialog(display, work, plugin_folder):
    """No model installed: the dialog says where to put them and OK does nothing."""
    test_dir = os.path.join(work, "empty")
    os.makedirs(os.path.join(test_dir, "models"))
    shutil.copy2(os.path.join(work, "dialog", "dialog-in.png"), test_dir)
    profile = common.new_profile(work, "profile-empty", plugin_folder, shipped_models=False)
    gimp = GuiGimp(display, profile, os.path.join(test_dir, "models"), test_dir,
                   os.path.join(work, "gimp-empty.log"), {"IMPASTO_TEST_NO_MODELS": "1"})
    try:
        window = wait_for(lambda: find_window(display, "^Style Transfer$"), 120, 0.5)
        if not common.check("no models: the dialog opens", window is not None,
                            gimp.log()[-2000:]):
            return
        time.sleep(1.0)
        screenshot(display, window, os.path.join(work, "dialog-empty.png"))
        press(display, window, "Return")  # OK is insensitive: nothing happens
        time.sleep(2.0)
        facts_path = os.path.join(test_dir, "facts.txt")
        common.check("no models: Return does not run the filter",
                     "ok-done" not in read_facts(facts_path))
        press(display, window, "Escape")
        open(os.path.join(test_dir, "undone"), "w").close()
        facts = facts_when(facts_path, "done", 60)
        common.check("no models: the dialog is cancelled and nothing is added",
                     facts and facts.get("status") == "cancel" and facts.get("layers") == "1",
                     str(facts))
    finally:
        gimp.stop()
    check_log(gimp, "no models")


def run_gui_test(prefix, photo_size, sessions):
    """The frame of a dialog test under Xvfb: arguments, tools and data checked, a work folder with
    the test photo (chelsea.png at photo_size) and the dialog's models, the plug-in installed, a
    private X server; then sessions(args, display, work, test_dir, plugin_folder, dialog_models).
    Returns the exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--plugindir", required=True)
    parser.add_argument("--screenshot", default="")
    args = parser.parse_args()
    shared = os.environ.get("IMPASTO_SHARED", "")
    models = os.path.realpath(os.path.join(shared, "models"))
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return common.missing_tool(", ".join(missing))
    if not os.path.exists(os.path.join(models, "mosaic-9.onnx")):
        return common.missing_data(f"no shared models in {models}")

    work = tempfile.mkdtemp(prefix=prefix)
    test_dir = os.path.join(work, "dialog")
    os.makedirs(test_dir)
    photo = os.path.join(shared, "models-src", "images-content", "chelsea.png")
    common.GdkPixbuf.Pixbuf.new_from_file(photo).scale_simple(
        photo_size[0], photo_size[1], common.GdkPixbuf.InterpType.BILINEAR).savev(
        os.path.join(test_dir, "dialog-in.png"), "png", [], [])
    dialog_models = os.path.join(work, "models")
    make_dialog_models(shared, models, dialog_models)
    plugin_folder = common.install(args.build, args.plugindir, work)

    # Xvfb picks a free display itself (-displayfd): a number made from the pid could be one that
    # another session's Xvfb holds, whose end then takes our display away.
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        display = ":" + f.readline().strip()
    try:
        if common.check("Xvfb started", display != ":"):
            sessions(args, display, work, test_dir, plugin_folder, dialog_models)
    finally:
        xvfb.terminate()
        xvfb.wait()
        if not os.environ.get("IMPASTO_KEEP_TEST_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    return common.summary()


def main():
    def sessions(args, display, work, test_dir, plugin_folder, dialog_models):
        styles_dialog(args, display, work, test_dir, plugin_folder, dialog_models)
        no_models_dialog(display, work, plugin_folder)
    return run_gui_test("impasto-dialog-test-", (960, 640), sessions)


if __name__ == "__main__":
    sys.exit(main())
