"""A saved model as an ONNX graph: raw rows in, probabilities and labels out.

    X (N, D) float32 raw inputs
      → Sub(offset) → Mul(factor)               the stored preprocessing, (x − offset)·factor
      → MatMul(W1) → Add(b1) → Relu → MatMul(W2) → Add(b2)
      → Softmax(axis=1)                          "probabilities" (N, C) float32
      → ArgMax(axis=1)                           "label_index" (N,) int64
      → Gather(class names)                      "label" (N,) string

The graph computes in float32 whatever the model's dtype. Built with the ``onnx`` package
(``pip install "twolayer[onnx]"``); opset 17, IR version 8, so any recent ONNX runtime runs it.
"""

from __future__ import annotations

import json

import numpy as np

from .errors import InputError
from .io import atomic_write
from .net import TwoLayerNet
from .plots import class_names

OPSET = 17
IR_VERSION = 8


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InputError(
            'exporting to ONNX needs the onnx package: pip install "twolayer[onnx]"'
        ) from None
    return onnx


def predictor_parts(
    params,
    offset,
    factor,
    classes,
    X="X",
    label="label",
    proba="probabilities",
    index="label_index",
    prefix="",
):
    """The predictor as plain data: ({initializer name: array}, [(op, inputs, outputs, attributes)]).

    One description serves both the standalone graph (``to_onnx``) and the skl2onnx converter.
    ``classes`` is what the label output gathers: an array of strings or of int64.
    """
    f32 = np.float32
    n = lambda name: prefix + name  # noqa: E731 - names unique within a larger graph
    init = {
        n("offset"): np.asarray(offset, f32),
        n("factor"): np.asarray(factor, f32),
        **{n(k): np.asarray(params[k], f32) for k in ("W1", "b1", "W2", "b2")},
        n("classes"): np.asarray(classes),
    }
    nodes = [
        ("Sub", [X, n("offset")], [n("centred")], {}),
        (
            "Mul",
            [n("centred"), n("factor")],
            [n("x")],
            {},
        ),  # (x − offset)·factor: the stored preprocessing
        ("MatMul", [n("x"), n("W1")], [n("xW1")], {}),
        ("Add", [n("xW1"), n("b1")], [n("a")], {}),
        ("Relu", [n("a")], [n("h")], {}),
        ("MatMul", [n("h"), n("W2")], [n("hW2")], {}),
        ("Add", [n("hW2"), n("b2")], [n("scores")], {}),
        ("Softmax", [n("scores")], [proba], {"axis": 1}),
        ("ArgMax", [n("scores")], [index], {"axis": 1, "keepdims": 0}),
        ("Gather", [n("classes"), index], [label], {"axis": 0}),
    ]
    return init, nodes


def _tensor(name, array):
    from onnx import TensorProto, numpy_helper

    if array.dtype.kind in "UO":  # strings, byte for byte: onnx's make_tensor (through a NumPy
        tensor = TensorProto(name=name, data_type=TensorProto.STRING)  # 'S' array) drops
        tensor.dims.extend(array.shape)  # trailing NULs, as an object array here does not
        tensor.string_data.extend(_utf8(v) for v in array.ravel())
        return tensor
    return numpy_helper.from_array(array, name)


def _utf8(name):
    """A class name as ONNX's UTF-8 bytes; a lone surrogate (no UTF-8 holds one) as its escape
    \\udcXX, the same text the JSON class_names metadata gives."""
    return str(name).encode("utf-8", "backslashreplace")


def _names_array(names):
    """The class names as a 1-D array that keeps them exactly (a 'U' array drops trailing NULs)."""
    array = np.empty(len(names), dtype=object)
    array[:] = [str(n) for n in names]
    return array


def to_onnx(net, name="twolayer"):
    """The ONNX ModelProto of ``net`` (a TwoLayerNet), its preprocessing included."""
    onnx = _onnx()
    from onnx import TensorProto, helper

    d, c = net.input_size, net.output_size
    names = class_names(net)
    if net.preprocessor is not None:
        offset, factor = net.preprocessor.offset_, net.preprocessor.factor_
    else:
        offset, factor = np.zeros(d), np.ones(d)
    init, nodes = predictor_parts(net.params, offset, factor, _names_array(names))
    graph = helper.make_graph(
        [helper.make_node(op, i, o, **attrs) for op, i, o, attrs in nodes],
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", d])],
        [
            helper.make_tensor_value_info("label", TensorProto.STRING, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", c]),
            helper.make_tensor_value_info("label_index", TensorProto.INT64, ["N"]),
        ],
        initializer=[_tensor(k, v) for k, v in init.items()],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="twolayer",
        doc_string="two-layer net: preprocessing, affine, ReLU, affine, softmax",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model,
        {
            # a JSON list: a name holding a newline, a NUL or a lone surrogate stays one name
            "class_names": json.dumps(list(names)),
            "preprocess": net.preprocessor.mode if net.preprocessor else "none",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def export(model_path, out):
    """Write the ONNX graph of the model at ``model_path`` to ``out`` (atomically); returns ``out``."""
    model = to_onnx(TwoLayerNet.load(model_path))
    return atomic_write(out, lambda f: f.write(model.SerializeToString()))
