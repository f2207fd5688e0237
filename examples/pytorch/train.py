"""A PyTorch model that reports per epoch: one JSON line per epoch, so early stopping can act on it.

    python train.py --lr 0.01 --width 64 --dropout 0.1 --epochs 20
    {"epoch": 1, "val_loss": 1.2, "val_accuracy": 0.7}
    ...

A small MLP on scikit-learn's 8x8 digits, on the CPU. Without torch it says
so on stderr and exits with an error, so every trial fails with that line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    try:
        import torch
        from torch import nn
    except ImportError:
        sys.exit("this example needs PyTorch, which is not installed — pip install torch (CPU build is enough)")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(int(os.environ.get("HPSEARCH_SEED", "0")))
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.2, stratify=y, random_state=0)
    X_train, X_val = torch.tensor(X_train, dtype=torch.float32), torch.tensor(X_val, dtype=torch.float32)
    y_train, y_val = torch.tensor(y_train), torch.tensor(y_val)
    model = nn.Sequential(nn.Linear(64, args.width), nn.ReLU(), nn.Dropout(args.dropout), nn.Linear(args.width, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in torch.randperm(len(X_train)).split(args.batch):
            optimizer.zero_grad()
            loss_fn(model(X_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            report = {
                "epoch": epoch,
                "val_loss": float(loss_fn(logits, y_val)),
                "val_accuracy": float((logits.argmax(1) == y_val).float().mean()),
            }
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
