#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the GIMP plug-in in a real (headless) GIMP 3.

    run_plugin_tests.py --build BUILD --plugindir DIR [--cli BUILD/cli/impasto]

Installs the plug-in (meson install --destdir) into a throw-away GIMP profile (GIMP3_DIRECTORY),
points IMPASTO_MODEL_PATH at $IMPASTO_SHARED/models, then
  1. one Script-Fu batch session (checks.scm) runs plug-in-impasto with named arguments on an RGB
     layer, a selection, a GRAY image, a layer with alpha, a layer with offsets, a layer in a
     group and an odd-sized RGBA layer through a translation (the CycleGAN fixture of
     $IMPASTO_SHARED/models-arch with a "kind": "translation" sidecar); the new layers' pixels must equal the impasto CLI's output for the same model and
     parameters (<= 1/255; ONNX Runtime with the documented pre/post-processing when the CLI is
     not built), the source pixels must be byte-identical before and after, and the new layer
     must sit directly above the source with the right name, size and offsets;
  2. one Python-Fu session with LANGUAGE=de (fresh profile): the menu label is the German one from
     the de catalogue, a Python call works, an unknown model gives a calling error naming it and
     adds no layer, an INDEXED image is refused with the German message;
  3. GIMP's output of both sessions holds no CRITICAL.
The Script-Fu session also checks strength 0 (an exact copy), stroke size 2 (the half-size run,
enlarged) and a ProPhoto twin (the same result as sRGB after converting back).
Exit status: 0 passed, 1 failed (also without gimp-console-3.0, bindings or shared models), 77
skipped (no shared models and IMPASTO_ALLOW_MISSING_DATA=1).
"""
import argparse
import re
import gettext
import os
import shutil
import subprocess
import sys
import tempfile

GIMP = "gimp-console-3.0"
DOMAIN = "gimp30-impasto"
TIMEOUT = 600

try:
    import numpy as np
    import gi
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib
except (ImportError, ValueError) as e:
    print(f"FAIL: missing tool: needs numpy and GdkPixbuf bindings ({e})")
    sys.exit(1)

# ---- images -------------------------------------------------------------------------------------

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pixbuf_io import load_image as load_png, save_image as save_png  # noqa: E402
from tap import check, missing_data, missing_tool, summary  # noqa: E402
from ort_model import free_hw  # noqa: E402


def make_inputs(shared, test_dir):
    """in.png: a 96x64 photo; in-alpha.png: the same with alpha 64..255."""
    photo = os.path.join(shared, "models-src", "images-content", "chelsea.png")
    pb = GdkPixbuf.Pixbuf.new_from_file(photo).scale_simple(96, 64, GdkPixbuf.InterpType.BILINEAR)
    pb.savev(os.path.join(test_dir, "in.png"), "png", [], [])
    rgb = load_png(os.path.join(test_dir, "in.png"))[:, :, :3]
    alpha = np.linspace(64, 255, rgb.shape[1]).round().astype(np.uint8)
    rgba = np.dstack([rgb, np.broadcast_to(alpha, rgb.shape[:2])])
    save_png(rgba, os.path.join(test_dir, "in-alpha.png"))
    save_png(np.ascontiguousarray(rgba[1:62, 2:95]), os.path.join(test_dir, "in-odd-alpha.png"))


TRANSLATION = "photo2monet"
TRANSLATION_SIDECAR = '{"name": "Monet", "kind": "translation", "direction": "photo \u2192 Monet"}'


def translation_folder(shared, work):
    """A model folder with the CycleGAN ngf 16 fixture (linked, not copied) as a translation."""
    fixture = os.path.join(shared, "models-arch", "cyclegan-resnet9-ngf16-random.onnx")
    folder = os.path.join(work, "translations")
    os.makedirs(folder)
    if os.path.exists(fixture):
        os.symlink(fixture, os.path.join(folder, TRANSLATION + ".onnx"))
    with open(os.path.join(folder, TRANSLATION + ".json"), "w") as f:
        f.write(TRANSLATION_SIDECAR)
    return folder


# ---- reference stylisation -----------------------------------------------------------------------

class Reference:
    """The impasto CLI when built; else ONNX Runtime with the documented pre/post-processing."""

    def __init__(self, cli, models, work, translations):
        self.cli, self.models, self.work, self.count = cli, models, work, 0
        self.translations = translations
        self.kind = "impasto CLI" if cli else "ONNX Runtime"

    def stylise(self, pixels, model, strength, preserve=False, tile=-1):
        """pixels uint8 [H, W, C] -> uint8 [H, W, C] (C as given; gray when R == G == B), or None
        when ONNX Runtime stands in for the CLI and cannot reproduce the options."""
        if self.cli:
            return self._cli(pixels, model, strength, preserve, tile)
        if preserve or model == TRANSLATION:
            return None  # the engine's colour transfer is the CLI's to reproduce
        return self._ort(pixels, model, strength)

    def _cli(self, pixels, model, strength, preserve, tile):
        self.count += 1
        src = os.path.join(self.work, f"ref-{self.count}-in.png")
        dst = os.path.join(self.work, f"ref-{self.count}-out.png")
        save_png(pixels, src)
        folder = self.translations if model == TRANSLATION else self.models
        subprocess.run([self.cli, "stylize", os.path.join(folder, model + ".onnx"), src, dst,
                        "--strength", str(strength), "--tile-size", str(tile)]
                       + (["--preserve-colors"] if preserve else []),
                       check=True, capture_output=True)
        return load_png(dst)

    def _session(self, model):
        """ONNX Runtime session; the *-9 files declare 224x224, so make H and W symbolic."""
        import onnx
        import onnxruntime as ort
        m = free_hw(onnx.load(os.path.join(self.models, model + ".onnx")))
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])

    def _ort(self, pixels, model, strength):
        sess = self._session(model)
        rgb = pixels[:, :, :3].astype(np.float32)
        gray = bool(np.all(rgb[:, :, 0] == rgb[:, :, 1]) and np.all(rgb[:, :, 0] == rgb[:, :, 2]))
        h, w = rgb.shape[:2]
        ph, pw = (-h) % 4, (-w) % 4
        x = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        x = x.transpose(2, 0, 1)[None]
        y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0].transpose(1, 2, 0)[:h, :w]
        y = np.clip(y, 0, 255) / 255.0
        orig = rgb / 255.0
        y = strength * y + (1 - strength) * orig
        if gray:
            y = np.repeat((y @ np.array([0.299, 0.587, 0.114]))[:, :, None], 3, axis=2)
        out = np.clip(y * 255 + 0.5, 0, 255).astype(np.uint8)
        if pixels.shape[2] == 4:
            out = np.dstack([out, pixels[:, :, 3]])
        return out


# ---- GIMP sessions -------------------------------------------------------------------------------

def install(build, plugindir, work):
    """meson install into a staging folder; returns the installed plug-in folder."""
    stage = os.path.join(work, "stage")
    meson = shutil.which("meson")
    if meson:
        subprocess.run([meson, "install", "-C", build, "--no-rebuild", "--quiet",
                        "--tags", "plugin,i18n",
                        "--destdir", stage], check=True, capture_output=True)
        folder = stage + os.path.join(plugindir, "plug-in-impasto")
    else:  # copy what meson would install
        folder = os.path.join(stage, "plug-in-impasto")
        os.makedirs(folder)
        shutil.copy2(os.path.join(build, "plugin", "plug-in-impasto"), folder)
        for lang in os.listdir(os.path.join(build, "po")):
            mo = os.path.join(build, "po", lang, "LC_MESSAGES", DOMAIN + ".mo")
            if os.path.exists(mo):
                os.makedirs(os.path.join(folder, "locale", lang, "LC_MESSAGES"))
                shutil.copy2(mo, os.path.join(folder, "locale", lang, "LC_MESSAGES"))
    return folder


def new_profile(work, name, plugin_folder, shipped_models=True):
    """A throw-away GIMP profile with the installed plug-in; shipped_models=False leaves out the
    styles installed beside the plug-in (its models/ folder stays, empty)."""
    profile = os.path.join(work, name)
    folder = os.path.join(profile, "plug-ins", "plug-in-impasto")
    shutil.copytree(plugin_folder, folder)
    if not shipped_models:
        shutil.rmtree(os.path.join(folder, "models"), ignore_errors=True)
        os.makedirs(os.path.join(folder, "models"))
    return profile


def run_gimp(profile, models, interpreter, command, extra_env=None):
    env = dict(os.environ, GIMP3_DIRECTORY=profile, IMPASTO_MODEL_PATH=models,
               LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("DISPLAY", None)
    env.update(sanitizer_env())
    for key, value in (extra_env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = subprocess.run([GIMP, "-i", f"--batch-interpreter={interpreter}",
                           "-b", command, "--quit"],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    return proc.returncode, proc.stdout + proc.stderr


def parse_facts(log):
    facts = {}
    for line in log.splitlines():
        i = line.find("FACT ")
        if i < 0:
            continue
        parts = line[i + 5:].split(" ", 1)
        if len(parts) == 2 and "=" in parts[1]:
            key, value = parts[1].split("=", 1)
            facts[(parts[0], key)] = value.strip()
    return facts


# Frames of our own code as the sanitizers print them (../plugin/render.c:123 and the like).
OUR_SOURCES = re.compile(r"(?:^|[ /])(?:plugin|ui|engine)/[\w-]+\.c:\d+")


def sanitizer_reports(log):
    """Sanitizer findings in our code.  A leak counts as ours when the first frame past the
    allocator, GLib and GObject is our code: fontconfig, GTK and libgimp keep caches and objects
    until exit, and libgimp never frees the procedure (and the parameter specs that
    impasto_create_procedure gave it) before the plug-in exits."""
    found = [line for line in log.splitlines()
             if "runtime error:" in line or ("ERROR: AddressSanitizer" in line)]
    plumbing = ("asan_malloc", "libglib-2.0", "libgobject-2.0")
    for entry in re.split(r"\n(?=(?:Direct|Indirect) leak of )", log):
        if not entry.startswith(("Direct leak", "Indirect leak")):
            continue
        frames = [l for l in entry.split("\n\n")[0].splitlines() if re.match(r"\s*#\d+ ", l)]
        frames = [f for f in frames if not any(p in f for p in plumbing)]
        if frames and OUR_SOURCES.search(frames[0]) and "impasto_create_procedure" not in frames[0]:
            found.append(entry.splitlines()[0] + " at " + frames[0].strip())
    return found


def sanitizer_env():
    """Full allocation stacks (through GLib, built without frame pointers) for leak reports."""
    options = os.environ.get("ASAN_OPTIONS", "")
    extra = "fast_unwind_on_malloc=0:malloc_context_size=30"
    return {"ASAN_OPTIONS": f"{options}:{extra}" if options else extra}


def criticals(log, allowed=()):
    return [line for line in log.splitlines()
            if "CRITICAL" in line and not any(a in line for a in allowed)]


# ---- checks --------------------------------------------------------------------------------------

def close(a, b, tol=1):
    if a.shape != b.shape:
        return False, f"shape {a.shape} != {b.shape}"
    diff = np.abs(a.astype(int) - b.astype(int))
    return int(diff.max()) <= tol, f"max |diff| {int(diff.max())}/255, mean {diff.mean():.3f}"


def check_placement(facts, tag, size, offsets, alpha, gray, name):
    f = lambda key: facts.get((tag, key))
    check(f"{tag}: new layer named '{name}'", f("name") == name, f("name"))
    check(f"{tag}: new layer directly above the source, same parent",
          f("same-parent") == "1" and f("pos-new") is not None and
          int(f("pos-new")) + 1 == int(f("pos-src") or -1),
          f"pos-new={f('pos-new')} pos-src={f('pos-src')} same-parent={f('same-parent')}")
    check(f"{tag}: size {size}", f("new-size") == size == f("src-size"),
          f"new {f('new-size')}, source {f('src-size')}")
    check(f"{tag}: offsets {offsets}", f("new-offsets") == offsets == f("src-offsets"),
          f"new {f('new-offsets')}, source {f('src-offsets')}")
    check(f"{tag}: alpha={alpha} gray={gray}", (f("new-alpha"), f("new-gray")) == (alpha, gray),
          f"alpha={f('new-alpha')} gray={f('new-gray')}")


def check_source_kept(test_dir, tag):
    before = load_png(os.path.join(test_dir, f"{tag}-src-before.png"))
    after = load_png(os.path.join(test_dir, f"{tag}-src-after.png"))
    check(f"{tag}: source pixels unchanged", before.shape == after.shape and
          np.array_equal(before, after))


def check_pixels(test_dir, ref, tag, model, strength, preserve=False, tile=-1):
    src = load_png(os.path.join(test_dir, f"{tag}-src-before.png"))
    new = load_png(os.path.join(test_dir, f"{tag}-new.png"))
    expected = ref.stylise(src, model, strength, preserve, tile)
    what = f"{model}, strength {strength}" + (", preserve-colors" if preserve else "") + \
        (f", tile-size {tile}" if tile != -1 else "")
    if expected is None:
        print(f"# {tag}: pixels not compared ({what} needs the impasto CLI)")
        return
    ok, detail = close(new, expected)
    check(f"{tag}: pixels equal the {ref.kind} ({what})", ok, detail)


def check_selection(test_dir, ref, tag, rect, model):
    """rect: the selection in layer coordinates; only it is stylised, as a crop."""
    x, y, w, h = rect
    src = load_png(os.path.join(test_dir, f"{tag}-src-before.png"))
    new = load_png(os.path.join(test_dir, f"{tag}-new.png"))
    if not check(f"{tag}: result has alpha", new.shape[2] == 4, f"shape {new.shape}"):
        return
    inside = np.zeros(new.shape[:2], bool)
    inside[y:y + h, x:x + w] = True
    check(f"{tag}: transparent outside the selection", np.all(new[~inside, 3] == 0))
    check(f"{tag}: opaque inside the selection", np.all(new[inside, 3] == 255))
    expected = ref.stylise(np.ascontiguousarray(src[y:y + h, x:x + w]), model, 1.0)
    ok, detail = close(new[y:y + h, x:x + w, :3], expected[:, :, :3])
    check(f"{tag}: the selection's box equals the {ref.kind} on that crop", ok, detail)


def check_alpha(test_dir, ref):
    src = load_png(os.path.join(test_dir, "alpha-src-before.png"))
    new = load_png(os.path.join(test_dir, "alpha-new.png"))
    check("alpha: alpha channel kept exactly", new.shape == src.shape and
          np.array_equal(new[:, :, 3], src[:, :, 3]))
    ok, detail = close(new, ref.stylise(src, "udnie-9", 1.0))
    check(f"alpha: pixels equal the {ref.kind}", ok, detail)


ICC_DIR = "/usr/share/color/icc/ghostscript"


def mean_diff(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def check_stroke(test_dir, ref):
    """Stroke size 2 = the network on the half-size layer, enlarged again: closer to the reference
    run on a 2x box-reduced copy (enlarged by pixel repetition) than to the full-size run, and
    clearly different from the latter."""
    src = load_png(os.path.join(test_dir, "stroke-src-before.png"))
    new = load_png(os.path.join(test_dir, "stroke-new.png"))
    full = ref.stylise(src, "candy-9", 1.0)
    half = src.reshape(32, 2, 48, 2, 3).astype(float).mean(axis=(1, 3)).round().astype(np.uint8)
    small = ref.stylise(half, "candy-9", 1.0).repeat(2, axis=0).repeat(2, axis=1)
    to_full, to_small = mean_diff(new, full), mean_diff(new, small)
    check("stroke size 2: the result differs from stroke size 1 (mean |diff| > 8/255)",
          to_full > 8, f"mean |diff| {to_full:.1f}/255")
    check("stroke size 2: the result is the half-size run enlarged (mean |diff| to it < half "
          "of that to the full-size run)", to_small < to_full / 2,
          f"to the half-size run {to_small:.1f}/255, to the full-size run {to_full:.1f}/255")


def check_twin(test_dir):
    srgb = load_png(os.path.join(test_dir, "twin-new.png"))
    prophoto = load_png(os.path.join(test_dir, "prophoto-new.png"))
    src = load_png(os.path.join(test_dir, "twin-src-before.png"))
    back = load_png(os.path.join(test_dir, "prophoto-src.png"))
    ok, detail = close(back, src, 2)
    check("ProPhoto twin: the source survives the round trip (<= 2/255)", ok, detail)
    diff = np.abs(srgb.astype(int) - prophoto.astype(int))
    check("ProPhoto twin: the same look as the sRGB twin (mean |diff| <= 1/255, max <= 8/255)",
          srgb.shape == prophoto.shape and diff.mean() <= 1.0 and diff.max() <= 8,
          f"mean {diff.mean():.3f}/255, max {diff.max()}/255")


HELPERS_SCM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers.scm")


def scriptfu_session(args, work, plugin_folder, ref):
    test_dir = os.path.join(work, "sf")
    os.makedirs(test_dir)
    make_inputs(args.shared, test_dir)
    profile = new_profile(work, "profile-sf", plugin_folder)
    scm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks.scm")
    prophoto, srgb = (os.path.join(ICC_DIR, name) for name in ("rommrgb.icc", "srgb.icc"))
    if not check(f"the ProPhoto (ROMM RGB) and sRGB profiles exist in {ICC_DIR} "
                 "(Debian package libgs-common)", os.path.exists(prophoto) and os.path.exists(srgb)):
        return ""
    rc, log = run_gimp(profile, args.models + os.pathsep + ref.translations, "plug-in-script-fu-eval",
                       f'(begin (define test-dir "{test_dir}") (define prophoto-icc "{prophoto}") '
                       f'(define srgb-icc "{srgb}") (define helpers-scm "{HELPERS_SCM}") (load "{scm}"))')
    with open(os.path.join(work, "scriptfu.log"), "w") as f:
        f.write(log)
    facts = parse_facts(log)
    if not check("Script-Fu session ran every case", rc == 0 and ("done", "all") in facts,
                 f"exit {rc}; log:\n{log[-3000:]}"):
        return log
    check_placement(facts, "rgb", "96x64", "0,0", "0", "0", "Mosaic (Impasto)")
    check_source_kept(test_dir, "rgb")
    check_pixels(test_dir, ref, "rgb", "mosaic-9", 0.7)

    check_placement(facts, "selection", "96x64", "0,0", "1", "0", "Candy (Impasto)")
    check_source_kept(test_dir, "selection")
    check_selection(test_dir, ref, "selection", (12, 8, 40, 32), "candy-9")

    check_placement(facts, "gray", "96x64", "0,0", "0", "1", "Mosaic (Impasto)")
    check_source_kept(test_dir, "gray")
    check_pixels(test_dir, ref, "gray", "mosaic-9", 1.0)

    check_placement(facts, "u16", "96x64", "0,0", "0", "0", "Candy (Impasto)")
    check_source_kept(test_dir, "u16")
    check_pixels(test_dir, ref, "u16", "candy-9", 0.5)

    check_placement(facts, "alpha", "96x64", "0,0", "1", "0", "Udnie (Impasto)")
    check_source_kept(test_dir, "alpha")
    check_alpha(test_dir, ref)

    check_placement(facts, "offsets", "96x64", "20,12", "0", "0", "Mosaic (Impasto)")
    check_source_kept(test_dir, "offsets")
    check_pixels(test_dir, ref, "offsets", "mosaic-9", 1.0, preserve=True)

    # The selection 30,20 40x30 in image coordinates is 10,8 in the layer at offsets 20,12.
    check_placement(facts, "offsel", "96x64", "20,12", "1", "0", "Rain Princess (Impasto)")
    check_source_kept(test_dir, "offsel")
    check_selection(test_dir, ref, "offsel", (10, 8, 40, 30), "rain_princess-9")

    check_placement(facts, "group", "96x64", "0,0", "0", "0", "Mosaic (Impasto)")
    check("group: new layer inside the group (3 children now)",
          facts.get(("group", "parent-is-group")) == "1" and facts.get(("group", "siblings")) == "3",
          f"{facts.get(('group', 'parent-is-group'))}, {facts.get(('group', 'siblings'))}")
    check_source_kept(test_dir, "group")
    check_pixels(test_dir, ref, "group", "mosaic-9", 1.0, tile=32)

    check_placement(facts, "zero", "96x64", "0,0", "1", "0", "Candy (Impasto)")
    zero_src = load_png(os.path.join(test_dir, "zero-src-before.png"))
    zero_new = load_png(os.path.join(test_dir, "zero-new.png"))
    check("strength 0: the new layer is an exact copy (colour and alpha)",
          zero_src.shape == zero_new.shape and np.array_equal(zero_src, zero_new),
          close(zero_new, zero_src, 0)[1])

    check_placement(facts, "stroke", "96x64", "0,0", "0", "0", "Candy (Impasto)")
    check_source_kept(test_dir, "stroke")
    check_stroke(test_dir, ref)

    check_placement(facts, "twin", "96x64", "0,0", "0", "0", "Candy (Impasto)")
    check_twin(test_dir)

    # A translation on an odd-sized RGBA layer: same size, alpha kept, strength a pixel blend.
    check_placement(facts, "translation", "93x61", "0,0", "1", "0", "Monet (Impasto)")
    check_source_kept(test_dir, "translation")
    check_pixels(test_dir, ref, "translation", TRANSLATION, 0.6)
    src = load_png(os.path.join(test_dir, "translation-src-before.png"))
    new = load_png(os.path.join(test_dir, "translation-new.png"))
    check("translation: alpha channel kept exactly", new.shape == src.shape == (61, 93, 4) and
          np.array_equal(new[:, :, 3], src[:, :, 3]), f"shapes {src.shape}, {new.shape}")
    return log


def utf8_locale():
    """A non-C UTF-8 locale: gettext ignores LANGUAGE under the C locale."""
    names = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    for name in ("en_US.utf8", "C.en_US.utf8", "en_GB.utf8"):
        if name in names:
            return name.replace("utf8", "UTF-8")
    return None


def check_help(profile):
    """GIMP registered the plug-in's help domain (pluginrc), and its map sends the procedure's
    help id to a page that is installed."""
    pluginrc = open(os.path.join(profile, "pluginrc"), encoding="utf-8", errors="replace").read()
    m = re.search(r'\(help-def "impasto-help" "file://([^"]+)"\)', pluginrc)
    if not check("Help: GIMP registered the help domain impasto-help", m is not None):
        return
    index = os.path.join(m.group(1), "en", "gimp-help.xml")
    ref = re.search(r'<help-item id="plug-in-impasto" ref="([^"]+)"',
                    open(index).read() if os.path.exists(index) else "")
    check("Help: en/gimp-help.xml maps plug-in-impasto to an installed page",
          ref is not None and os.path.exists(os.path.join(m.group(1), "en", ref.group(1))), index)


def pythonfu_session(args, work, plugin_folder):
    ui_locale = utf8_locale()
    check("an en_US.UTF-8 locale exists (for LANGUAGE=de; Debian package locales-all)",
          ui_locale is not None)
    ui_locale = ui_locale or "C.UTF-8"
    test_dir = os.path.join(work, "py")
    os.makedirs(test_dir)
    make_inputs(args.shared, test_dir)
    profile = new_profile(work, "profile-py", plugin_folder)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks_pyfu.py")
    rc, log = run_gimp(profile, args.models, "python-fu-eval",
                       f"exec(open({script!r}).read())",
                       {"IMPASTO_TEST_DIR": test_dir, "LANGUAGE": "de", "LANG": ui_locale,
                        "LC_ALL": None})
    with open(os.path.join(work, "pythonfu.log"), "w") as f:
        f.write(log)
    facts = parse_facts(log)
    if not check("Python-Fu session ran", rc == 0 and ("done", "all") in facts,
                 f"exit {rc}; log:\n{log[-3000:]}"):
        return log

    mo = os.path.join(plugin_folder, "locale", "de", "LC_MESSAGES", DOMAIN + ".mo")
    german = gettext.GNUTranslations(open(mo, "rb"))
    label = german.gettext("Style _Transfer…")
    check("de: catalogue translates the menu label", label != "Style _Transfer…", label)
    check("de: GIMP shows the German menu label with LANGUAGE=de",
          facts.get(("i18n", "menu-label")) == label, facts.get(("i18n", "menu-label")))
    check("de: German argument label", facts.get(("i18n", "strength-nick")) ==
          german.gettext("Stre_ngth"), facts.get(("i18n", "strength-nick")))

    check_help(profile)
    first = sorted(n[:-5] for n in os.listdir(args.models) if n.endswith(".onnx"))[0]
    check("factory defaults: the first installed style", facts.get(("defaults", "model")) == first,
          f"{facts.get(('defaults', 'model'))}, expected {first}")
    check("Python-Fu call succeeds and adds a layer",
          facts.get(("python", "status")) == "success" and facts.get(("python", "layers")) == "2",
          f"{facts.get(('python', 'status'))}, {facts.get(('python', 'layers'))} layers")
    check("Python-Fu: layer named after the style",
          facts.get(("python", "name")) == german.gettext("%s (Impasto)") % "Candy",
          facts.get(("python", "name")))
    message = facts.get(("unknown", "message"), "")
    check("unknown model: calling error", facts.get(("unknown", "status")) == "calling-error",
          facts.get(("unknown", "status")))
    check("unknown model: message names the folders searched", args.models in message, message)
    check("unknown model: no layer added", facts.get(("unknown", "layers")) == "2",
          facts.get(("unknown", "layers")))
    check("unknown model: the error names the model", "no-such-model" in message, message)
    message = facts.get(("indexed", "message"), "")
    check("INDEXED: calling error", facts.get(("indexed", "status")) == "calling-error",
          facts.get(("indexed", "status")))
    expected = german.gettext("Style Transfer works on RGB and grayscale layers, and this image "
                              "is indexed (a palette image, whose few colours cannot hold a "
                              "painting). Convert it first with Image ▸ Mode ▸ RGB.")
    check("INDEXED: the (German) message says why and what to do", message == expected and
          expected.startswith("Stil"), message)
    check("INDEXED: no layer added", facts.get(("indexed", "layers")) == "1",
          facts.get(("indexed", "layers")))
    return log


def no_models_session(args, work, plugin_folder):
    """No model anywhere: the procedure still registers and a call is a calling error."""
    test_dir = os.path.join(work, "empty")
    os.makedirs(os.path.join(test_dir, "models"))
    make_inputs(args.shared, test_dir)
    profile = new_profile(work, "profile-empty", plugin_folder, shipped_models=False)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks_pyfu.py")
    rc, log = run_gimp(profile, os.path.join(test_dir, "models"), "python-fu-eval",
                       f"exec(open({script!r}).read())",
                       {"IMPASTO_TEST_DIR": test_dir, "IMPASTO_TEST_NO_MODELS": "1"})
    with open(os.path.join(work, "empty.log"), "w") as f:
        f.write(log)
    facts = parse_facts(log)
    if not check("no models: session ran", rc == 0 and ("done", "all") in facts,
                 f"exit {rc}; log:\n{log[-3000:]}"):
        return log
    check("no models: the procedure is registered", facts.get(("registered", "found")) == "1")
    check("no models: a call is a calling error", facts.get(("empty", "status")) == "calling-error",
          facts.get(("empty", "status")))
    message = facts.get(("empty", "message"), "")
    check("no models: the message names the folders searched",
          os.path.join(test_dir, "models") in message and
          os.path.join(profile, "impasto", "models") in message, message)
    check("no models: no layer added", facts.get(("empty", "layers")) == "1")
    return log


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--plugindir", required=True, help="the configured plug-in folder")
    parser.add_argument("--cli", default="")
    args = parser.parse_args()
    args.shared = os.environ.get("IMPASTO_SHARED", "")
    args.models = os.path.realpath(os.path.join(args.shared, "models"))

    if shutil.which(GIMP) is None:
        return missing_tool(f"{GIMP} not found")
    if not os.path.exists(os.path.join(args.models, "mosaic-9.onnx")):
        return missing_data(f"no shared models in {args.models}")
    cli = args.cli if args.cli and os.access(args.cli, os.X_OK) else ""
    if not cli:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return missing_tool("neither the impasto CLI nor onnxruntime for reference pixels")

    work = tempfile.mkdtemp(prefix="impasto-plugin-test-")
    keep = os.environ.get("IMPASTO_KEEP_TEST_DIR")
    try:
        plugin_folder = install(args.build, args.plugindir, work)
        ref = Reference(cli, args.models, work, translation_folder(args.shared, work))
        print(f"# reference pixels: {ref.kind}; work folder {work}")
        log = scriptfu_session(args, work, plugin_folder, ref)
        bad = criticals(log)
        check("no CRITICAL in GIMP's log (Script-Fu session)", not bad, "\n".join(bad[:5]))
        logs = [log]
        log = pythonfu_session(args, work, plugin_folder)
        logs.append(log)
        bad = criticals(log)
        check("no other CRITICAL in GIMP's log (Python-Fu session)", not bad, "\n".join(bad[:5]))
        log = no_models_session(args, work, plugin_folder)
        logs.append(log)
        bad = criticals(log)
        check("no CRITICAL in GIMP's log (no-models session)", not bad, "\n".join(bad[:5]))
        bad = sanitizer_reports("\n".join(logs))
        check("no sanitizer report from our code in GIMP's logs", not bad, "\n".join(bad[:5]))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
