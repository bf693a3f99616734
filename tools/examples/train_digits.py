"""Train the bundled example model: a small CNN on scikit-learn's 8x8 digits.

Writes examples/digits/: digits_cnn.onnx (opset 17, symbolic batch), the weights as
.npy files (for building the same network without the ONNX frontend), a few sample
images with their labels, and the PyTorch reference outputs for them.

Run: pip install scikit-learn torch onnx && python tools/examples/train_digits.py
Fixed seeds: the outputs are reproducible on the same library versions.
"""
import json
import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "digits")


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def main():
    torch.manual_seed(0)
    np.random.seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(30):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean()
    print(f"test accuracy: {acc:.4f}")

    os.makedirs(os.path.join(OUT, "weights"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "samples"), exist_ok=True)
    for name, p in model.state_dict().items():
        np.save(os.path.join(OUT, "weights", f"{name}.npy"), p.numpy().astype(np.float32))
    dummy = torch.zeros(1, 1, 8, 8)
    torch.onnx.export(
        model, dummy, os.path.join(OUT, "digits_cnn.onnx"), input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    # Eight test images, one file each and one batch, with labels and reference logits.
    pick = xte[:8]
    np.save(os.path.join(OUT, "samples", "batch8.npy"), pick)
    for i in range(8):
        np.save(os.path.join(OUT, "samples", f"digit_{i}.npy"), pick[i : i + 1])
    with torch.no_grad():
        ref = model(torch.from_numpy(pick)).numpy()
    np.save(os.path.join(OUT, "samples", "batch8_logits.npy"), ref.astype(np.float32))
    with open(os.path.join(OUT, "samples", "labels.json"), "w") as f:
        json.dump({"labels": [int(v) for v in yte[:8]], "test_accuracy": float(acc)}, f, indent=2)


if __name__ == "__main__":
    main()
