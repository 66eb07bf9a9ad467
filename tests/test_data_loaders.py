"""Every loader on small files in the real formats (written by tests/helpers.py), plus the real MNIST sample."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import CIFAR_NAMES, rows_as_set, toy_arrays, write_cifar, write_csv, write_mnist

from twolayer import data
from twolayer.data import LOADERS, load
from twolayer.errors import InputError

pytestmark = pytest.mark.core  # needs the core install alone (see .ci/run)

MNIST10K = Path("/work/shared/data/mnist10k")


# -- loaders --------------------------------------------------------------------------------
def test_registry_names_every_scheme():
    assert set(LOADERS) == {"digits", "cifar10", "mnist", "fashion-mnist", "npz", "npy", "csv"}


@pytest.mark.parametrize("py2", [False, True])
def test_cifar10_reads_batches_in_hwc_order(tmp_path, py2):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", py2=py2)
    ds = load(f"cifar10:{tmp_path / 'cifar-10-batches-py'}", val_fraction=0.2)
    test_images, test_labels = batches["test_batch"]
    np.testing.assert_array_equal(ds.X_test, test_images.reshape(len(test_images), -1))
    np.testing.assert_array_equal(ds.y_test, test_labels)
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    assert rows_as_set(ds.X_train, ds.X_val) == rows_as_set(
        *[im.reshape(len(im), -1) for im, _ in train]
    )
    assert len(ds.y_train) == 24 and len(ds.y_val) == 6
    assert ds.class_names == CIFAR_NAMES
    assert ds.image_shape == (32, 32, 3) and ds.pixel_max == 255 and ds.X_train.dtype == np.uint8


def test_cifar10_accepts_the_parent_folder(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    assert load(f"cifar10:{tmp_path}").X_test.shape == (6, 3072)


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_files(tmp_path, compress):
    arrays = write_mnist(tmp_path, compress=compress)
    ds = load(f"mnist:{tmp_path}", val_fraction=0.25)
    np.testing.assert_array_equal(ds.X_test, arrays["t10k-images-idx3-ubyte"].reshape(12, 784))
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert (len(ds.y_train), len(ds.y_val)) == (30, 10)
    assert rows_as_set(ds.X_train, ds.X_val) == rows_as_set(
        arrays["train-images-idx3-ubyte"].reshape(40, 784)
    )
    assert (
        ds.class_names == [str(i) for i in range(10)]
        and ds.image_shape == (28, 28)
        and ds.pixel_max == 255
    )


def test_mnist_accepts_dotted_names(tmp_path):
    names = {
        "train-images-idx3-ubyte": "train-images.idx3-ubyte",
        "t10k-labels-idx1-ubyte": "t10k-labels.idx1-ubyte",
    }
    write_mnist(tmp_path, names=names)
    assert load(f"mnist:{tmp_path}").X_test.shape == (12, 784)


@pytest.mark.skipif(not MNIST10K.is_dir(), reason="needs the shared MNIST sample")
def test_real_mnist10k():
    ds = load(f"mnist:{MNIST10K}")
    assert len(ds.y_train) + len(ds.y_val) == 8000 and len(ds.y_test) == 2000
    assert ds.n_features == 784 and ds.X_train.dtype == np.uint8
    # an independent reading: idx1 labels start after an 8-byte header
    raw_train = np.frombuffer(
        gzip.decompress((MNIST10K / "train-labels-idx1-ubyte.gz").read_bytes())[8:], np.uint8
    )
    raw_test = np.frombuffer(
        gzip.decompress((MNIST10K / "t10k-labels-idx1-ubyte.gz").read_bytes())[8:], np.uint8
    )
    np.testing.assert_array_equal(
        np.bincount(np.r_[ds.y_train, ds.y_val], minlength=10), np.bincount(raw_train)
    )
    np.testing.assert_array_equal(np.bincount(ds.y_test, minlength=10), np.bincount(raw_test))
    # stratified: every class keeps its share of the validation split (±1 example)
    expected = np.bincount(raw_train) * 0.1
    assert np.all(np.abs(np.bincount(ds.y_val, minlength=10) - expected) <= 1)


def test_npz_with_every_split_and_class_names(tmp_path):
    X, y = toy_arrays()
    np.savez(
        tmp_path / "d.npz",
        X_train=X[:80],
        y_train=y[:80],
        X_val=X[80:100],
        y_val=y[80:100],
        X_test=X[100:],
        y_test=y[100:],
        class_names=np.array(["a", "b", "c"]),
    )
    ds = load(f"npz:{tmp_path / 'd.npz'}")
    for got, want in [
        (ds.X_train, X[:80]),
        (ds.y_train, y[:80]),
        (ds.X_val, X[80:100]),
        (ds.y_test, y[100:]),
    ]:
        np.testing.assert_array_equal(got, want)
    assert ds.class_names == ["a", "b", "c"]


def test_npz_carves_a_validation_split(tmp_path):
    X, y = toy_arrays()
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    ds = load(f"npz:{tmp_path / 'd.npz'}", val_fraction=0.25)
    assert (len(ds.y_train), len(ds.y_val)) == (90, 30) and ds.X_test is None
    assert ds.class_names == ["0", "1", "2"]
    np.testing.assert_array_equal(np.bincount(ds.y_val), [10, 10, 10])  # stratified


def test_carved_split_is_seeded(tmp_path):
    X, y = toy_arrays()
    np.savez(tmp_path / "d.npz", X_train=X, y_train=y)
    spec = f"npz:{tmp_path / 'd.npz'}"
    a, b, c = load(spec, seed=1), load(spec, seed=1), load(spec, seed=2)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert not np.array_equal(a.X_val, c.X_val)


def test_npy_dir_is_memory_mapped_and_trains(tmp_path):
    from twolayer.runs import RunSettings, evaluate_model, run_training
    from twolayer.train import TrainConfig

    X, y = toy_arrays(n=300, d=8)
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "X_train.npy", X.astype(np.float32))
    np.save(folder / "y_train.npy", y)
    np.save(folder / "X_test.npy", X[:50].astype(np.float32))
    np.save(folder / "y_test.npy", y[:50])
    ds = load(f"npy:{folder}")
    assert isinstance(ds.X_train, np.memmap) and isinstance(ds.X_val, np.memmap)
    assert isinstance(ds.X_test, np.memmap)
    assert rows_as_set(ds.X_train, ds.X_val) == rows_as_set(X.astype(np.float32))
    assert sorted(os.listdir(folder)) == [
        "X_test.npy",
        "X_train.npy",
        "y_test.npy",
        "y_train.npy",
    ]  # no leftovers
    settings = RunSettings(
        data=f"npy:{folder}", hidden_size=16, train=TrainConfig(epochs=10, learning_rate=1e-2)
    )
    metrics = run_training(settings, tmp_path / "run")
    assert metrics["val_accuracy"] > 0.8  # the classes are separable; chance is 1/3
    result = evaluate_model(tmp_path / "run" / "model.npz", f"npy:{folder}")
    assert result["test_accuracy"] == pytest.approx(metrics["test_accuracy"])


@pytest.mark.parametrize("label_at,header", [(2, True), (None, True), (None, False)])
def test_csv_label_column(tmp_path, label_at, header):
    X, y = toy_arrays(n=60, d=4)
    write_csv(tmp_path / "d.csv", X, y, header=header, label_at=label_at)
    ds = load(f"csv:{tmp_path / 'd.csv'}", val_fraction=0.2)
    assert rows_as_set(ds.X_train, ds.X_val) == rows_as_set(X)
    assert sorted(np.r_[ds.y_train, ds.y_val].tolist()) == sorted(y.tolist())


def test_csv_reads_in_chunks(tmp_path):
    from twolayer.data.table import read_csv

    X, y = toy_arrays(n=55, d=3)
    write_csv(tmp_path / "d.csv", X, y)
    X1, y1, names, _ = read_csv(tmp_path / "d.csv", chunk_rows=7)
    np.testing.assert_array_equal(X1, X)
    np.testing.assert_array_equal(y1, y)
    assert names == ["f0", "f1", "f2"]


def test_digits_default():
    ds = load()
    assert ds.n_features == 64 and ds.n_classes == 10
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 1797


def test_split_validation_keeps_plain_arrays_in_memory():
    X, y = toy_arrays()
    Xt, yt, Xv, yv = data.split_validation(X, y, 0.2, seed=0)
    assert type(Xt) is np.ndarray and len(yv) == 24


@pytest.mark.parametrize("n", [1, 4095, 4096, 4097, 10_001])  # around compact's 4096-row blocks
def test_an_owned_split_moves_the_training_rows_in_place_to_the_same_values(n):
    rng = np.random.default_rng(n)
    X, y = rng.normal(size=(n + 1, 3)), rng.integers(0, 3, n + 1)
    expected = data.split_validation(X, y, 0.3, seed=5)
    got = data.split_validation(X, y, 0.3, seed=5, owned=True)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    assert np.shares_memory(got[0], X)  # no second copy of the training rows
    assert not np.shares_memory(got[2], X)


def test_a_split_of_the_callers_array_copies_and_leaves_it_alone():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    kept = X.copy()
    Xt, _, Xv, _ = data.split_validation(X, y, 0.3, seed=5)
    np.testing.assert_array_equal(X, kept)
    assert not np.shares_memory(Xt, X) and not np.shares_memory(Xv, X)
    read_only = kept.copy()
    read_only.flags.writeable = False  # owned but read-only (or not contiguous): copied
    Xt, _, _, _ = data.split_validation(read_only, y, 0.3, seed=5, owned=True)
    assert not np.shares_memory(Xt, read_only)


@pytest.mark.parametrize("kind", ["csv", "npz"])
def test_a_file_read_into_memory_is_split_without_a_second_copy_of_its_rows(tmp_path, kind):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.integers(0, 2, 300)
    path = tmp_path / f"f.{kind}"
    if kind == "csv":
        np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    else:
        np.savez(path, X_train=X, y_train=y)
    ds = load(f"{kind}:{path}")
    both = np.concatenate([ds.X_train, ds.X_val])
    np.testing.assert_array_equal(both[np.argsort(both[:, 0])], X[np.argsort(X[:, 0])])
    # the training rows are a view of the array the loader read (it also held the validation
    # rows; the CSV reader allocates one spare row), not a copy of them beside it
    base = ds.X_train.base
    assert base is not None and X.nbytes <= base.nbytes <= X.nbytes + X[0].nbytes


def test_read_digits_equals_scikit_learns_loader():
    sk_digits = pytest.importorskip("sklearn.datasets").load_digits  # the [sklearn] extra

    X, y = data.read_digits()
    d = sk_digits()
    np.testing.assert_array_equal(X, d.data)
    np.testing.assert_array_equal(y, d.target)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_stratified_split_keeps_every_class_share(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(5, size=503, p=[0.4, 0.3, 0.2, 0.07, 0.03])
    train, test = data.stratified_split(y, 101, seed)
    assert len(test) == 101 and len(train) == 402
    np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(503))  # disjoint, covering
    expected = np.bincount(y) * 101 / 503
    assert np.all(np.abs(np.bincount(y[test], minlength=5) - expected) < 1)
    # seeded: the same seed gives the same rows, another seed other rows
    np.testing.assert_array_equal(data.stratified_split(y, 101, seed)[1], test)
    assert not np.array_equal(data.stratified_split(y, 101, seed + 100)[1], test)


def test_stratified_split_leaves_every_class_a_training_row():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    train, test = data.stratified_split(y, 4, 0)
    assert len(test) == 4 and set(y[train]) == {0, 1, 2}


def test_digits_splits_are_stratified():
    ds = load()
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1257, 180, 360)
    counts = np.bincount(np.r_[ds.y_train, ds.y_val, ds.y_test])
    assert np.all(np.abs(np.bincount(ds.y_test) - counts * 0.2) < 1)


@pytest.mark.parametrize("shape", [(8, 8), (4, 5, 3)])
def test_random_shift_moves_each_row_one_pixel_and_fills_the_border(shape):
    from twolayer.data.augment import _SHIFTS, random_shift

    rng = np.random.default_rng(0)
    fill = rng.standard_normal(shape)
    X = rng.standard_normal((40, int(np.prod(shape))))
    out = random_shift(shape, fill)(X.copy(), np.random.default_rng(5))
    choice = np.random.default_rng(5).integers(0, 5, size=40)  # the draw the augmentation makes
    for row, k in enumerate(choice):
        dy, dx = _SHIFTS[k]
        img = X[row].reshape(shape)
        expected = np.roll(img, (dy, dx), axis=(0, 1))  # reference: roll, then the uncovered edge
        if dy:
            expected[0 if dy > 0 else -1] = fill[0 if dy > 0 else -1]
        if dx:
            expected[:, 0 if dx > 0 else -1] = fill[:, 0 if dx > 0 else -1]
        np.testing.assert_array_equal(out[row].reshape(shape), expected)
    assert len(set(choice)) == 5


# -- pixels given as user arrays are images --------------------------------------------------
def _pixels(n=60, d=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, d)).astype(np.uint8), np.arange(n) % 3


def test_npz_pixels_with_a_square_number_of_features_are_images(tmp_path):
    X, y = _pixels()
    np.savez(tmp_path / "p.npz", X_train=X, y_train=y)
    d = load(f"npz:{tmp_path / 'p.npz'}")
    assert d.image_shape == (8, 8) and d.pixel_max == float(X.max())


def test_npz_declares_its_image_shape(tmp_path):
    X, y = _pixels(d=40)
    np.savez(tmp_path / "p.npz", X_train=X, y_train=y, image_shape=np.array([5, 8]))
    assert load(f"npz:{tmp_path / 'p.npz'}").image_shape == (5, 8)
    np.savez(tmp_path / "t.npz", X_train=X.astype(float) - 1, y_train=y)  # negative: a table
    assert load(f"npz:{tmp_path / 't.npz'}").image_shape is None


@pytest.mark.parametrize(
    "shape, words",
    [
        (np.array([5, 7]), "holds 35 pixels but X_train has 40 features"),
        (np.array([-5, -8]), "image_shape must be 2 or 3 positive integers"),
        (np.array([5.0, 8.0]), "image_shape must be 2 or 3 positive integers"),
        (np.array([40]), "image_shape must be 2 or 3 positive integers"),
    ],
)
def test_a_bad_image_shape_is_refused_in_one_line(tmp_path, shape, words):
    X, y = _pixels(d=40)
    np.savez(tmp_path / "p.npz", X_train=X, y_train=y, image_shape=shape)
    with pytest.raises(InputError) as e:
        load(f"npz:{tmp_path / 'p.npz'}")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_csv_pixels_are_images(tmp_path):
    X, y = _pixels()
    rows = ["\n".join(",".join(map(str, r)) + f",{c}" for r, c in zip(X, y))]
    (tmp_path / "p.csv").write_text(rows[0] + "\n")
    assert load(f"csv:{tmp_path / 'p.csv'}").image_shape == (8, 8)
