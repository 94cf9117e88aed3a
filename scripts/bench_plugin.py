#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plug-in's share of a batch run against the whole impasto CLI run, on the same image.

    scripts/in-trixie.sh scripts/bench_plugin.py --build build-trixie [--size 4000x2667] [--runs 3]
                                                 [--model mosaic-9]

Makes a photo of the given size (Chelsea from ../shared, enlarged), then times
  - the CLI: `impasto stylize MODEL in.png out.png`, the whole process (decode, run, encode), half
    of the runs before and half after the GIMP session, so a drifting machine hits both sides;
  - the plug-in: inside one gimp-console session (Python-Fu), the wall time of each
    plug-in-impasto call (plug-in start, reading the layer, the network, writing the new layer),
    the image loaded once beforehand and the new layer removed after each call.
Prints every run, the medians and the ratio plug-in / CLI (issue 12: within 10 %).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "plugin"))
import run_plugin_tests as common  # noqa: E402  (install, new_profile, GdkPixbuf)

GIMP_SCRIPT = r'''
import os, time
import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio
image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.environ["BENCH_IN"]))
layer = image.get_layers()[0]
proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto")
for i in range(int(os.environ["BENCH_RUNS"])):
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    config.set_property("model", os.environ["BENCH_MODEL"])
    t = time.monotonic()
    result = proc.run(config)
    dt = time.monotonic() - t
    print(f"BENCH plugin {dt:.3f} {result.index(0).value_nick}", flush=True)
    image.remove_layer(image.get_layers()[0])
'''


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--size", default="4000x2667")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="mosaic-9")
    args = parser.parse_args()
    shared = os.path.realpath(os.path.join(here, "..", "..", "shared"))
    models = os.path.join(shared, "models")
    cli = os.path.join(args.build, "cli", "impasto")
    width, height = (int(v) for v in args.size.split("x"))

    work = tempfile.mkdtemp(prefix="impasto-bench-plugin-")
    photo = os.path.join(work, "in.png")
    common.GdkPixbuf.Pixbuf.new_from_file(
        os.path.join(shared, "models-src", "images-content", "chelsea.png")).scale_simple(
        width, height, common.GdkPixbuf.InterpType.BILINEAR).savev(photo, "png", [], [])
    model = os.path.join(models, args.model + ".onnx")

    def cli_runs(n):
        times = []
        for _ in range(n):
            t = time.monotonic()
            subprocess.run([cli, "stylize", model, photo, os.path.join(work, "out.png")],
                           check=True, capture_output=True)
            times.append(time.monotonic() - t)
            print(f"cli    {times[-1]:7.2f} s", flush=True)
        return times

    load_before = os.getloadavg()[0]
    cli_times = cli_runs((args.runs + 1) // 2)
    plugin_folder = common.install(args.build, common_plugindir(args.build), work)
    profile = common.new_profile(work, "profile", plugin_folder)
    script = os.path.join(work, "bench.py")
    with open(script, "w") as f:
        f.write(GIMP_SCRIPT)
    rc, log = common.run_gimp(profile, models, "python-fu-eval", f"exec(open({script!r}).read())",
                              {"BENCH_IN": photo, "BENCH_RUNS": str(args.runs),
                               "BENCH_MODEL": args.model})
    plugin_times = []
    for line in log.splitlines():
        if line.startswith("BENCH plugin"):
            _, _, seconds, status = line.split()
            if status != "success":
                sys.exit(f"plug-in run failed: {line}\n{log[-2000:]}")
            plugin_times.append(float(seconds))
            print(f"plugin {plugin_times[-1]:7.2f} s", flush=True)
    if len(plugin_times) != args.runs:
        sys.exit(f"GIMP session failed (exit {rc}):\n{log[-3000:]}")
    cli_times += cli_runs(args.runs // 2)

    c, p = statistics.median(cli_times), statistics.median(plugin_times)
    print(f"\n{args.size} ({width * height / 1e6:.1f} MP), {args.model}, {args.runs} runs each, "
          f"load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f}")
    print("| size | CLI (whole process) | plug-in call | plug-in / CLI |")
    print("|---|---|---|---|")
    print(f"| {width} × {height} | {c:.2f} s | {p:.2f} s | {p / c:.2f} |")
    subprocess.run(["rm", "-rf", work])
    return 0


def common_plugindir(build):
    """The plug-in folder meson was configured with (meson install puts the plug-in there)."""
    out = subprocess.run(["meson", "introspect", "--buildoptions", build], capture_output=True,
                         text=True, check=True).stdout
    for option in json.loads(out):
        if option["name"] == "plugindir" and option["value"]:
            return option["value"]
    return subprocess.run(["pkg-config", "--variable=gimplibdir", "gimp-3.0"], capture_output=True,
                          text=True, check=True).stdout.strip() + "/plug-ins"


if __name__ == "__main__":
    sys.exit(main())
