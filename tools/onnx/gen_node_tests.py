#!/usr/bin/env python3
"""Generate the ONNX backend node test cases for Kiln's conformance runner.

Installs the `onnx` Python package into a cache folder (pip --target) unless it is
already there, then writes one folder per node test case:

    <out>/<case>/model.onnx
    <out>/<case>/test_data_set_<k>/input_<i>.pb, output_<i>.pb

In onnx 1.23 the node cases are produced by onnx.backend.test.case.node.collect_testcases()
(the `generate-data` command line only writes the model cases). Values that are not plain
tensors (sequences, optionals, maps) are written as SequenceProto / OptionalProto / MapProto;
the runner reports such cases as unsupported.

Usage: python3 tools/onnx/gen_node_tests.py [--out .cache/onnx-node] [--cache .cache/onnx-py]
Also prints the folder of the data sets shipped in the package (simple, pytorch-*, light).
"""
import argparse
import os
import subprocess
import sys


def ensure_onnx(cache: str, version: str) -> None:
    marker = os.path.join(cache, "onnx", "__init__.py")
    if not os.path.exists(marker):
        os.makedirs(cache, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--target", cache, f"onnx{version}"])
    sys.path.insert(0, os.path.abspath(cache))


def write_value(path: str, value, name: str) -> None:
    import numpy as np
    import onnx
    from onnx import numpy_helper

    # Some cases carry ready-made protos (float8, int4, bfloat16 data).
    if isinstance(value, (onnx.TensorProto, onnx.SequenceProto, onnx.OptionalProto, onnx.MapProto)):
        if not value.name:
            value.name = name
        with open(path, "wb") as f:
            f.write(value.SerializeToString())
        return
    if isinstance(value, np.ndarray) or np.isscalar(value):
        proto = numpy_helper.from_array(np.asarray(value), name)
    elif isinstance(value, list):
        proto = numpy_helper.from_list(value, name)
    elif isinstance(value, dict):
        proto = numpy_helper.from_dict(value, name)
    elif value is None:
        proto = numpy_helper.from_optional(None, name)
    else:
        proto = numpy_helper.from_optional(value, name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".cache/onnx-node")
    ap.add_argument("--cache", default=".cache/onnx-py")
    ap.add_argument("--onnx-version", default="==1.23.1")
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    ensure_onnx(args.cache, args.onnx_version)
    import re

    import onnx
    from onnx.backend.test.case import node

    cases = node.collect_testcases(None)
    pat = re.compile(args.filter) if args.filter else None
    n = 0
    for case in cases:
        if pat and not pat.search(case.name):
            continue
        d = os.path.join(args.out, case.name)
        os.makedirs(d, exist_ok=True)
        onnx.save(case.model, os.path.join(d, "model.onnx"))
        for k, (inputs, outputs) in enumerate(case.data_sets or []):
            ds = os.path.join(d, f"test_data_set_{k}")
            os.makedirs(ds, exist_ok=True)
            ins = list(case.model.graph.input)
            outs = list(case.model.graph.output)
            try:
                for i, v in enumerate(inputs):
                    write_value(os.path.join(ds, f"input_{i}.pb"), v, ins[i].name if i < len(ins) else f"input_{i}")
                for i, v in enumerate(outputs):
                    write_value(os.path.join(ds, f"output_{i}.pb"), v, outs[i].name if i < len(outs) else f"output_{i}")
            except Exception as e:  # a value numpy_helper cannot serialise: the runner reports the reason
                with open(os.path.join(d, "unsupported.txt"), "w") as f:
                    f.write(f"test data not serialisable: {type(e).__name__}: {e}\n")
        n += 1
    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    print(f"wrote {n} node cases to {args.out} (onnx {onnx.__version__}, opset {onnx.defs.onnx_opset_version()})")
    print(f"packaged data sets: {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
