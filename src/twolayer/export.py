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

import numpy as np

from .errors import InputError
from .io import atomic_write
from .net import TwoLayerNet

OPSET = 17
IR_VERSION = 8


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InputError('exporting to ONNX needs the onnx package: pip install "twolayer[onnx]"') from None
    return onnx


def to_onnx(net, name="twolayer"):
    """The ONNX ModelProto of ``net`` (a TwoLayerNet), its preprocessing included."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    f32 = np.float32
    d, c = net.input_size, net.output_size
    names = net.class_names or [str(i) for i in range(c)]
    if net.preprocessor is not None:
        offset, factor = net.preprocessor.offset_, net.preprocessor.factor_
    else:
        offset, factor = np.zeros(d), np.ones(d)
    init = [
        numpy_helper.from_array(np.asarray(offset, f32), "offset"),
        numpy_helper.from_array(np.asarray(factor, f32), "factor"),
        *(numpy_helper.from_array(np.asarray(net.params[k], f32), k) for k in ("W1", "b1", "W2", "b2")),
        helper.make_tensor("class_names", TensorProto.STRING, [c], [n.encode() for n in names]),
    ]
    nodes = [
        helper.make_node("Sub", ["X", "offset"], ["centred"]),
        helper.make_node("Mul", ["centred", "factor"], ["x"]),
        helper.make_node("MatMul", ["x", "W1"], ["xW1"]),
        helper.make_node("Add", ["xW1", "b1"], ["a"]),
        helper.make_node("Relu", ["a"], ["h"]),
        helper.make_node("MatMul", ["h", "W2"], ["hW2"]),
        helper.make_node("Add", ["hW2", "b2"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["scores"], ["label_index"], axis=1, keepdims=0),
        helper.make_node("Gather", ["class_names", "label_index"], ["label"], axis=0),
    ]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("label", TensorProto.STRING, ["N"]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", c]),
         helper.make_tensor_value_info("label_index", TensorProto.INT64, ["N"])],
        initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="twolayer",
                              doc_string="two-layer net: preprocessing, affine, ReLU, affine, softmax")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"class_names": "\n".join(names),
                                   "preprocess": net.preprocessor.mode if net.preprocessor else "none"})
    onnx.checker.check_model(model, full_check=True)
    return model


def export(model_path, out):
    """Write the ONNX graph of the model at ``model_path`` to ``out`` (atomically); returns ``out``."""
    model = to_onnx(TwoLayerNet.load(model_path))
    return atomic_write(out, lambda f: f.write(model.SerializeToString()))
