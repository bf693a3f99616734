#!/usr/bin/env python3
"""Tiny ONNX fixtures for @kiln/frontends-onnx tests, with reference outputs from
onnxruntime. Run from this folder: python3 make_fixtures.py  (needs onnx, onnxruntime, numpy).

Writes <name>.onnx and <name>.<k>.in<i>.pb / <name>.<k>.out<i>.pb (TensorProto) per data set.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(1234)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def save(name, model, datasets):
    onnx.checker.check_model(model)
    onnx.save(model, f"{name}.onnx")
    sess = ort.InferenceSession(f"{name}.onnx", providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    for k, inputs in enumerate(datasets):
        outs = sess.run(None, dict(zip(names, inputs)))
        for i, v in enumerate(inputs):
            open(f"{name}.{k}.in{i}.pb", "wb").write(numpy_helper.from_array(v).SerializeToString())
        for i, v in enumerate(outs):
            open(f"{name}.{k}.out{i}.pb", "wb").write(numpy_helper.from_array(v).SerializeToString())


def model(nodes, inputs, outputs, inits=(), opset=17, name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


# 1. An MLP with a symbolic batch: Gemm(transB) + Relu + MatMul + Add + Softmax.
w1 = numpy_helper.from_array(f32(16, 8), "w1")
b1 = numpy_helper.from_array(f32(16), "b1")
w2 = numpy_helper.from_array(f32(16, 4), "w2")
b2 = numpy_helper.from_array(f32(4), "b2")
m = model(
    [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b2"], ["a"], name="bias"),
        helper.make_node("Softmax", ["a"], ["y"], axis=-1, name="softmax"),
    ],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    [w1, b1, w2, b2],
)
save("mlp_dynamic", m, [[f32(1, 8)], [f32(7, 8)]])

# 2. Shape arithmetic on a symbolic batch folded at import: y = reshape(x, [Shape(x)[0], -1]) * 2.
m = model(
    [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Mul", ["r", "two"], ["y"]),
    ],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12])],
    [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "ax0"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
        numpy_helper.from_array(np.array(2, np.float32), "two"),
    ],
)
save("shape_fold", m, [[f32(2, 3, 4)], [f32(5, 3, 4)]])

# 3. A small CNN: Conv (auto_pad SAME_UPPER) + BatchNormalization + Relu + MaxPool + GlobalAveragePool + Flatten + Gemm.
cw = numpy_helper.from_array(f32(4, 2, 3, 3) * 0.5, "cw")
cb = numpy_helper.from_array(f32(4), "cb")
bn = [numpy_helper.from_array(a, n) for a, n in [(rng.uniform(0.5, 1.5, 4).astype(np.float32), "g"), (f32(4), "beta"), (f32(4) * 0.1, "mean"), (rng.uniform(0.5, 2, 4).astype(np.float32), "var")]]
fw = numpy_helper.from_array(f32(4, 3), "fw")
m = model(
    [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], auto_pad="SAME_UPPER", strides=[2, 2], name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["b"], epsilon=1e-3, name="bn"),
        helper.make_node("Relu", ["b"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1]),
        helper.make_node("GlobalAveragePool", ["p"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw"], ["y"], alpha=0.5),
    ],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 9, 9])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    [cw, cb, *bn, fw],
    opset=13,
)
save("cnn_small", m, [[f32(2, 2, 9, 9)]])

# 4. An initializer kept in an external data file.
w = f32(3, 5)
t = numpy_helper.from_array(w, "w")
m = model(
    [helper.make_node("MatMul", ["x", "w"], ["y"])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
    [t],
)
if os.path.exists("external_data.bin"):
    os.remove("external_data.bin")
onnx.external_data_helper.convert_model_to_external_data(m, all_tensors_to_one_file=True, location="external_data.bin", size_threshold=0)
onnx.save(m, "external_data.onnx")
sess = ort.InferenceSession("external_data.onnx", providers=["CPUExecutionProvider"])
x = f32(2, 3)
open("external_data.0.in0.pb", "wb").write(numpy_helper.from_array(x).SerializeToString())
open("external_data.0.out0.pb", "wb").write(numpy_helper.from_array(sess.run(None, {"x": x})[0]).SerializeToString())

# 5. Two ops without a converter in one model (one error must list both): ops of a domain
# the model imports but Kiln does not know.
g = helper.make_graph(
    [
        helper.make_node("FancyOp", ["x"], ["a"], name="fancy", domain="com.example"),
        helper.make_node("OtherOp", ["a"], ["b"], name="other", domain="com.example"),
        helper.make_node("Relu", ["b"], ["y"], name="relu"),
    ],
    "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 3)])
onnx.save(m, "unsupported.onnx")

# 6. A node reading a value nothing defines (a missing initializer).
g = helper.make_graph(
    [helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")],
    "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(m, "missing_initializer.onnx")

# 7. If with a runtime condition (converted to a Relax If).
then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [3])])
else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3])])
m = model(
    [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
    ],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    [numpy_helper.from_array(np.array(0, np.float32), "zero")],
    opset=13,
)
save("if_branch", m, [[np.array([1, 2, 3], np.float32)], [np.array([-1, -2, 0.5], np.float32)]])
print("fixtures written")
