"""Bad data: one InputError naming the file and the problem; a tampered pickle never runs code."""

import gzip
import os
import pickle
import zipfile

import numpy as np
import pytest
from helpers import (
    dump_pickle,
    idx_bytes,
    toy_arrays,
    write_cifar,
    write_csv,
    write_mnist,
)

from twolayer.data import load
from twolayer.errors import InputError

pytestmark = pytest.mark.core  # needs the core install alone (see .ci/run)


def refused(spec, *fragments):
    """load(spec) raises InputError whose one-line message contains every fragment."""
    with pytest.raises(InputError) as info:
        load(spec)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert str(fragment) in message, message
    return message


def npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return f"npz:{path}", path


def npy_dir(tmp_path, **arrays):
    folder = tmp_path / "npy"
    folder.mkdir(exist_ok=True)
    for k, v in arrays.items():
        np.save(folder / f"{k}.npy", v)
    return f"npy:{folder}", folder


# -- the tampered pickle ---------------------------------------------------------------------
class Payload:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("how", ["os.system", "builtins.eval", "builtins.exec"])
def test_tampered_cifar_pickle_is_refused_and_never_runs(tmp_path, how):
    root = tmp_path / "cifar"
    write_cifar(root)
    marker = tmp_path / "pwned"
    command = {
        "os.system": (os.system, f"touch {marker}"),
        "builtins.eval": (eval, f"open({str(marker)!r}, 'w').close()"),
        "builtins.exec": (exec, f"open({str(marker)!r}, 'w').close()"),
    }[how]
    labels = [0, 1, 2, 3, 4, 5]
    tampered = pickle.dumps(
        {
            b"data": np.zeros((6, 3072), np.uint8),
            b"labels": labels,
            b"batch_label": Payload(*command),
        },
        protocol=2,
    )
    (root / "data_batch_3").write_bytes(tampered)
    refused(f"cifar10:{root}", root / "data_batch_3", "refused", "tampered")
    assert not marker.exists()
    # the control: a plain unpickler would have run the payload
    pickle.loads(tampered)
    assert marker.exists()


def test_pickle_with_object_array_is_refused(tmp_path):
    root = tmp_path / "cifar"
    write_cifar(root)
    dump_pickle({b"data": np.array([[1, 2]], dtype=object), b"labels": [0]}, root / "test_batch")
    refused(f"cifar10:{root}", root / "test_batch", "refused")


def test_truncated_cifar_pickle(tmp_path):
    root = tmp_path / "cifar"
    write_cifar(root)
    raw = (root / "data_batch_1").read_bytes()
    (root / "data_batch_1").write_bytes(raw[: len(raw) // 2])
    refused(f"cifar10:{root}", root / "data_batch_1", "truncated or corrupt")


def test_cifar_labels_beyond_the_classes(tmp_path):
    root = tmp_path / "cifar"
    write_cifar(root)
    dump_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 12]}, root / "test_batch")
    refused(f"cifar10:{root}", root / "test_batch", "label 12", "10 classes")


def test_cifar_wrong_row_size(tmp_path):
    root = tmp_path / "cifar"
    write_cifar(root)
    dump_pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [3, 1]}, root / "test_batch")
    refused(f"cifar10:{root}", root / "test_batch", "3072")


# -- missing things and unknown schemes ------------------------------------------------------
@pytest.mark.parametrize("scheme", ["cifar10", "mnist", "npy"])
def test_missing_folder(tmp_path, scheme):
    refused(f"{scheme}:{tmp_path / 'nowhere'}", tmp_path / "nowhere", "not found")


@pytest.mark.parametrize("scheme", ["npz", "csv"])
def test_missing_file(tmp_path, scheme):
    refused(f"{scheme}:{tmp_path / 'nothing.x'}", tmp_path / "nothing.x", "not found")


def test_missing_files_inside_folders(tmp_path):
    write_cifar(tmp_path / "c")
    (tmp_path / "c" / "test_batch").unlink()
    refused(f"cifar10:{tmp_path / 'c'}", tmp_path / "c", "missing", "test_batch")
    write_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    refused(f"mnist:{tmp_path / 'm'}", tmp_path / "m", "missing", "t10k-labels-idx1-ubyte")
    X, y = toy_arrays()
    spec, folder = npy_dir(tmp_path, X_train=X)
    refused(spec, folder, "y_train")


def test_unknown_scheme_and_missing_path():
    refused("imagenet:/data", "unknown data source", "imagenet", "cifar10")
    refused("npz:", "needs a file")
    refused("digits:/x", "takes no path")


# -- values -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_features(tmp_path, bad):
    X, y = toy_arrays()
    X[7, 2] = bad
    spec, path = npz(tmp_path, X_train=X, y_train=y)
    refused(spec, path, "X_train", "NaN or infinite")
    spec, folder = npy_dir(tmp_path, X_train=X, y_train=y)
    refused(spec, folder / "X_train.npy", "NaN or infinite")


def test_nan_in_csv(tmp_path):
    X, y = toy_arrays(n=30)
    X[3, 1] = np.nan
    write_csv(tmp_path / "d.csv", X, y)
    refused(f"csv:{tmp_path / 'd.csv'}", tmp_path / "d.csv", "NaN or infinite")


def test_negative_label(tmp_path):
    X, y = toy_arrays()
    y[5] = -1
    spec, path = npz(tmp_path, X_train=X, y_train=y)
    refused(spec, path, "y_train", "negative label")


def test_non_integer_label(tmp_path):
    X, y = toy_arrays()
    y = y.astype(float)
    y[4] = 1.5
    spec, path = npz(tmp_path, X_train=X, y_train=y)
    refused(spec, path, "y_train", "non-integer label 1.5")
    spec, path = npz(tmp_path, X_train=X, y_train=np.array(["a"] * len(X)))
    refused(spec, path, "y_train", "integer")


def test_csv_non_integer_label(tmp_path):
    X, y = toy_arrays(n=30)
    write_csv(tmp_path / "d.csv", X, y + 0.25)
    refused(f"csv:{tmp_path / 'd.csv'}", tmp_path / "d.csv", "labels", "non-integer label 0.25")


def test_labels_beyond_the_classes_seen(tmp_path):
    X, y = toy_arrays()
    y_test = y[:10].copy()
    y_test[3] = 7
    spec, path = npz(tmp_path, X_train=X, y_train=y, X_test=X[:10], y_test=y_test)
    refused(spec, path, "y_test", "label 7", "only reach 2")
    spec, path = npz(tmp_path, X_train=X, y_train=y, class_names=np.array(["a", "b"]))
    refused(spec, path, "y_train", "label 2", "2 classes")


def test_length_mismatch(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X, y_train=y[:-3])
    refused(spec, path, "y_train", f"{len(y) - 3} labels", f"{len(y)} samples")
    spec, folder = npy_dir(tmp_path, X_train=X, y_train=y[:-3])
    refused(spec, folder / "y_train.npy", "labels")


def test_wrong_number_of_dimensions(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X.ravel(), y_train=y)
    refused(spec, path, "X_train", "2-D")
    spec, path = npz(tmp_path, X_train=X.reshape(len(X), 2, 3), y_train=y)
    refused(spec, path, "X_train", "2-D")
    spec, path = npz(tmp_path, X_train=X, y_train=y[:, None])
    refused(spec, path, "y_train", "1-D")


def test_empty_sets(tmp_path):
    spec, path = npz(tmp_path, X_train=np.empty((0, 4)), y_train=np.empty(0, int))
    refused(spec, path, "X_train", "empty")
    spec, folder = npy_dir(tmp_path, X_train=np.empty((0, 4), np.float32), y_train=np.empty(0, int))
    refused(spec, folder / "X_train.npy", "empty")
    (tmp_path / "h.csv").write_text("a,b,label\n")
    refused(f"csv:{tmp_path / 'h.csv'}", tmp_path / "h.csv", "empty")
    (tmp_path / "e.csv").write_text("")
    refused(f"csv:{tmp_path / 'e.csv'}", tmp_path / "e.csv", "empty")
    write_mnist(tmp_path / "m", n_test=0)
    refused(f"mnist:{tmp_path / 'm'}", tmp_path / "m" / "t10k-images-idx3-ubyte.gz", "empty")


def test_feature_counts_differ_between_splits(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X, y_train=y, X_val=X[:10, :4], y_val=y[:10])
    refused(spec, path, "X_val has 4 features", "X_train has 6")
    spec, folder = npy_dir(tmp_path, X_train=X, y_train=y, X_test=X[:10, :5], y_test=y[:10])
    refused(spec, folder / "X_test.npy", "5 features")


def test_lone_split_half(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X, y_train=y, X_val=X)
    refused(spec, path, "X_val", "no y_val")
    spec, path = npz(tmp_path, X_train=X, y_train=y, X_valid=X)
    refused(spec, path, "unexpected", "X_valid")


def test_object_arrays_are_refused(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X.astype(object), y_train=y)
    refused(spec, path, "object")
    spec, folder = npy_dir(tmp_path, X_train=X.astype(object), y_train=y)
    refused(spec, folder / "X_train.npy", "refused")


# -- truncated and corrupt files -------------------------------------------------------------
def test_truncated_and_corrupt_idx(tmp_path):
    write_mnist(tmp_path, compress=False)
    images = tmp_path / "train-images-idx3-ubyte"
    raw = images.read_bytes()
    images.write_bytes(raw[:-100])
    refused(f"mnist:{tmp_path}", images, "truncated")
    images.write_bytes(b"\x12\x34" + raw[2:])
    refused(f"mnist:{tmp_path}", images, "not an idx file")
    images.write_bytes(idx_bytes(np.zeros((40, 28), np.uint8)))
    refused(f"mnist:{tmp_path}", images, "expected a 3-D idx file")


def test_corrupt_gzip(tmp_path):
    write_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = labels.read_bytes()
    labels.write_bytes(raw[: len(raw) - 12])
    refused(f"mnist:{tmp_path}", labels, "gzip")
    labels.write_bytes(raw[:10] + b"\xff" * (len(raw) - 10))
    refused(f"mnist:{tmp_path}", labels, "gzip")


def test_mnist_label_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, np.uint8)))
    )
    refused(f"mnist:{tmp_path}", "t10k-labels-idx1-ubyte.gz", "5 labels", "12 images")


def test_truncated_npy(tmp_path):
    X, y = toy_arrays()
    spec, folder = npy_dir(tmp_path, X_train=X, y_train=y)
    raw = (folder / "X_train.npy").read_bytes()
    (folder / "X_train.npy").write_bytes(raw[:-50])
    refused(spec, folder / "X_train.npy", "truncated")
    (folder / "X_train.npy").write_bytes(b"not an npy file at all")
    refused(spec, folder / "X_train.npy", "not a readable .npy")


def test_corrupt_npz(tmp_path):
    X, y = toy_arrays()
    spec, path = npz(tmp_path, X_train=X, y_train=y)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    refused(spec, path, "not a readable .npz")
    assert not zipfile.is_zipfile(path)


def test_bad_csv_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n5,6\n")
    refused(f"csv:{path}", path, "line 4", "2 columns", "expected 3")
    path.write_text("a,b,label\n1,2,0\n3,x,1\n")
    refused(f"csv:{path}", path, "line 3", "'x'")
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    refused(f"csv:{path}", path, "not a text CSV")


# -- through the command line -------------------------------------------------------------
def test_cli_bad_data_is_one_line_and_exit_2(tmp_path, capsys):
    from twolayer.cli import main

    X, y = toy_arrays()
    X[0, 0] = np.nan
    spec, path = npz(tmp_path, X_train=X, y_train=y)
    assert (
        main(["train", "--data", spec, "--epochs", "1", "--out", str(tmp_path / "run"), "-q"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "NaN" in err


def test_cli_evaluate_on_data_with_other_feature_count(tmp_path, capsys):
    from twolayer.cli import main

    X, y = toy_arrays()
    spec, _ = npz(tmp_path, X_train=X, y_train=y)
    assert (
        main(
            [
                "train",
                "--data",
                spec,
                "--epochs",
                "1",
                "--hidden",
                "8",
                "--out",
                str(tmp_path / "run"),
                "-q",
            ]
        )
        == 0
    )
    capsys.readouterr()
    other = tmp_path / "other.npz"
    np.savez(other, X_train=X[:, :4], y_train=y)
    assert main(["evaluate", str(tmp_path / "run" / "model.npz"), "--data", f"npz:{other}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(other) in err and "4 features" in err and "expects 6" in err
