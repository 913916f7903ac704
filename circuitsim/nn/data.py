"""Data sets available offline: scikit-learn's 8×8 digits (the default), MNIST-style IDX files
and the cat-vs-non-cat HDF5 pair, all as one :class:`Dataset` of float32 features in [0, 1].

Nothing downloads.  IDX and HDF5 files come from a path the user gives; a missing or malformed
file raises :class:`~circuitsim.errors.ConfigError` saying what was expected.

The digits split is fixed and documented: ``sklearn.datasets.load_digits`` (1,797 images of
8×8 pixels, 16 grey levels), features divided by 16, a stratified
``train_test_split(test_size=0.2, random_state=0)`` → 1,437 training and 360 test images.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = ["Dataset", "DATASETS", "get_dataset", "load_catvnoncat", "load_digits", "load_idx",
           "load_idx_dataset", "read_idx"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set with flat float32 features in [0, 1] and int64 labels."""

    x_train: np.ndarray
    """Training features (n_train, n_features), float32 in [0, 1]."""
    y_train: np.ndarray
    """Training labels (n_train,), int64 in [0, n_classes)."""
    x_test: np.ndarray
    """Test features (n_test, n_features), float32 in [0, 1]."""
    y_test: np.ndarray
    """Test labels (n_test,), int64."""
    name: str
    """Short name (``digits``, ``mnist``, ``catvnoncat``...)."""
    classes: tuple
    """Class names, index = label."""
    image_shape: tuple | None = None
    """(channels, height, width) of one image, for convolutional models; None if not images."""

    def __post_init__(self):
        for part in ("x_train", "x_test"):
            x = getattr(self, part)
            if x.ndim != 2 or x.dtype != np.float32:
                raise ConfigError(f"Dataset.{part} must be a 2-D float32 array, got "
                                  f"{x.dtype} of shape {x.shape}")
        for part in ("y_train", "y_test"):
            y = getattr(self, part)
            if y.ndim != 1 or y.dtype != np.int64:
                raise ConfigError(f"Dataset.{part} must be a 1-D int64 array, got "
                                  f"{y.dtype} of shape {y.shape}")
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise ConfigError("Dataset: features and labels differ in length")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ConfigError("Dataset: training and test features differ in width")

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` / ``n_test`` examples (for quick tests)."""
        return Dataset(self.x_train[:n_train], self.y_train[:n_train], self.x_test[:n_test],
                       self.y_test[:n_test], self.name, self.classes, self.image_shape)


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8×8 digits, pixels / 16, stratified split (seed 0, 20 % → 360 test)."""
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    d = _load()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                              stratify=y)
    return Dataset(np.ascontiguousarray(x_tr), y_tr, np.ascontiguousarray(x_te), y_te,
                   "digits", tuple(str(i) for i in range(10)), (1, 8, 8))


# ---------------------------------------------------------------------------------------- IDX

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _open_maybe_gz(path: Path) -> bytes:
    if not path.is_file():
        raise ConfigError(f"file not found: {path} (give the path of an existing file; "
                          "circuitsim never downloads data)")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ConfigError(f"{path}: corrupt gzip file ({exc})") from exc
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (MNIST format; gzipped or not) into an array of its stored shape.

    Layout: two zero bytes, a type byte (0x08 uint8 ...), the number of dimensions, then one
    big-endian uint32 per dimension and the data."""
    path = Path(path)
    raw = _open_maybe_gz(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ConfigError(f"{path}: not an IDX file (expected the magic bytes 00 00 <type> "
                          f"<ndim> of the MNIST format, got {raw[:4].hex(' ')!r})")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ConfigError(f"{path}: truncated IDX header ({ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    n = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != n:
        raise ConfigError(f"{path}: IDX header says {dims} x {dtype.itemsize} bytes = {n} bytes "
                          f"of data, file holds {len(raw) - header}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def load_idx(images: str | Path, labels: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One images/labels IDX pair → (x float32 (n, h·w) in [0, 1], y int64 (n,))."""
    x = read_idx(images)
    y = read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ConfigError(f"{images}: expected uint8 images of shape (n, rows, cols), got "
                          f"{x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ConfigError(f"{labels}: expected {len(x)} labels (one per image), got shape "
                          f"{y.shape}")
    return (x.reshape(len(x), -1) / 255.0).astype(np.float32), y.astype(np.int64)


_IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory: Path, stem: str) -> Path:
    for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (directory / cand).is_file():
            return directory / cand
    raise ConfigError(f"{directory}: no {stem}[.gz] found (expected the four MNIST/Fashion-MNIST "
                      f"IDX files {', '.join(s for p in _IDX_NAMES.values() for s in p)}, "
                      "gzipped or not)")


def load_idx_dataset(directory: str | Path, name: str = "mnist") -> Dataset:
    """MNIST / Fashion-MNIST from a directory holding the four standard IDX files."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{name}: directory not found: {directory} (give the folder holding "
                          "train-images-idx3-ubyte[.gz] and the three other IDX files)")
    x_tr, y_tr = load_idx(_find(directory, _IDX_NAMES["train"][0]),
                          _find(directory, _IDX_NAMES["train"][1]))
    x_te, y_te = load_idx(_find(directory, _IDX_NAMES["test"][0]),
                          _find(directory, _IDX_NAMES["test"][1]))
    side = int(round(np.sqrt(x_tr.shape[1])))
    shape = (1, side, side) if side * side == x_tr.shape[1] else None
    n_cls = int(max(y_tr.max(), y_te.max())) + 1
    classes = (FASHION_CLASSES if name == "fashion-mnist" and n_cls == 10
               else tuple(str(i) for i in range(n_cls)))
    return Dataset(x_tr, y_tr, x_te, y_te, name, classes, shape)


FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")


# --------------------------------------------------------------------------------- cat HDF5

def _read_h5(path: Path, prefix: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    import h5py

    if not path.is_file():
        raise ConfigError(f"file not found: {path} (expected {path.name} with datasets "
                          f"{prefix}_x, {prefix}_y, list_classes)")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in (f"{prefix}_x", f"{prefix}_y") if k not in f]
            if missing:
                raise ConfigError(f"{path}: missing HDF5 dataset(s) {missing} (expected "
                                  f"{prefix}_x (n, h, w, 3) uint8 and {prefix}_y (n,))")
            x = np.asarray(f[f"{prefix}_x"][()])
            y = np.asarray(f[f"{prefix}_y"][()]).reshape(-1)
            classes = (tuple(c.decode() if isinstance(c, bytes) else str(c)
                             for c in f["list_classes"][()])
                       if "list_classes" in f else ("non-cat", "cat"))
    except OSError as exc:
        raise ConfigError(f"{path}: not a readable HDF5 file ({exc})") from exc
    if x.ndim != 4 or len(x) != len(y):
        raise ConfigError(f"{path}: expected {prefix}_x of shape (n, h, w, channels) and "
                          f"{prefix}_y of n labels, got {x.shape} and {y.shape}")
    return x, y, classes


def load_catvnoncat(path: str | Path) -> Dataset:
    """The cat-vs-non-cat pair ``train_catvnoncat.h5`` / ``test_catvnoncat.h5`` in ``path``.

    Images (n, 64, 64, 3) uint8 are flattened to n × 12,288 features / 255; labels 1 = cat."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"catvnoncat: directory not found: {path} (give the folder holding "
                          "train_catvnoncat.h5 and test_catvnoncat.h5)")
    x_tr, y_tr, classes = _read_h5(path / "train_catvnoncat.h5", "train_set")
    x_te, y_te, _ = _read_h5(path / "test_catvnoncat.h5", "test_set")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise ConfigError(f"catvnoncat: training images {x_tr.shape[1:]} and test images "
                          f"{x_te.shape[1:]} differ in shape")
    shape = (x_tr.shape[3], x_tr.shape[1], x_tr.shape[2])

    def flat(x):  # NHWC → NCHW, flattened, so that image_shape is (C, H, W)
        return (x.transpose(0, 3, 1, 2).reshape(len(x), -1) / 255.0).astype(np.float32)

    return Dataset(flat(x_tr), y_tr.astype(np.int64), flat(x_te), y_te.astype(np.int64),
                   "catvnoncat", classes, shape)


from ..names import DATASETS  # noqa: E402  (one list, torch-free)


def get_dataset(name: str = "digits", path: str | Path | None = None) -> Dataset:
    """A data set by name: ``digits`` (embedded), or ``mnist`` / ``fashion-mnist`` /
    ``catvnoncat`` read from ``path`` (a directory)."""
    if name == "digits":
        return load_digits()
    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; choose one of {DATASETS}")
    if path is None:
        raise ConfigError(f"data set {name!r} needs a path (the directory holding its files); "
                          "circuitsim never downloads data")
    if name == "catvnoncat":
        return load_catvnoncat(path)
    return load_idx_dataset(path, name)
