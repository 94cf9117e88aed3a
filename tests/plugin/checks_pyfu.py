# SPDX-License-Identifier: GPL-3.0-or-later
# Python-Fu side of the plug-in tests, run inside GIMP by run_plugin_tests.py through
# python-fu-eval (with LANGUAGE=de).  Prints "FACT <case> key=value" lines on stdout.
import os
import sys

import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio

test_dir = os.environ["IMPASTO_TEST_DIR"]


def fact(tag, key, value):
    print(f"FACT {tag} {key}={value}", flush=True)


pdb = Gimp.get_pdb()
proc = pdb.lookup_procedure("plug-in-impasto")
fact("registered", "found", int(proc is not None))


def no_models_checks():
    # No model installed anywhere: the procedure is still there and refuses to run.
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                           Gio.File.new_for_path(os.path.join(test_dir, "in.png")))
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [image.get_layers()[0]])
    result = proc.run(config)
    fact("empty", "status", result.index(0).value_nick)
    fact("empty", "message", " ".join(str(result.index(1)).split()))
    fact("empty", "layers", len(image.get_layers()))
    fact("done", "all", 1)


def main_checks():
    fact("i18n", "menu-label", proc.get_menu_label())
    for arg in proc.get_arguments():
        if arg.get_name() == "strength":
            fact("i18n", "strength-nick", arg.get_nick())

    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                           Gio.File.new_for_path(os.path.join(test_dir, "in.png")))
    layer = image.get_layers()[0]
    # Factory defaults ("Reset to factory defaults" in the dialog) pick a real style.
    fact("defaults", "model", proc.create_config().get_property("model"))

    def run(model):
        config = proc.create_config()
        config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
        config.set_property("image", image)
        config.set_core_object_array("drawables", [layer])
        config.set_property("model", model)
        config.set_property("strength", 1.0)
        return proc.run(config)

    result = run("candy-9")
    fact("python", "status", result.index(0).value_nick)
    fact("python", "layers", len(image.get_layers()))
    fact("python", "name", image.get_layers()[0].get_name())

    # A model that is not installed: a calling error that names it, and nothing added.
    result = run("no-such-model")
    fact("unknown", "status", result.index(0).value_nick)
    fact("unknown", "message", " ".join(str(result.index(1)).split()) if result.length() > 1 else "")
    fact("unknown", "layers", len(image.get_layers()))

    # An INDEXED image: refused with a message that says what to do.
    indexed = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                             Gio.File.new_for_path(os.path.join(test_dir, "in.png")))
    indexed.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16,
                            False, False, "")
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", indexed)
    config.set_core_object_array("drawables", [indexed.get_layers()[0]])
    config.set_property("model", "candy-9")
    result = proc.run(config)
    fact("indexed", "status", result.index(0).value_nick)
    fact("indexed", "message", " ".join(str(result.index(1)).split()) if result.length() > 1 else "")
    fact("indexed", "layers", len(indexed.get_layers()))
    fact("done", "all", 1)


if os.environ.get("IMPASTO_TEST_NO_MODELS"):
    no_models_checks()
else:
    main_checks()
