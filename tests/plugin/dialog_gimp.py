# SPDX-License-Identifier: GPL-3.0-or-later
# Runs inside the GUI GIMP (python-fu-eval) for run_dialog_test.py: opens dialog-in.png in a display,
# runs plug-in-impasto interactively (the driver presses OK in the dialog), reports the layers,
# then waits until the driver has pressed Ctrl+Z in the image window and reports them again.
# Facts go to $IMPASTO_TEST_DIR/facts.txt, one "key=value" a line.
import os
import time

import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio

test_dir = os.environ["IMPASTO_TEST_DIR"]
facts = open(os.path.join(test_dir, "facts.txt"), "w", buffering=1)


def fact(key, value):
    facts.write(f"{key}={value}\n")


image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                       Gio.File.new_for_path(os.path.join(test_dir, "dialog-in.png")))
layer = image.get_layers()[0]
Gimp.Display.new(image)
Gimp.displays_flush()

proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto")
config = proc.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", [layer])
if not os.environ.get("IMPASTO_TEST_NO_MODELS"):
    # the model with a sidecar and thumbnail, unless the driver wants another
    config.set_property("model", os.environ.get("IMPASTO_TEST_MODEL", "udnie-9"))
result = proc.run(config)  # returns when the dialog is closed

fact("status", result.index(0).value_nick)
layers = image.get_layers()
fact("layers", len(layers))
fact("top-name", layers[0].get_name())
fact("top-size", f"{layers[0].get_width()}x{layers[0].get_height()}")
# the new layer's pixels, for the driver's preview-vs-result check
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl  # noqa: E402
top = layers[0]
pixels = top.get_buffer().get(Gegl.Rectangle.new(0, 0, top.get_width(), top.get_height()), 1.0,
                              "R'G'B' u8", Gegl.AbyssPolicy.CLAMP)
with open(os.path.join(test_dir, "final.rgb"), "wb") as f:
    f.write(bytes(pixels))
fact("ok-done", 1)

# The driver now presses Ctrl+Z in the image window and creates "undone".
deadline = time.time() + 120
while not os.path.exists(os.path.join(test_dir, "undone")) and time.time() < deadline:
    time.sleep(0.2)
time.sleep(1.0)
fact("layers-after-undo", len(image.get_layers()))
fact("name-after-undo", image.get_layers()[0].get_name())
fact("done", 1)
