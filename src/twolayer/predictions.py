"""A saved model at work on rows that are not a data set: read them, predict, write the answers.

Not part of the run layer: nothing here assembles data, it only reads rows and a model and writes
class names (text, CSV with probabilities, or .npy) to stdout or a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import check_X
from .data import read_rows
from .errors import InputError
from .io import csv_rows, printable, save_npy, stdout_write, write_text
from .net import TwoLayerNet
from .plots import class_names


def predict_file(model, input, note=None):
    """(net, class indices, probabilities) for every row of an .npy or .csv file, preprocessed as in
    training; ``note`` hears about a dropped label column."""
    net = TwoLayerNet.load(model)
    X = check_X(read_rows(input, note=note), name=str(input))
    if X.shape[1] != net.input_size:
        raise InputError(
            f"{input}: rows have {X.shape[1]} features but the model {model} expects {net.input_size}"
        )
    proba = net.predict_proba(X, name=str(input))  # raw rows: the model applies its preprocessing
    return net, proba.argmax(axis=1), proba


def write_predictions(net, idx, proba=None, out=None, note=None):
    """Class names, one per line, to stdout or OUT; with ``proba``, CSV rows 'label,p1,…,pC' under
    the header 'label,<class names>'. An OUT ending in .npy holds the class names as a unicode
    array, or with ``proba`` the N×C probabilities in class-name order."""
    names = class_names(net)
    out = None if out is None else Path(out)
    if out is not None and out.suffix == ".npy":  # an array keeps the names as they are
        return _write_npy(out, names, idx, proba, note)
    shown = [printable(n) for n in names]  # text: one line per row, whatever the names hold
    labels = [shown[i] for i in idx]
    if proba is None:
        text = "\n".join(labels) + "\n"
    else:  # CSV: a class name that is a spreadsheet formula is neutralised (io.csv_cell)
        text = csv_rows(
            ["label", *shown],
            ([label, *(f"{p:.6g}" for p in row)] for label, row in zip(labels, proba)),
        )
    return stdout_write(text) if out is None else write_text(out, text)


def _write_npy(out, names, idx, proba, note):
    """The predicted class names as a unicode array, or the probabilities, to OUT (.npy)."""
    if proba is not None:
        return save_npy(out, np.asarray(proba))
    if any(n.endswith("\0") for n in names):  # a NumPy string array drops trailing NULs:
        names = [printable(n) for n in names]  # all escaped, so that none is changed alone
        if note is not None:
            note(f"twolayer: note: {out}: class names ending in NUL are written escaped (\\x00)")
    return save_npy(out, np.array([names[i] for i in idx], dtype=str))
