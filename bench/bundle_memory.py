#!/usr/bin/env python3
"""Peak memory of `da3d info` and `da3d score` on bundles made to exhaust memory: small files (under
1 MB) whose header asks for far more than a model holds. Each is refused; this prints the exit code,
the peak RSS (/usr/bin/time -v) and the message, to show the refusal comes before any allocation.

Usage: bench/bundle_memory.py   (builds nothing: needs $CARGO_TARGET_DIR/debug/da3d and
$DA3D_DATA_DIR/mammography.csv; standard library only)
"""
import base64, json, os, re, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/da3d-target"))
DA3D = os.path.join(TARGET, "debug", "da3d")
DATA = os.path.join(os.environ.get("DA3D_DATA_DIR", os.path.join(ROOT, "..", "shared", "datasets")), "mammography.csv")


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def edited(bundle, edit):
    """The bundle with its header JSON changed by edit(header) and a correct checksum."""
    n = struct.unpack_from("<Q", bundle, 12)[0]
    header = json.loads(bundle[20:20 + n])
    edit(header)
    text = json.dumps(header).encode()
    body = bundle[:12] + struct.pack("<Q", len(text)) + text + bundle[20 + n:-8]
    return body + struct.pack("<Q", fnv1a(body))


def peak(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    message = next((l for l in p.stderr.splitlines() if l.startswith("error")), "")
    return p.returncode, rss, message


def main():
    with tempfile.TemporaryDirectory() as work:
        model = os.path.join(work, "m.da3d")
        subprocess.run([DA3D, "train", DATA, "-o", model, "--quiet"], check=True, capture_output=True)
        bundle = open(model, "rb").read()
        bomb = base64.b64encode(zlib.compress(bytes(256 << 20), 9)[2:-4]).decode()
        cases = {
            "valid (for comparison)": lambda h: None,
            "reference rows inflating to 256 MB": lambda h: h["neighbours"].__setitem__("reference", bomb),
            "k = 200,000 neighbours": lambda h: h["neighbours"].__setitem__("k", 200_000),
            "an alarm of 10,000 layers": lambda h: h["config"]["architecture"].__setitem__("alarm", [2] * 10_000),
            "two alarm layers of 60,000 units": lambda h: (h["config"]["architecture"].__setitem__("alarm", [60_000, 60_000]),
                                                           h["networks"]["alarm"].__setitem__("hidden", [60_000, 60_000])),
            "a threshold of 1e39 (infinite in f32)": lambda h: h.__setitem__("threshold", 1e39),
        }
        print(f"{'bundle':40} {'bytes':>9} {'command':>6} {'exit':>4} {'peak RSS MiB':>12}  message")
        for name, edit in cases.items():
            path = os.path.join(work, "case.da3d")
            data = edited(bundle, edit)
            open(path, "wb").write(data)
            for cmd in (["info", path], ["score", path, DATA, "-o", os.path.join(work, "s.csv")]):
                code, rss, message = peak([DA3D] + cmd)
                print(f"{name:40} {len(data):>9} {cmd[0]:>6} {code:>4} {rss / 1024:>12.1f}  {message[:110]}")


if __name__ == "__main__":
    sys.exit(main())
