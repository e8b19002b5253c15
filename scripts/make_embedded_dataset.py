"""Make minisyn/data/mnist_small.npz, the small MNIST sample shipped with minisyn.

From the MNIST test files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) it
takes 600 images of each digit, chosen at random with a fixed seed: 500 for
training and 100 for testing, 5,000 + 1,000 in all. Each split is then put in
a seeded random order. The file holds the uint8 arrays ``x_train`` (5000, 28,
28), ``y_train`` (5000,), ``x_test`` (1000, 28, 28), ``y_test`` (1000,) and
the positions of the images in the t10k files, ``idx_train`` and ``idx_test``
(uint16). The zip archive is written with fixed time stamps, so the same
inputs give the same bytes.

Usage::

    python scripts/make_embedded_dataset.py --mnist-dir ../shared/data/mnist
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from minisyn.datasets import read_idx  # noqa: E402

SEED = 1998
PER_CLASS_TRAIN = 500
PER_CLASS_TEST = 100

# SHA-256 of the *decompressed* canonical MNIST test files, as published with
# many public MNIST loaders; checked so that the sample is real MNIST.
RAW_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def select(labels, seed=SEED):
    """Positions of the training and test sample in the t10k files."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        pos = rng.permutation(np.flatnonzero(labels == digit))
        train.append(pos[:PER_CLASS_TRAIN])
        test.append(pos[PER_CLASS_TRAIN : PER_CLASS_TRAIN + PER_CLASS_TEST])
    train, test = np.concatenate(train), np.concatenate(test)
    return rng.permutation(train), rng.permutation(test)


def write_npz(path, arrays):
    """Like ``np.savez_compressed`` but byte-reproducible (fixed zip time stamps)."""
    with zipfile.ZipFile(path, "w") as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue(), zipfile.ZIP_DEFLATED, compresslevel=9)


def find(folder, stem):
    for cand in (stem + ".gz", stem):
        if (folder / cand).is_file():
            return folder / cand
    sys.exit(f"{stem}(.gz) not found in {folder}; pass --mnist-dir")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--mnist-dir",
        type=Path,
        default=REPO.parent / "shared" / "data" / "mnist",
        help="folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "minisyn" / "data" / "mnist_small.npz")
    ap.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    args = ap.parse_args(argv)

    files = {stem: find(args.mnist_dir, stem) for stem in RAW_SHA256}
    if not args.no_verify:
        for stem, path in files.items():
            images = read_idx(path)
            # hash of the decompressed IDX bytes: header + payload
            header = bytes([0, 0, 8, images.ndim]) + np.asarray(images.shape, ">u4").tobytes()
            got = hashlib.sha256(header + images.tobytes()).hexdigest()
            if got != RAW_SHA256[stem]:
                sys.exit(f"{path}: not the canonical MNIST file (SHA-256 {got})")
    images = read_idx(files["t10k-images-idx3-ubyte"])
    labels = read_idx(files["t10k-labels-idx1-ubyte"])
    idx_train, idx_test = select(labels)
    arrays = {
        "x_train": images[idx_train],
        "y_train": labels[idx_train],
        "x_test": images[idx_test],
        "y_test": labels[idx_test],
        "idx_train": idx_train.astype(np.uint16),
        "idx_test": idx_test.astype(np.uint16),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
