#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The impasto command's MODEL names (cli/models_cmd.c over plugin/models.c):

    python3 tests/test_cli_models.py BUILD/cli/impasto

A NAME is looked up in IMPASTO_MODEL_PATH, then the GIMP profile's impasto/models
(GIMP3_DIRECTORY, else XDG_CONFIG_HOME/GIMP/3.0), then the installed folders, first folder
first; a path still works; `stylize NAME` gives the same bytes as `stylize PATH`;
`impasto models list` and `--help` show the models and the folders.  Needs
$IMPASTO_SHARED/models/mosaic-9.onnx (fails without it; IMPASTO_ALLOW_MISSING_DATA=1 skips).
Standard library only."""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, missing_data, summary  # noqa: E402

CLI = ""


def run(args, env_extra, cwd=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMPASTO_MODEL_PATH", "GIMP3_DIRECTORY", "XDG_CONFIG_HOME")}
    env.update(env_extra)
    p = subprocess.run([CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def write_png(path, w, h):
    """An RGB PNG with a gradient (no imaging module needed)."""
    rows = b"".join(b"\0" + b"".join(bytes((x * 255 // w, y * 255 // h, (x * y) % 256))
                                      for x in range(w))
                    for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def folder(*parts):
    path = os.path.join(*parts)
    os.makedirs(path, exist_ok=True)
    return path


def main():
    global CLI
    CLI = os.path.abspath(sys.argv[1])
    shared = os.environ.get("IMPASTO_SHARED", "")
    mosaic = os.path.realpath(os.path.join(shared, "models", "mosaic-9.onnx"))
    if not os.path.isfile(mosaic):
        return missing_data(f"no {mosaic}")

    with tempfile.TemporaryDirectory(prefix="impasto-cli-models-") as tmp:
        first = folder(tmp, "first")
        second = folder(tmp, "second")
        profile = folder(tmp, "profile")
        xdg = folder(tmp, "xdg")
        profile_models = folder(profile, "impasto", "models")
        xdg_models = folder(xdg, "GIMP", "3.0", "impasto", "models")
        os.symlink(mosaic, os.path.join(second, "mosaic-9.onnx"))
        with open(os.path.join(first, "broken.onnx"), "wb") as f:
            f.write(b"not a model")
        os.symlink(mosaic, os.path.join(second, "broken.onnx"))
        os.symlink(mosaic, os.path.join(profile_models, "tiles.onnx"))
        with open(os.path.join(profile_models, "tiles.json"), "w") as f:
            f.write('{"name": "Tiles", "license": "BSD-3-Clause", "family": "fast", "x-new": 1}')
        os.symlink(mosaic, os.path.join(xdg_models, "xdg-style.onnx"))
        with open(os.path.join(second, "pack.json"), "w") as f:
            f.write('{"family": "magenta", "networks": {"predictor": "p.onnx", "transfer": "t.onnx"}}')
        path_env = {"IMPASTO_MODEL_PATH": f"{first}:{second}", "GIMP3_DIRECTORY": profile}

        rc, out, err = run(["info", "mosaic-9"], path_env)
        check("info NAME from IMPASTO_MODEL_PATH", rc == 0 and "Conv" in out, f"exit {rc}: {err}")
        rc, out, err = run(["info", "tiles"], path_env)
        check("info NAME from GIMP3_DIRECTORY/impasto/models", rc == 0 and "Conv" in out,
              f"exit {rc}: {err}")
        rc, out, err = run(["info", "xdg-style"], {"XDG_CONFIG_HOME": xdg})
        check("info NAME from XDG_CONFIG_HOME/GIMP/3.0/impasto/models", rc == 0 and "Conv" in out,
              f"exit {rc}: {err}")
        rc, out, err = run(["info", "broken"], path_env)
        check("the first folder wins (its broken.onnx fails)",
              rc == 1 and os.path.join(first, "broken.onnx") in err, f"exit {rc}: {err}")
        rc, out, err = run(["info", "broken"], {"IMPASTO_MODEL_PATH": f"{second}:{first}"})
        check("... and in the other order the good one loads", rc == 0, f"exit {rc}: {err}")

        rc, out, err = run(["info", "nope"], path_env)
        check("unknown NAME: one line naming it and every folder searched",
              rc == 1 and err.count("\n") == 1 and err.startswith("impasto: no model 'nope'")
              and all(d in err for d in (first, second, profile_models)),
              f"exit {rc}: {err}")
        rc, out, err = run(["info", "pack"], path_env)
        check("a pack NAME: a clear refusal", rc == 1 and "magenta pack of 2 networks" in err,
              f"exit {rc}: {err}")
        rc, out, err = run(["info", "nope.onnx"], path_env)
        check("a name ending in .onnx is a path", rc == 1 and "nope.onnx" in err
              and "no model" not in err, f"exit {rc}: {err}")
        rc, out, err = run(["info", "mosaic-9.onnx"], {}, cwd=second)
        check("a relative path still works", rc == 0 and "Conv" in out, f"exit {rc}: {err}")

        photo = os.path.join(tmp, "photo.png")
        write_png(photo, 40, 28)
        by_name, by_path = os.path.join(tmp, "by-name.png"), os.path.join(tmp, "by-path.png")
        rc1, _, err1 = run(["stylize", "mosaic-9", photo, by_name, "--threads", "2"], path_env)
        rc2, _, err2 = run(["stylize", mosaic, photo, by_path, "--threads", "2"], {})
        same = rc1 == 0 and rc2 == 0 and open(by_name, "rb").read() == open(by_path, "rb").read()
        check("stylize NAME == stylize PATH, byte for byte", same, f"{rc1} {err1} {rc2} {err2}")
        rc, _, err = run(["stylize", "nope", photo, os.path.join(tmp, "x.png")], path_env)
        check("stylize with an unknown NAME leaves no output",
              rc == 1 and not os.path.exists(os.path.join(tmp, "x.png")), f"exit {rc}: {err}")

        rc, out, err = run(["models", "list"], path_env)
        lines = out.splitlines()
        rows = {line.split()[0]: line for line in lines[1:]}
        check("models list: a header", rc == 0 and lines and lines[0].split()[:2] == ["NAME", "DISPLAY"],
              repr(out))
        check("models list: every model once, sorted",
              list(rows) == ["broken", "mosaic-9", "pack", "tiles"], repr(list(rows)))
        tiles = rows.get("tiles", "").split()
        check("models list: display name, family, licence, folder of a sidecar model",
              tiles == ["tiles", "Tiles", "fast", "BSD-3-Clause", profile_models], repr(tiles))
        mos = rows.get("mosaic-9", "").split()
        check("models list: a bare .onnx is fast with no licence", mos == ["mosaic-9", "Mosaic",
              "fast", "-", second], repr(mos))
        check("models list: a pack with its family", rows.get("pack", "").split()[2:3] == ["magenta"],
              repr(rows.get("pack")))
        rc, out, err = run(["models", "list"], {"IMPASTO_MODEL_PATH": os.path.join(tmp, "empty"),
                                                "GIMP3_DIRECTORY": os.path.join(tmp, "none")})
        # The installed folders of this build may hold models: only an empty list is checked.
        check("models list without models says so, or lists only installed ones",
              rc == 0 and ("No models installed" in out or "impasto/models" in out), repr(out))
        rc, out, err = run(["models"], path_env)
        check("models without a subcommand: usage", rc == 2 and "models list" in err, err)
        rc, out, err = run(["models", "frobnicate"], path_env)
        check("unknown models subcommand", rc == 2 and "models frobnicate" in err, err)

        rc, out, err = run(["--help"], path_env)
        check("--help lists the folders searched, in order",
              rc == 0 and "models list" in out and out.find(first) < out.find(second)
              < out.find(profile_models) and "share/impasto/models" in out
              and out.find(first) > 0, out[-600:])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
