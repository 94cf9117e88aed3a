#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
""""Get more styles…" in the real dialog, in a real GIMP on Xvfb (issue #13), offline.

    run_catalogue_test.py --build BUILD --plugindir DIR [--screenshot OUT.png]

A test catalogue ($IMPASTO_CATALOGUE) whose URLs are file:// fixtures made here: two of the styles
shipped in models/ (ONNX, the "onnx" converter), one pinned by size and sha256, one with no sha256
and no licence; one whose pinned sha256 is wrong; then the real catalogue's entries (never
downloaded), the first of them (candy) with its URL pointed at a FIFO that this script feeds with
zeros, slowly (a download that takes long; stopped before its end).  GIMP 3 runs plug-in-impasto interactively (dialog_gimp.py);
The dialog starts on the shipped style great-wave (previewed: its model and statistics cached);
this driver presses "Get more styles…" (its mnemonic) and in the catalogue window:
  1. installs the pinned entry, also named great-wave, with Install: the model, its sidecar and
     thumbnail appear in the profile's impasto/models, the style list is rebuilt and lists the new
     style (which now hides the shipped one: the profile's folder is searched first), chosen, and
     previewed anew;
  2. the unpinned entry: Install does nothing until the trust box is ticked, then installs it;
     the window said "no licence stated" before the download;
  3. the wrong sha256: the error is shown in the window (checksum mismatch), nothing is left in the
     folder (no hidden temporary folder either);
  4. the slow download: the progress bar counts bytes (screenshot: OUT.png), Stop cancels it and
     nothing is left;
then closes the window and presses OK: the new layer is made with the style installed last, without
restarting GIMP.  A second session starts with no style installed at all: the dialog's text says where
models go and offers "Get more styles…"; after an install the whole dialog appears, with the new style
chosen and previewed, and OK uses it.
Exit status: 0 passed, 1 failed (also without gimp-3.0, Xvfb, xdotool, xwd, convert, the shared
data), 77 skipped (no shared data and IMPASTO_ALLOW_MISSING_DATA=1).
"""
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import run_dialog_test as gui  # noqa: E402  (Xvfb, xdotool, GIMP with dialog_gimp.py)
import run_plugin_tests as common  # noqa: E402

FEED = 16384  # bytes written into the FIFO every 0.05 s
# Waits are longer under the sanitizers (GIMP and the plug-in run several times slower).
SLOW = 4 if os.environ.get("IMPASTO_SANITIZED") else 1


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_catalogue(source, work):
    """The test catalogue, the slow entry's FIFO and its pinned size."""
    wave = os.path.join(source, "models", "great-wave.onnx")
    scream = os.path.join(source, "models", "the-scream.onnx")
    with open(os.path.join(source, "catalogue", "catalogue.json")) as f:
        real = json.load(f)["entries"]
    slow = real[0]
    fifo = os.path.join(work, slow["files"][0]["url"].rsplit("/", 1)[1])
    os.mkfifo(fifo)
    slow["files"][0]["url"] = "file://" + fifo
    sidecar = {"kind": "style", "range": [0, 255], "multiple": 4}

    def entry(name, display, path, **file_keys):
        f = {"url": "file://" + path, "size": os.path.getsize(path), "sha256": sha256(path),
             "verified": True}
        f.update(file_keys)
        return {"name": name, "display_name": display, "family": "fast",
                "description": f"{display}: a test fixture", "author": "Impasto tests",
                "license": "CC0-1.0", "converter": "onnx", "files": [{k: v for k, v in f.items()
                                                                       if v is not None}],
                "sidecar": sidecar}

    unpinned = entry("cat-scream", "Unpinned Scream", scream, sha256=None, size=None, verified=False)
    del unpinned["license"]  # the library's "no licence stated"
    entries = [entry("great-wave", "Catalogue Wave", wave),
               unpinned,
               entry("cat-badsum", "Bad Checksum", wave, sha256="0" * 64)] + real
    path = os.path.join(work, "catalogue.json")
    with open(path, "w") as f:
        json.dump({"format": 1, "entries": entries}, f)
    return path, fifo, slow["name"], slow["files"][0]["size"], len(entries)


class Feeder(threading.Thread):
    """Writes zeros into the FIFO slowly until stopped or the reader goes away."""

    def __init__(self, fifo, size):
        super().__init__(daemon=True)
        self.fifo, self.size, self.stop, self.sent = fifo, size, threading.Event(), 0

    def run(self):
        try:
            with open(self.fifo, "wb") as w:
                while not self.stop.is_set() and self.sent + FEED < self.size:
                    w.write(b"\0" * FEED)
                    w.flush()
                    self.sent += FEED
                    time.sleep(0.05)
        except OSError:  # BrokenPipeError: the download was stopped
            pass

    def finish(self):
        self.stop.set()
        if self.ident is None:  # never started
            return
        try:  # a writer still waiting for a reader in open() is let go
            fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
            time.sleep(0.2)
            os.close(fd)
        except OSError:
            pass
        self.join(5)


def check(name, ok, detail=""):
    """common.check; a detail of several lines (a piece of GIMP's log) is shown only on failure."""
    one_line = len(str(detail).strip().splitlines()) <= 1
    return common.check(name, ok, detail if not ok or one_line else "")


def log_lines(gimp, prefix):
    return [l for l in gimp.log().splitlines() if l.startswith(prefix)]


def wait_line(gimp, prefix, timeout, after=0):
    """The first line starting with prefix among those past the first `after` ones."""
    found = gui.wait_for(lambda: log_lines(gimp, prefix)[after:], timeout, 0.2)
    return found[0] if found else None


def catalogue_lines(gimp):
    return log_lines(gimp, "impasto: catalogue ")


def ends(gimp, after, timeout):
    """The install's last word (installed / failed / cancelled) past the first `after` catalogue lines."""
    def done():
        for line in catalogue_lines(gimp)[after:]:
            if re.match(r"impasto: catalogue (installed|failed|cancelled)", line):
                return line
        return None
    return gui.wait_for(done, timeout, 0.2)


def leftovers(folder, keep=()):
    return sorted(f for f in os.listdir(folder) if not f.startswith(keep)) if os.path.isdir(folder) else []


def session(args, display, work, test_dir, plugin_folder, models, catalogue):
    catalogue, fifo, slow, slow_size, count = catalogue
    profile = common.new_profile(work, "profile", plugin_folder)
    user = os.path.join(profile, "impasto", "models")
    env = {"IMPASTO_CATALOGUE": catalogue, "IMPASTO_TEST_MODEL": "great-wave",
           "IMPASTO_CONVERT_DIR": os.path.join(os.environ.get("IMPASTO_SOURCE", ""), "tools", "convert")}
    gimp = gui.GuiGimp(display, profile, models, test_dir, os.path.join(work, "gimp.log"), env)
    feeder = Feeder(fifo, slow_size)
    try:
        window = gui.wait_for(lambda: gui.find_window(display, "^Style Transfer$"), 120 * SLOW, 0.5)
        if not check("the Style Transfer dialog opens", window is not None, gimp.log()[-2000:]):
            return
        check("its first preview is drawn", gui.wait_for(lambda: gui.preview_settled(gimp.log), 90 * SLOW),
                     gimp.log()[-1500:])

        gui.press(display, window, "alt+t")
        cat = gui.wait_for(lambda: gui.find_window(display, "^Get More Styles$"), 30 * SLOW, 0.3)
        opened = wait_line(gimp, "impasto: catalogue window open", 10 * SLOW)
        if not check(f"Get more styles… (its mnemonic) opens the catalogue window with the test "
                            f"catalogue's {count} entries", cat is not None and opened and f"({count} entries)" in opened,
                            f"{opened}\n{gimp.log()[-1500:]}"):
            return
        time.sleep(0.5)
        gui.screenshot(display, cat, os.path.join(work, "catalogue-open.png"))

        # 1. the pinned entry (chosen first): Install
        n = len(catalogue_lines(gimp))
        previews = len(gui.preview_lines(gimp.log))
        gui.press(display, cat, "alt+i")
        end = ends(gimp, n, 120 * SLOW)
        check("Install: the pinned entry is downloaded, checked, converted and installed",
                     end == "impasto: catalogue installed great-wave", f"{end}\n{gimp.log()[-1500:]}")
        stages = [l.split()[3] for l in catalogue_lines(gimp)[n:] if l.startswith("impasto: catalogue progress")]
        check("the progress bar went through download, convert, thumbnail and install",
                     [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] ==
                     ["download", "convert", "thumbnail", "install"], str(stages))
        check("great-wave: model, sidecar and thumbnail in the profile's impasto/models",
                     all(os.path.isfile(os.path.join(user, "great-wave" + e)) for e in (".onnx", ".json", ".png")),
                     str(leftovers(user)))
        refreshed = wait_line(gimp, "impasto: style list refreshed", 10 * SLOW)
        check("the style list is rebuilt (no restart): the new style listed under its name and chosen, "
              "from the profile's folder",
              refreshed and f'chosen great-wave from {user}, listed as "Catalogue Wave"' in refreshed,
              str(refreshed))
        drawn = gui.wait_for(lambda: gui.preview_settled(gimp.log, previews), 60 * SLOW)
        started = [l for l in gui.preview_lines(gimp.log)[previews:] if "started" in l]
        check("the new style is previewed anew: its own model loaded and its statistics measured, "
              "not the shipped one's cached", drawn and started and "model cached" not in started[0] and
              "whole-image statistics first" in started[0], "\n".join(gui.preview_lines(gimp.log)[previews:]))

        # 2. no pinned sha256: Install does nothing until the trust box is ticked
        gui.press(display, cat, "alt+v")
        gui.xdotool(display, "key", "Down")
        time.sleep(0.5)
        n = len(catalogue_lines(gimp))
        gui.press(display, cat, "alt+i")
        time.sleep(2.0 * SLOW)
        check("no pinned sha256: Install is refused until the download is trusted",
                     not catalogue_lines(gimp)[n:], str(catalogue_lines(gimp)[n:]))
        unpinned_shot = os.path.join(work, "catalogue-unpinned.png")
        gui.screenshot(display, cat, unpinned_shot)
        gui.save_shot(args, unpinned_shot, "-unpinned")
        gui.press(display, cat, "alt+t")
        time.sleep(0.3)
        gui.press(display, cat, "alt+i")
        end = ends(gimp, n, 120 * SLOW)
        check("trusted: the unpinned entry installs", end == "impasto: catalogue installed cat-scream",
                     f"{end}\n{gimp.log()[-1500:]}")
        side = os.path.join(user, "cat-scream.json")
        lic = json.load(open(side)).get("license") if os.path.isfile(side) else None
        check("its sidecar says \"no licence stated\"", lic == "no licence stated", str(lic))

        # 3. a wrong sha256: the error in the window, nothing left
        gui.press(display, cat, "alt+v")
        gui.xdotool(display, "key", "Down")
        time.sleep(0.5)
        n = len(catalogue_lines(gimp))
        gui.press(display, cat, "alt+i")
        end = ends(gimp, n, 60 * SLOW)
        check("a wrong sha256 is refused with the checksum error shown in the window",
                     end is not None and end.startswith("impasto: catalogue failed: checksum mismatch"),
                     f"{end}\n{gimp.log()[-1500:]}")
        time.sleep(0.5)
        gui.screenshot(display, cat, os.path.join(work, "catalogue-error.png"))
        gui.save_shot(args, os.path.join(work, "catalogue-error.png"), "-error")
        check("the refused download leaves nothing in the folder (no hidden folder either)",
                     leftovers(user, ("great-wave.", "cat-scream.")) == [], str(leftovers(user)))

        # 4. the slow download (the real candy entry from a FIFO): bytes counted, then Stop
        gui.press(display, cat, "alt+v")
        gui.xdotool(display, "key", "Down")
        time.sleep(0.5)
        n = len(catalogue_lines(gimp))
        feeder.start()
        gui.press(display, cat, "alt+i")
        def counted():
            for line in catalogue_lines(gimp)[n:]:
                m = re.match(r"impasto: catalogue progress download (\d+) of (\d+)$", line)
                if m and int(m.group(1)) >= slow_size // 3 and int(m.group(2)) == slow_size:
                    return line
            return None
        check(f"{slow}: the progress bar counts the downloaded bytes of the pinned size",
              gui.wait_for(counted, 60 * SLOW, 0.2), "\n".join(catalogue_lines(gimp)[n:][-5:]))
        shot = os.path.join(work, "catalogue.png")
        gui.screenshot(display, cat, shot)
        gui.save_shot(args, shot, "")
        gui.press(display, cat, "alt+s")
        end = ends(gimp, n, 60 * SLOW)
        check("Stop cancels the download", end is not None and end.startswith("impasto: catalogue cancelled"),
                     f"{end}\n{gimp.log()[-1500:]}")
        check("the stopped download leaves nothing in the folder",
                     leftovers(user, ("great-wave.", "cat-scream.")) == [], str(leftovers(user)))
        check("Stop came before the end of the data", feeder.sent < slow_size - FEED, f"{feeder.sent} of {slow_size}")
        feeder.finish()

        gui.press(display, cat, "alt+c")
        gone = gui.wait_for(lambda: gui.find_window(display, "^Get More Styles$") is None, 20, 0.3)
        check("Close closes the catalogue window", gone)
        time.sleep(0.5)
        gui.screenshot(display, window, os.path.join(work, "dialog.png"))
        gui.save_shot(args, os.path.join(work, "dialog.png"), "-dialog")

        gui.press(display, window, "alt+o")
        facts_path = os.path.join(test_dir, "facts.txt")
        facts = gui.facts_when(facts_path, "ok-done", 120 * SLOW)
        check("OK: the new layer is made with the style installed last ('Unpinned Scream')",
                     facts and facts.get("status") == "success" and
                     facts.get("top-name") == "Unpinned Scream (Impasto)", f"{facts}\n{gimp.log()[-1500:]}")
    finally:
        feeder.finish()
        open(os.path.join(test_dir, "undone"), "w").close()
        gimp.stop()
    gui.check_log(gimp, "catalogue")


def no_models_session(display, work, plugin_folder, catalogue):
    """No style installed: Get more styles… from the no-models text, then the whole dialog."""
    catalogue, fifo, slow, slow_size, count = catalogue
    test_dir = os.path.join(work, "empty")
    os.makedirs(os.path.join(test_dir, "models"))
    shutil.copy2(os.path.join(work, "dialog", "dialog-in.png"), test_dir)
    profile = common.new_profile(work, "profile-empty", plugin_folder, shipped_models=False)
    user = os.path.join(profile, "impasto", "models")
    env = {"IMPASTO_CATALOGUE": catalogue, "IMPASTO_TEST_NO_MODELS": "1",
           "IMPASTO_CONVERT_DIR": os.path.join(os.environ.get("IMPASTO_SOURCE", ""), "tools", "convert")}
    gimp = gui.GuiGimp(display, profile, os.path.join(test_dir, "models"), test_dir,
                       os.path.join(work, "gimp-empty.log"), env)
    try:
        window = gui.wait_for(lambda: gui.find_window(display, "^Style Transfer$"), 120 * SLOW, 0.5)
        if not check("no models: the dialog opens", window is not None, gimp.log()[-2000:]):
            return
        time.sleep(1.0 * SLOW)  # the dialog drawn and ready for keys
        gui.press(display, window, "alt+t")
        cat = gui.wait_for(lambda: gui.find_window(display, "^Get More Styles$"), 30 * SLOW, 0.3)
        if not check("no models: Get more styles… opens the catalogue window", cat is not None,
                     gimp.log()[-1500:]):
            return
        n = len(catalogue_lines(gimp))
        gui.press(display, cat, "alt+i")
        end = ends(gimp, n, 120 * SLOW)
        check("no models: the first style installs", end == "impasto: catalogue installed great-wave",
              f"{end}\n{gimp.log()[-1500:]}")
        refreshed = wait_line(gimp, "impasto: style list refreshed", 10 * SLOW)
        check("no models: the whole dialog replaces the text, the new style listed and chosen",
              refreshed and f'(1 styles; chosen great-wave from {user}, listed as "Catalogue Wave")' in refreshed,
              str(refreshed))
        gui.press(display, cat, "alt+c")
        check("no models: the new style is previewed", gui.wait_for(lambda: gui.preview_settled(gimp.log), 90 * SLOW),
              "\n".join(gui.preview_lines(gimp.log)))
        gui.press(display, window, "alt+o")
        facts = gui.facts_when(os.path.join(test_dir, "facts.txt"), "ok-done", 120 * SLOW)
        check("no models: OK makes the layer with the style just installed",
              facts and facts.get("status") == "success" and facts.get("top-name") == "Catalogue Wave (Impasto)",
              f"{facts}\n{gimp.log()[-1500:]}")
    finally:
        open(os.path.join(test_dir, "undone"), "w").close()
        gimp.stop()
    gui.check_log(gimp, "no models")


def main():
    source = os.environ.get("IMPASTO_SOURCE", os.path.join(here, "..", ".."))

    def sessions(args, display, work, test_dir, plugin_folder, dialog_models):
        catalogue = make_catalogue(source, work)
        session(args, display, work, test_dir, plugin_folder, dialog_models, catalogue)
        no_models_session(display, work, plugin_folder, catalogue)
    return gui.run_gui_test("impasto-catalogue-test-", (480, 320), sessions)


if __name__ == "__main__":
    sys.exit(main())
