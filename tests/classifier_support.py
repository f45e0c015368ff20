"""Tiny ONNX classifiers built in the tests (needs the `onnx` package of the `test` extra)."""

from __future__ import annotations

from pathlib import Path


def onnx_classifier(path: Path, kind: str = "rgb", batch: int | str = "N") -> Path:
    """Write a one-node ONNX classifier and return its path.

    kind "rgb": mean colour per channel, [N, 3, 16, 16] -> [N, 3] 'rgb' (labels red, green, blue).
    kind "bad-output": a [N, 1, 1, 1] output, not a usable score shape.
    kind "grey": takes [N, 1, 16, 16] images, the wrong input shape for a classifier.
    `batch` fixes the batch dimension (e.g. 1) or leaves it symbolic.
    """
    import onnx
    from onnx import TensorProto, helper

    channels = 1 if kind == "grey" else 3
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, channels, 16, 16])
    if kind == "bad-output":
        node = helper.make_node("ReduceMean", ["image"], ["bad"], axes=[1, 2, 3], keepdims=1)
        out = helper.make_tensor_value_info("bad", TensorProto.FLOAT, [batch, 1, 1, 1])
    else:
        node = helper.make_node("ReduceMean", ["image"], ["rgb"], axes=[2, 3], keepdims=0)
        out = helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [batch, channels])
    graph = helper.make_graph([node], "colour", [image], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"labels": "red,green,blue"})
    onnx.save(model, str(path))
    return path
