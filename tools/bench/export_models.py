"""Write the benchmark models as ONNX into a cache folder (fixed seeds, no downloads).

Usage: python tools/bench/export_models.py <out_dir> [name ...]
Models: resnet18, mobilenetv2 (torchvision, 1x3x224x224, random weights), bert (a
BERT-style encoder: hidden 256, 4 layers, 4 heads, sequence 128) and mlp (784-512-512-10).
Each model is written as <name>.onnx next to <name>.json (input names, shapes, dtypes).
torch, torchvision and transformers come from the folder that tools/bench/bench.mjs
installs them into (see its header); nothing is fetched at run time.
"""

import json
import os
import sys

import torch

# The torchvision wheel here is CUDA-built: its C++ ops are absent, and importing it
# registers fake kernels for torchvision::nms / qnms that fail without their schemas.
# Declaring the schemas first lets the pure-Python model definitions import cleanly.
_lib = torch.library.Library("torchvision", "DEF")  # noqa: N816 (keep the library alive)
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

import torchvision  # noqa: E402


def randomise_batch_norm(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Random affine and running statistics, so activations stay of order 1 through the net."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(0.5 + 0.5 * torch.rand(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_var.copy_(1.0 + 2.0 * torch.rand(c, generator=gen))


def resnet18() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]:
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None)
    randomise_batch_norm(m, torch.Generator().manual_seed(1))
    return m, (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2)),), ["input"]


def mobilenetv2() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]:
    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v2(weights=None)
    randomise_batch_norm(m, torch.Generator().manual_seed(1))
    return m, (torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2)),), ["input"]


class Encoder(torch.nn.Module):
    """BERT-style encoder on embeddings (no token lookup: the input is the embedded sequence)."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertEncoder

        cfg = BertConfig(
            hidden_size=256,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=1024,
            hidden_act="gelu",
            attn_implementation="eager",
        )
        self.encoder = BertEncoder(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).last_hidden_state


def bert() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]:
    torch.manual_seed(0)
    m = Encoder()
    return m, (torch.randn(1, 128, 256, generator=torch.Generator().manual_seed(2)),), ["hidden"]


def bert_dynamic() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]:
    """The same encoder exported with a dynamic batch and sequence, run at 4 x 128."""
    m, _, names = bert()
    return m, (torch.randn(4, 128, 256, generator=torch.Generator().manual_seed(2)),), names


def mlp() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...], list[str]]:
    torch.manual_seed(0)
    m = torch.nn.Sequential(
        torch.nn.Linear(784, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )
    return m, (torch.randn(1, 784, generator=torch.Generator().manual_seed(2)),), ["x"]


MODELS = {"resnet18": resnet18, "mobilenetv2": mobilenetv2, "bert": bert, "mlp": mlp, "bert_dynamic": bert_dynamic}

# Models exported with symbolic dimensions (input name -> axis -> dim name); they are
# benchmarked at the shape of their example inputs.
DYNAMIC_AXES = {"bert_dynamic": {"hidden": {0: "batch", 1: "seq"}}}


def main() -> None:
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    for name in names:
        path = os.path.join(out, f"{name}.onnx")
        if os.path.exists(path):
            continue
        model, inputs, input_names = MODELS[name]()
        model.eval()
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(
                model,
                inputs,
                tmp,
                input_names=input_names,
                output_names=["output"],
                opset_version=17,
                dynamo=False,
                dynamic_axes=DYNAMIC_AXES.get(name),
            )
        meta = {"inputs": [{"name": n, "shape": list(t.shape), "dtype": "float32"} for n, t in zip(input_names, inputs)]}
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(meta, f)
        # Rename last, so an interrupted export never leaves a half-written model behind.
        os.replace(tmp, path)
        print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
