#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plug-in's arbitrary style ("style from an image") in a headless GIMP 3: Script-Fu calls
plug-in-impasto with #:style-file, #:style-layer, #:style2-file/#:mix on a Magenta and an AdaIN
pack (NAME.onnx + NAME.json naming the other network, in a throw-away model folder pointing into
$IMPASTO_SHARED), and the new layers must equal the impasto CLI's output for the same inputs
(max |diff| <= 1 of 255).  A call without a style image must fail and add nothing.

Exit status: 0 passed, 1 failed (also without gimp-console-3.0 or the shared models), 77 when the
shared models are missing and IMPASTO_ALLOW_MISSING_DATA=1.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from run_plugin_tests import (GIMP, HELPERS_SCM, criticals, install, load_png,  # noqa: E402
                              make_inputs, new_profile, parse_facts, run_gimp)
from tap import check, missing_data, missing_tool, summary  # noqa: E402


def make_packs(shared, models):
    """magenta.onnx (transfer) + magenta.json, adain.onnx (decoder) + adain.json."""
    mag, arch = os.path.join(shared, "models-magenta"), os.path.join(shared, "models-arch")
    packs = {"magenta": ("magenta-style-transfer.onnx", mag, "predictor", "magenta-style-predict.onnx"),
             "adain": ("adain-vgg-w16-random-decoder.onnx", arch, "encoder",
                       "adain-vgg-w16-random-encoder.onnx")}
    for name, (net, folder, role, other) in packs.items():
        os.symlink(os.path.join(folder, net), os.path.join(models, name + ".onnx"))
        with open(os.path.join(models, name + ".json"), "w") as f:
            json.dump({"name": name.capitalize(), "family": name,
                       "networks": {role: os.path.join(folder, other)}}, f)


def cli_reference(cli, shared, test_dir, name, model, *args):
    mag, arch = os.path.join(shared, "models-magenta"), os.path.join(shared, "models-arch")
    pack = ([os.path.join(mag, "magenta-style-transfer.onnx"), "--style-predictor",
             os.path.join(mag, "magenta-style-predict.onnx")] if model == "magenta" else
            [os.path.join(arch, "adain-vgg-w16-random-decoder.onnx"), "--style-encoder",
             os.path.join(arch, "adain-vgg-w16-random-encoder.onnx")])
    out = os.path.join(test_dir, "ref-" + name)
    r = subprocess.run([cli, "stylize", pack[0], os.path.join(test_dir, "in.png"), out, *pack[1:],
                        *args], capture_output=True, text=True)
    return load_png(out) if r.returncode == 0 else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--plugindir", required=True)
    parser.add_argument("--cli", required=True)
    args = parser.parse_args()
    shared = os.environ.get("IMPASTO_SHARED", "")
    if shutil.which(GIMP) is None:
        return missing_tool(f"{GIMP} not found")
    if not os.path.exists(os.path.join(shared, "models-magenta", "magenta-style-transfer.onnx")):
        return missing_data(f"no Magenta models in {shared}")
    work = tempfile.mkdtemp(prefix="impasto-style-test-")
    try:
        plugin_folder = install(args.build, args.plugindir, work)
        test_dir, models = os.path.join(work, "sf"), os.path.join(work, "models")
        os.makedirs(test_dir)
        os.makedirs(models)
        make_inputs(shared, test_dir)
        ref = os.path.join(shared, "models-magenta", "ref")
        shutil.copy(os.path.join(ref, "style_wave_256.png"), os.path.join(test_dir, "wave.png"))
        shutil.copy(os.path.join(ref, "style_starry_night_256.png"), os.path.join(test_dir, "starry.png"))
        make_packs(shared, models)
        profile = new_profile(work, "profile-style", plugin_folder)
        scm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks_style.scm")
        rc, log = run_gimp(profile, models, "plug-in-script-fu-eval",
                           f'(begin (define test-dir "{test_dir}") (define helpers-scm "{HELPERS_SCM}") '
                           f'(load "{scm}"))')
        facts = parse_facts(log)
        if not check("Script-Fu style session ran every case", rc == 0 and ("done", "all") in facts,
                     f"exit {rc}; log:\n{log[-3000:]}"):
            return summary()
        wave, starry = os.path.join(test_dir, "wave.png"), os.path.join(test_dir, "starry.png")
        cases = (("mag-file.png", "magenta", ["--style", wave], "#:style-file (Magenta)"),
                 ("mag-layer.png", "magenta", ["--style", wave], "#:style-layer (Magenta)"),
                 ("ada-file.png", "adain", ["--style", wave, "--strength", "0.5"],
                  "#:style-file, strength 0.5 (AdaIN pair)"),
                 ("mag-mix.png", "magenta", ["--style", wave, "--style2", starry, "--mix", "0.3"],
                  "#:style2-file #:mix 0.3 (Magenta)"))
        for out, model, cli_args, what in cases:
            want = cli_reference(args.cli, shared, test_dir, out, model, *cli_args)
            got = load_png(os.path.join(test_dir, out)) if os.path.exists(os.path.join(test_dir, out)) else None
            ok = want is not None and got is not None and got.shape == want.shape
            d = int(abs(got[..., :3].astype(int) - want[..., :3].astype(int)).max()) if ok else -1
            check(f"plug-in {what} equals the CLI", ok and d <= 1, f"max |diff| {d}")
        check("plug-in without a style image fails", facts.get(("nostyle", "ok")) == "0",
              facts.get(("nostyle", "ok")))
        check("plug-in without a style image adds no layer", facts.get(("nostyle", "layers")) == "1",
              facts.get(("nostyle", "layers")))
        msg = [line for line in log.splitlines() if "takes a style image" in line]
        check("the error says a style image is needed", bool(msg), log[-1500:] if not msg else msg[0])
        bad = criticals(log)
        check("no CRITICAL in GIMP's log (style session)", not bad, "\n".join(bad[:5]))
    finally:
        if not os.environ.get("IMPASTO_KEEP_TEST_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
