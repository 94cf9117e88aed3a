"""Images as numpy arrays through gdk-pixbuf, exactly as the impasto CLI reads and writes them.

Shared by tests/test_cli.py, tests/plugin/run_plugin_tests.py and scripts/bench_ort.py."""
import gi

gi.require_version("GdkPixbuf", "2.0")
import numpy as np  # noqa: E402
from gi.repository import GdkPixbuf, GLib  # noqa: E402


def load_image(path):
    """uint8 [H, W, C] (C = 3 or 4), upright; gdk-pixbuf gives gray files as RGB."""
    pb = GdkPixbuf.Pixbuf.new_from_file(path).apply_embedded_orientation()
    w, h, n, rs = pb.get_width(), pb.get_height(), pb.get_n_channels(), pb.get_rowstride()
    data = pb.read_pixel_bytes().get_data()
    out = np.empty((h, w, n), np.uint8)
    for y in range(h):
        out[y] = np.frombuffer(data, np.uint8, w * n, y * rs).reshape(w, n)
    return out


def save_image(arr, path, fmt="png"):
    """Write uint8 [H, W, 3 or 4] as PNG or JPEG (quality 95)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w, n = arr.shape
    pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(arr.tobytes()),
                                         GdkPixbuf.Colorspace.RGB, n == 4, 8, w, h, w * n)
    keys, values = (["quality"], ["95"]) if fmt == "jpeg" else ([], [])
    pb.savev(path, fmt, keys, values)
