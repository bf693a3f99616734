"""Export small real-architecture models as ONNX for `npm run zoo` (fixed seeds, no downloads).

Usage: python tools/zoo/export_models.py <out_dir> [name ...]

Each model is written as <name>.onnx with <name>.json beside it: the inputs (name, dtype,
shape as exported, which axes are dynamic) and the shapes to run it at, so the checker
compiles once and runs the same artifact at several batch sizes / sequence lengths.
The architectures are the ones users bring (torchvision CNNs, a ViT, Hugging Face
encoders, a Whisper encoder, an LSTM), at reduced width where that keeps the zoo fast.
Weights are random; batch-norm statistics are randomised so activations stay of order 1.
"""

import json
import os
import sys

import importlib.util

import torch

# The benchmark exporter makes torchvision importable here (its CUDA-built wheel needs the
# schemas of its C++ ops declared first) and owns the batch-norm randomisation.
_spec = importlib.util.spec_from_file_location(
    "kiln_bench_export", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "export_models.py")
)
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
torchvision = _bench.torchvision


def randomise_batch_norm(model: torch.nn.Module) -> None:
    _bench.randomise_batch_norm(model, torch.Generator().manual_seed(1))


class Last(torch.nn.Module):
    """Wraps a Hugging Face model so the export has one plain tensor output."""

    def __init__(self, m: torch.nn.Module, with_mask: bool) -> None:
        super().__init__()
        self.m = m
        self.with_mask = with_mask

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.with_mask:
            return self.m(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.m(input_ids=ids).last_hidden_state


def vision(name: str, runs: list[dict], **kw):
    def make():
        torch.manual_seed(0)
        m = getattr(torchvision.models, name)(**kw).eval()
        randomise_batch_norm(m)
        return m, (torch.randn(1, 3, 224, 224),), {"input": {0: "batch"}}, runs

    return make


def vit_small():
    torch.manual_seed(0)
    m = torchvision.models.VisionTransformer(
        image_size=64, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128, num_classes=10
    ).eval()
    torch.nn.init.normal_(m.heads.head.weight)  # the default head is all zeros
    return m, (torch.randn(1, 3, 64, 64),), {"input": {0: "batch"}}, [{"batch": 1}, {"batch": 3}]


def token_inputs(with_mask: bool):
    ids = torch.randint(0, 1000, (2, 16), generator=torch.Generator().manual_seed(2))
    dyn = {"input_ids": {0: "batch", 1: "seq"}}
    if not with_mask:
        return (ids,), dyn
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0
    dyn["attention_mask"] = {0: "batch", 1: "seq"}
    return (ids, mask), dyn


SEQ_RUNS = [{"batch": 2, "seq": 16}, {"batch": 1, "seq": 7}, {"batch": 3, "seq": 40}]


def bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        num_hidden_layers=2, hidden_size=128, num_attention_heads=4, intermediate_size=256, vocab_size=1000
    )
    args, dyn = token_inputs(True)
    return Last(BertModel(cfg).eval(), True), args, dyn, SEQ_RUNS


def distilbert():
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    cfg = DistilBertConfig(n_layers=2, dim=128, n_heads=4, hidden_dim=256, vocab_size=1000)
    cfg._attn_implementation = "eager"
    args, dyn = token_inputs(True)
    return Last(DistilBertModel(cfg).eval(), True), args, dyn, SEQ_RUNS


def t5_encoder():
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    cfg = T5Config(num_layers=2, d_model=128, d_kv=32, num_heads=4, d_ff=256, vocab_size=1000)
    args, dyn = token_inputs(False)
    return Last(T5EncoderModel(cfg).eval(), False), args, dyn, SEQ_RUNS


def whisper_encoder():
    from transformers import WhisperConfig, WhisperModel

    torch.manual_seed(0)
    cfg = WhisperConfig(
        d_model=64,
        encoder_layers=2,
        encoder_attention_heads=4,
        encoder_ffn_dim=128,
        num_mel_bins=40,
        max_source_positions=50,
        decoder_layers=1,
        decoder_attention_heads=4,
        decoder_ffn_dim=128,
    )
    enc = WhisperModel(cfg).get_encoder().eval()

    class Enc(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = enc

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            return self.enc(feats).last_hidden_state

    return Enc(), (torch.randn(2, 40, 100),), {"input": {0: "batch"}}, [{"batch": 2}, {"batch": 1}]


def lstm():
    torch.manual_seed(0)

    class Tagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.LSTM(32, 48, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = torch.nn.Linear(96, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, _ = self.rnn(x)
            return self.fc(y[:, -1])

    return Tagger().eval(), (torch.randn(3, 12, 32),), {"input": {0: "batch"}}, [{"batch": 3}, {"batch": 1}]


BATCH_RUNS = [{"batch": 1}, {"batch": 2}]
MODELS = {
    "squeezenet": vision("squeezenet1_1", BATCH_RUNS),
    "mnasnet": vision("mnasnet0_5", [{"batch": 1}]),
    "shufflenet": vision("shufflenet_v2_x1_0", [{"batch": 1}]),
    "efficientnet_b0": vision("efficientnet_b0", [{"batch": 1}]),
    "regnet": vision("regnet_x_400mf", [{"batch": 1}]),
    "googlenet": vision("googlenet", [{"batch": 1}], init_weights=True, aux_logits=False),
    "convnext_tiny": vision("convnext_tiny", [{"batch": 1}]),
    "vit_small": vit_small,
    "bert": bert,
    "distilbert": distilbert,
    "t5_encoder": t5_encoder,
    "whisper_encoder": whisper_encoder,
    "lstm": lstm,
}


def export(name: str, out: str) -> None:
    model, args, dynamic, runs = MODELS[name]()
    names = list(dynamic)[: len(args)] if len(dynamic) == len(args) else ["input"]
    if len(names) != len(args):
        names = [f"input_{i}" for i in range(len(args))]
    path = os.path.join(out, f"{name}.onnx")
    torch.onnx.export(
        model,
        args,
        path,
        input_names=names,
        output_names=["output"],
        dynamic_axes={**dynamic, "output": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    inputs = []
    for n, a in zip(names, args, strict=True):
        axes = {str(k): v for k, v in dynamic.get(n, {}).items()}
        inputs.append({"name": n, "dtype": str(a.dtype).replace("torch.", ""), "shape": list(a.shape), "dynamic": axes})
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump({"inputs": inputs, "runs": runs}, f)


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name in sys.argv[2:] or list(MODELS):
        if name not in MODELS:
            sys.exit(f"unknown model '{name}' (known: {', '.join(MODELS)})")
        export(name, out)
        print(f"exported {name}", flush=True)


if __name__ == "__main__":
    main()
