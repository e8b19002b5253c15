"""Tests of minisyn.datasets: IDX files, resolution, download, batches."""
from __future__ import annotations

import gzip
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minisyn import datasets as ds
from minisyn.datasets import DataError, load_dataset, read_idx, write_idx

from helpers import MNIST_DIR, SHARED_DATA, needs_mnist

FASHION_DIR = SHARED_DATA / "fashion-mnist"
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason=f"development copy of Fashion-MNIST not present at {FASHION_DIR}",
)
STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No user data folder; a private cache, so tests never touch the real one."""
    monkeypatch.delenv("MINISYN_DATA", raising=False)
    monkeypatch.setenv("MINISYN_CACHE", str(tmp_path / "cache"))


def tiny_arrays(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8)[::-1] % 10,
    }


def write_tiny(folder, arrays, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for role, stem in STEMS.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[role])
    return folder


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- IDX ---------------------------------------------------------------------

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(IDX_DTYPES),
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    gz=st.booleans(),
)
def test_idx_round_trip_preserves_dtype_shape_and_bytes(tmp_path_factory, data, dtype, shape, gz):
    a = data.draw(hnp.arrays(dtype, shape))
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == a.shape
    assert b.tobytes() == a.tobytes()
    assert b.flags.writeable


def test_read_idx_detects_gzip_by_magic_bytes_not_by_name(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    write_idx(tmp_path / "gzipped.idx", a, gzip=True)
    write_idx(tmp_path / "plain.gz", a, gzip=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped.idx"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), a)


def test_write_idx_is_big_endian_with_standard_header(tmp_path):
    write_idx(tmp_path / "a.idx", np.array([[1, 2, 3]], dtype=np.int16))
    assert (tmp_path / "a.idx").read_bytes() == (
        b"\x00\x00\x0b\x02" + b"\x00\x00\x00\x01\x00\x00\x00\x03" + b"\x00\x01\x00\x02\x00\x03"
    )


def test_write_idx_rejects_dtypes_idx_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="uint16"):
        write_idx(tmp_path / "a.idx", np.zeros(3, np.uint16))


GOOD = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(range(6))


def _bad_gzip_crc():
    z = bytearray(gzip.compress(GOOD, mtime=0))
    z[-8] ^= 0xFF  # CRC32 field
    return bytes(z)


CORRUPT = {
    "wrong magic": (b"\x01\x02" + GOOD[2:], "magic"),
    "wrong type code": (GOOD[:2] + b"\x07" + GOOD[3:], "type code 0x07"),
    "zero dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
    "truncated header": (GOOD[:9], "truncated IDX header"),
    "truncated payload": (GOOD[:-1], "truncated"),
    "trailing bytes": (GOOD + b"\x00", "trailing bytes"),
    "too short": (b"\x00\x00", "only 2 bytes"),
    "gzip crc error": (_bad_gzip_crc(), "corrupt gzip"),
    "truncated gzip": (gzip.compress(GOOD, mtime=0)[:-10], "corrupt gzip"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_idx_raises_data_error_naming_file_problem_and_fix(tmp_path, case):
    content, problem = CORRUPT[case]
    path = tmp_path / "broken-file-idx"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg
    assert problem in msg
    assert "download it again" in msg and "--data-dir" in msg


def test_good_reference_bytes_read_back():  # guards the corrupt cases above
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "x").write_bytes(GOOD)
        np.testing.assert_array_equal(read_idx(Path(d) / "x"), np.arange(6).reshape(2, 3))


def test_missing_idx_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="not-there.*not found"):
        read_idx(tmp_path / "not-there")


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# --- embedded data set ---------------------------------------------------------


def test_embedded_dataset_has_right_shapes_dtypes_and_all_classes():
    d = load_dataset("embedded")
    assert d.name == "embedded" and "mnist_small.npz" in d.source
    assert d.x_train.shape == (5000, 28, 28) and d.x_test.shape == (1000, 28, 28)
    assert d.x_train.dtype == np.uint8 and d.x_test.dtype == np.uint8
    assert d.y_train.shape == (5000,) and d.y_test.shape == (1000,)
    assert d.y_train.dtype == np.int64 and d.y_test.dtype == np.int64
    assert set(np.unique(d.y_train)) == set(range(10)) == set(np.unique(d.y_test))
    assert np.bincount(d.y_train).tolist() == [500] * 10
    assert np.bincount(d.y_test).tolist() == [100] * 10
    assert 20 < d.x_train.mean() < 50 and d.x_train.max() == 255  # real digits


def test_embedded_file_is_small():
    path = Path(ds.__file__).parent / "data" / ds.EMBEDDED_FILE
    assert path.stat().st_size < 3_000_000


@needs_mnist
def test_embedded_images_are_the_mnist_test_images_at_the_stored_positions():
    x = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    y = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    with np.load(Path(ds.__file__).parent / "data" / ds.EMBEDDED_FILE) as z:
        for kind in ("train", "test"):
            idx = z["idx_" + kind].astype(np.int64)
            np.testing.assert_array_equal(z["x_" + kind], x[idx])
            np.testing.assert_array_equal(z["y_" + kind], y[idx])
        assert not set(z["idx_train"].tolist()) & set(z["idx_test"].tolist())


# --- real files (development copies) -------------------------------------------


@needs_mnist
def test_real_mnist_files_give_60000_and_10000_with_readme_class_counts():
    d = load_dataset("mnist", data_dir=MNIST_DIR, download=False)
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert np.bincount(d.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(d.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.source == f"data_dir {MNIST_DIR}"


@needs_fashion
def test_registry_fashion_mnist_checksums_accept_the_byte_identical_copies(tmp_path):
    paths = ds.fetch("fashion-mnist", cache=tmp_path, urls=[FASHION_DIR.as_uri() + "/"])
    assert {p.name for p in paths.values()} == set(ds.REGISTRY["fashion-mnist"]["sha256"])
    for p in paths.values():
        assert sha256(p) == ds.REGISTRY["fashion-mnist"]["sha256"][p.name]


def test_registry_lists_four_sha256_checksums_per_dataset():
    for entry in ds.REGISTRY.values():
        assert sorted(entry["sha256"]) == sorted(s + ".gz" for s in STEMS.values())
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in entry["sha256"].values())


# --- resolution of local folders ------------------------------------------------


@pytest.mark.parametrize("layout", ["subfolder-gz", "flat-uncompressed"])
def test_minisyn_data_folder_is_used_directly_or_via_subfolder(tmp_path, monkeypatch, layout):
    arrays = tiny_arrays()
    root = tmp_path / "data"
    if layout == "subfolder-gz":
        write_tiny(root / "mnist", arrays, gz=True)
    else:
        write_tiny(root, arrays, gz=False)
    monkeypatch.setenv("MINISYN_DATA", str(root))
    d = load_dataset("mnist", download=False)
    assert d.source == f"MINISYN_DATA {root}"
    for role, a in arrays.items():
        np.testing.assert_array_equal(getattr(d, role), a)
    assert d.y_train.dtype == np.int64 and d.x_train.dtype == np.uint8


def test_data_dir_argument_wins_over_minisyn_data(tmp_path, monkeypatch):
    write_tiny(tmp_path / "env", tiny_arrays(seed=1))
    write_tiny(tmp_path / "arg", tiny_arrays(n_train=7, seed=2))
    monkeypatch.setenv("MINISYN_DATA", str(tmp_path / "env"))
    d = load_dataset("mnist", data_dir=tmp_path / "arg")
    assert len(d.x_train) == 7 and d.source.startswith("data_dir")


def test_missing_files_without_download_name_files_and_options(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", download=False)
    msg = str(info.value)
    for stem in STEMS.values():
        assert stem in msg
    assert "--data-dir" in msg and "MINISYN_DATA" in msg and "download" in msg


def test_incomplete_data_dir_names_the_missing_file(tmp_path):
    write_tiny(tmp_path / "d", tiny_arrays())
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz") as info:
        load_dataset("mnist", data_dir=tmp_path / "d")
    assert "train-images" not in str(info.value)


def test_incomplete_minisyn_data_folder_is_an_error_not_a_silent_download(tmp_path, monkeypatch):
    write_tiny(tmp_path / "d", tiny_arrays())
    (tmp_path / "d" / "train-images-idx3-ubyte.gz").unlink()
    monkeypatch.setenv("MINISYN_DATA", str(tmp_path / "d"))
    with pytest.raises(DataError, match="only some of the files.*train-images-idx3-ubyte"):
        load_dataset("mnist")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(y_train=a["y_train"][:-1]), "12 images but .* 11 labels"),
        (lambda a: a.update(y_test=a["y_test"] + 10), r"labels must lie in 0..9"),
        (lambda a: a.update(x_test=a["x_test"][:, :, :27]), r"shape \(n, 28, 28\)"),
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "expected uint8 images"),
    ],
    ids=["count mismatch", "label out of range", "not 28x28", "not uint8"],
)
def test_inconsistent_files_raise_data_error(tmp_path, change, message):
    arrays = tiny_arrays()
    change(arrays)
    write_tiny(tmp_path / "d", arrays)
    with pytest.raises(DataError, match=message):
        load_dataset("mnist", data_dir=tmp_path / "d")


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown data set 'cifar'.*mnist.*fashion-mnist.*embedded"):
        load_dataset("cifar")


# --- download via pooch ------------------------------------------------------------


@pytest.fixture
def fake_remote(tmp_path, monkeypatch):
    """Tiny MNIST-like files behind file:// URLs; the registry points at them."""
    arrays = tiny_arrays(seed=3)
    src = write_tiny(tmp_path / "remote", arrays)
    sums = {p.name: sha256(p) for p in src.iterdir()}
    urls = ((tmp_path / "no-such-mirror").as_uri() + "/", src.as_uri() + "/")
    monkeypatch.setitem(ds.REGISTRY, "mnist", {"urls": urls, "sha256": sums})
    return arrays, src


def test_download_from_mirror_with_right_hash_fills_cache_and_loads(tmp_path, fake_remote):
    arrays, _ = fake_remote
    d = load_dataset("mnist")  # nothing local: falls back to the cache and downloads
    cache = tmp_path / "cache" / "mnist"
    assert d.source == f"cache {cache}"
    for role, a in arrays.items():
        np.testing.assert_array_equal(getattr(d, role), a)
    assert sorted(p.name for p in cache.iterdir()) == sorted(s + ".gz" for s in STEMS.values())
    again = load_dataset("mnist", download=False)  # now offline from the cache
    np.testing.assert_array_equal(again.x_test, arrays["x_test"])


def test_download_with_wrong_hash_raises_and_leaves_no_file(tmp_path, fake_remote):
    ds.REGISTRY["mnist"]["sha256"]["train-labels-idx1-ubyte.gz"] = "0" * 64
    with pytest.raises(DataError) as info:
        ds.fetch("mnist", cache=tmp_path / "c")
    msg = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in msg and "0" * 64 in msg and "hash" in msg.lower()
    assert "nothing was kept" in msg
    folder = tmp_path / "c" / "mnist"
    assert not (folder / "train-labels-idx1-ubyte.gz").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["train-images-idx3-ubyte.gz"]  # no temp files


def test_unreachable_sources_raise_data_error_listing_each_url(tmp_path, monkeypatch):
    urls = tuple((tmp_path / f"gone{i}").as_uri() + "/" for i in range(2))
    monkeypatch.setitem(ds.REGISTRY, "mnist", dict(ds.REGISTRY["mnist"], urls=urls))
    with pytest.raises(DataError, match="could not download") as info:
        load_dataset("mnist")
    assert all(u in str(info.value) for u in urls)
    assert not any((tmp_path / "cache" / "mnist").glob("*"))


def test_corrupt_cached_file_is_reported_when_download_is_off(tmp_path, fake_remote):
    load_dataset("mnist")
    cached = tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz"
    good = cached.read_bytes()
    cached.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(DataError, match="t10k-images.*checksum.*Delete it and download again"):
        load_dataset("mnist", download=False)
    load_dataset("mnist")  # with download allowed pooch replaces the bad copy
    assert sha256(cached) == ds.REGISTRY["mnist"]["sha256"][cached.name]


def test_cache_dir_follows_minisyn_cache(tmp_path):
    assert ds.cache_dir() == tmp_path / "cache"


# --- preprocessing and batches ---------------------------------------------------


def test_preprocess_flattens_and_scales_uint8_to_unit_interval():
    imgs = np.zeros((3, 28, 28), np.uint8)
    imgs[0, 0, 0], imgs[2, 27, 27] = 255, 51
    x = ds.preprocess(imgs)
    assert x.shape == (3, 784) and x.dtype == np.float32
    assert x[0, 0] == 1.0 and x[2, 783] == pytest.approx(0.2) and x.min() == 0.0
    assert ds.preprocess(imgs, dtype=np.float64).dtype == np.float64


def test_preprocess_rejects_nan_and_out_of_range_floats():
    with pytest.raises(ValueError, match="images holds 1 non-finite"):
        ds.preprocess(np.array([[0.5, np.nan]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ds.preprocess(np.array([[0.5, 3.0]]))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(1, 12), st.integers(0, 2**32 - 1),
       st.floats(-3, 3), st.floats(0.01, 10))
def test_standardize_gives_zero_mean_unit_std_and_maps_others_by_the_same_affine_map(n, d, seed, shift, scale):
    rng = np.random.default_rng(seed)
    x = shift + scale * rng.random((n, d))
    x[0, 0] += scale          # never constant
    other = rng.random((5, d))
    xs, os_, m, s = ds.standardize(x, other)
    assert xs.mean() == pytest.approx(0.0, abs=1e-9) and xs.std() == pytest.approx(1.0, rel=1e-9)
    assert m == pytest.approx(x.mean()) and s == pytest.approx(x.std())
    np.testing.assert_allclose(os_ * s + m, other, rtol=1e-12, atol=1e-12)


def test_standardize_keeps_dtype_and_rejects_constant_or_mismatched_input():
    x = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    xs, m, s = ds.standardize(x)
    assert xs.dtype == np.float32 and s > 0
    with pytest.raises(ValueError, match="constant"):
        ds.standardize(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        ds.standardize(x, np.ones((2, 5)))
    with pytest.raises(ValueError, match="n >= 2"):
        ds.standardize(np.ones(3))


def test_check_finite_names_the_array_and_passes_finite_input():
    x = np.ones((2, 3))
    assert ds.check_finite(x, "weights") is x
    x[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"x_train holds 1 non-finite .* index \(1, 2\)"):
        ds.check_finite(x, "x_train")


def test_train_val_split_is_seeded_disjoint_and_complete():
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    a = ds.train_val_split(x, y, 0.2, seed=5)
    b = ds.train_val_split(x, y, 0.2, seed=5)
    c = ds.train_val_split(x, y, 0.2, seed=6)
    xt, yt, xv, yv = a
    assert len(yt) == 40 and len(yv) == 10
    assert sorted(np.concatenate([yt, yv]).tolist()) == list(range(50))
    np.testing.assert_array_equal(xt[:, 0] // 2, yt)  # rows stay with their labels
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[3], c[3])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.001])
def test_train_val_split_rejects_fractions_leaving_a_side_empty(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        ds.train_val_split(np.zeros((50, 2)), np.zeros(50), fraction, seed=0)


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_cover_each_index_once(drop_last):
    batches = list(ds.shuffled_batches(10, 4, np.random.default_rng(0), drop_last=drop_last))
    sizes = [len(b) for b in batches]
    assert sizes == ([4, 4] if drop_last else [4, 4, 2])
    flat = np.concatenate(batches)
    assert len(set(flat.tolist())) == len(flat)
    if not drop_last:
        assert sorted(flat.tolist()) == list(range(10))


def test_shuffled_batches_are_reproducible_from_the_seed():
    first = [b.tolist() for b in ds.shuffled_batches(9, 3, np.random.default_rng(7))]
    again = [b.tolist() for b in ds.shuffled_batches(9, 3, np.random.default_rng(7))]
    assert first == again and first != [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


@pytest.mark.parametrize(
    "n, batch_size, message",
    [
        (100, 500, "batch size 500 is larger than the 100 training examples"),
        (100, 0, "batch size must be at least 1, got 0"),
        (100, 2.5, "batch size must be an integer"),
        (0, 1, "training examples must be a positive integer"),
    ],
)
def test_shuffled_batches_reject_bad_sizes_at_the_call(n, batch_size, message):
    with pytest.raises(ValueError, match=message):
        ds.shuffled_batches(n, batch_size, np.random.default_rng(0))  # no next() needed


def test_shuffled_batches_require_a_numpy_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        ds.shuffled_batches(10, 2, 0)
