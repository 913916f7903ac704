"""Data loaders: the embedded digits split, IDX and cat-vs-non-cat files written here."""

from __future__ import annotations

import gzip
import struct

import h5py
import numpy as np
import pytest

from circuitsim.errors import ConfigError
from circuitsim.nn.data import get_dataset, load_catvnoncat, load_digits, load_idx_dataset, read_idx


def test_digits_split_is_fixed_stratified_and_scaled():
    ds = load_digits()
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    # stratified: every class holds 35 to 37 of the 360 test images
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    again = load_digits()
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    other = load_digits(seed=1)
    assert not np.array_equal(ds.y_test, other.y_test)
    assert ds.image_shape == (1, 8, 8) and ds.n_classes == 10


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.tobytes()


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for stem, n, gz in (("train", 12, True), ("t10k", 5, False)):
        x = rng.integers(0, 256, size=(n, 4, 4), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        for kind, arr in (("images-idx3-ubyte", x), ("labels-idx1-ubyte", y)):
            data = _idx_bytes(arr)
            name = f"{stem}-{kind}"
            if gz:
                (tmp_path / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (tmp_path / name).write_bytes(data)
    return tmp_path


def test_idx_loader_reads_gzipped_and_plain(idx_dir):
    ds = load_idx_dataset(idx_dir, "fashion-mnist")
    raw = read_idx(idx_dir / "train-images-idx3-ubyte.gz")
    assert raw.shape == (12, 4, 4)
    np.testing.assert_allclose(ds.x_train, raw.reshape(12, 16) / 255.0, rtol=1e-6)
    assert ds.x_test.shape == (5, 16) and ds.image_shape == (1, 4, 4)
    assert ds.classes[0] == "t-shirt/top"
    assert get_dataset("mnist", idx_dir).x_train.shape == (12, 16)


def test_idx_malformed_or_missing_files_raise(idx_dir, tmp_path):
    bad = idx_dir / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 99) + b"\x01\x02")  # truncated
    with pytest.raises(ConfigError, match="header says"):
        load_idx_dataset(idx_dir)
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ConfigError, match="not an IDX file"):
        read_idx(bad)
    bad.unlink()
    with pytest.raises(ConfigError, match="t10k-labels-idx1-ubyte"):
        load_idx_dataset(idx_dir)
    with pytest.raises(ConfigError, match="directory not found"):
        load_idx_dataset(tmp_path / "nope")
    with pytest.raises(ConfigError, match="needs a path"):
        get_dataset("mnist")
    with pytest.raises(ConfigError, match="unknown data set"):
        get_dataset("cifar")


def _write_cat(path, prefix, n, rng, drop=None):
    with h5py.File(path, "w") as f:
        if drop != "x":
            f[f"{prefix}_x"] = rng.integers(0, 256, size=(n, 6, 5, 3), dtype=np.uint8)
        f[f"{prefix}_y"] = rng.integers(0, 2, size=n)
        f["list_classes"] = np.array([b"non-cat", b"cat"])


def test_catvnoncat_loader(tmp_path):
    rng = np.random.default_rng(1)
    _write_cat(tmp_path / "train_catvnoncat.h5", "train_set", 7, rng)
    _write_cat(tmp_path / "test_catvnoncat.h5", "test_set", 3, rng)
    ds = load_catvnoncat(tmp_path)
    assert ds.x_train.shape == (7, 90) and ds.x_test.shape == (3, 90)
    assert ds.classes == ("non-cat", "cat") and ds.image_shape == (3, 6, 5)
    with h5py.File(tmp_path / "train_catvnoncat.h5") as f:
        img = f["train_set_x"][2]
    # channel-first flattening: the first 30 features are the red plane of image 2
    np.testing.assert_allclose(ds.x_train[2, :30], img[:, :, 0].reshape(-1) / 255.0, rtol=1e-6)


def test_catvnoncat_malformed(tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(ConfigError, match="not found"):
        load_catvnoncat(tmp_path)
    _write_cat(tmp_path / "train_catvnoncat.h5", "train_set", 4, rng, drop="x")
    _write_cat(tmp_path / "test_catvnoncat.h5", "test_set", 3, rng)
    with pytest.raises(ConfigError, match="train_set_x"):
        load_catvnoncat(tmp_path)
    (tmp_path / "train_catvnoncat.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ConfigError, match="HDF5"):
        load_catvnoncat(tmp_path)
