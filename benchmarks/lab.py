#!/usr/bin/env python3
"""The MIT 6.S191 Lab 1 (PyTorch, part 2: music generation) loops, as the notebook writes them.

`musictui bench` runs this file in a separate process, alternating with its own loops, so that both
are measured on the same machine in the same minutes. Each piece below follows the notebook:

  * the model: nn.Embedding -> nn.LSTM (batch_first) -> nn.Linear, a zero (h, c) made per call;
  * get_batch: np.random.choice of window starts, the windows stacked as Python lists and
    np.reshape'd (mitdeeplearning's lab1.get_batch), then torch.tensor(..., dtype=torch.long);
  * train_step: model.train(), zero_grad, forward from a zero state, cross-entropy over
    (batch*seq, vocab), backward, Adam(5e-3) step; the loop then reads loss.item() for its history;
  * generate_text: batch 1, one model call per character with the state carried, softmax then
    torch.multinomial, idx2char[...].item(). As in the notebook there is no torch.no_grad() and no
    model.eval() (the model has no dropout, so eval would change nothing but the autograd work).

Left out, because they are not the loop's speed: tqdm's progress bar, Comet logging, the
`torch.save` every 100 steps, and the live loss plot.

Usage (each prints one line, `<figure> <value>` in characters per second, and exits 0):
  python benchmarks/lab.py train    [--steps 5] [--batch 32] [--seq 100] [--embedding 256] [--hidden 1024]
  python benchmarks/lab.py generate [--chars 300] [--embedding 256] [--hidden 1024]
The weights are random (speed does not depend on what was learned); the text is the real corpus
when mitdeeplearning is installed, else random characters of the same vocabulary size.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn

VOCAB = 83  # characters in the lab's corpus (irish.abc), used when the corpus is not installed


class LSTMModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(self, batch_size, device):
        return (torch.zeros(1, batch_size, self.hidden_size).to(device),
                torch.zeros(1, batch_size, self.hidden_size).to(device))

    def forward(self, x, state=None, return_state=False):
        x = self.embedding(x)
        if state is None:
            state = self.init_hidden(x.size(0), x.device)
        out, state = self.lstm(x, state)
        out = self.fc(out)
        return out if not return_state else (out, state)


def corpus_text() -> str | None:
    """irish.abc, found the way musictui finds it (mitdeeplearning is never imported)."""
    try:
        from musictui.data import default_corpus_path

        return default_corpus_path().read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 (any failure: fall back to random text, same sizes)
        return None


def vectorized_corpus() -> tuple[np.ndarray, np.ndarray]:
    """(vectorized_songs, idx2char) as the notebook builds them."""
    text = corpus_text()
    if text is None:
        return np.random.randint(0, VOCAB, 200_000), np.array([chr(32 + i) for i in range(VOCAB)])
    vocab = sorted(set(text))
    char2idx = {u: i for i, u in enumerate(vocab)}
    return np.array([char2idx[c] for c in text]), np.array(vocab)


def get_batch(vectorized_songs, seq_length, batch_size):
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    input_batch = [vectorized_songs[i: i + seq_length] for i in idx]
    output_batch = [vectorized_songs[i + 1: i + seq_length + 1] for i in idx]
    x_batch = np.reshape(input_batch, [batch_size, seq_length])
    y_batch = np.reshape(output_batch, [batch_size, seq_length])
    return x_batch, y_batch


def train(args) -> float:
    device = torch.device("cpu")
    vectorized_songs, idx2char = vectorized_corpus()
    vocab_size = len(idx2char)
    model = LSTMModel(vocab_size, args.embedding, args.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    cross_entropy = nn.CrossEntropyLoss()

    def compute_loss(labels, logits):
        batched_labels = labels.view(-1)
        batched_logits = logits.view(-1, logits.size(-1))
        return cross_entropy(batched_logits, batched_labels)

    def train_step(x, y):
        model.train()
        optimizer.zero_grad()
        y_hat = model(x)
        loss = compute_loss(y, y_hat)
        loss.backward()
        optimizer.step()
        return loss

    history = []

    def one_iteration():
        x_batch, y_batch = get_batch(vectorized_songs, args.seq, args.batch)
        x_batch = torch.tensor(x_batch, dtype=torch.long).to(device)
        y_batch = torch.tensor(y_batch, dtype=torch.long).to(device)
        loss = train_step(x_batch, y_batch)
        history.append(loss.item())

    one_iteration()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        one_iteration()
    return args.steps * args.batch * args.seq / (time.perf_counter() - start)


def generate(args, warmup: int = 20) -> float:
    device = torch.device("cpu")
    _, idx2char = vectorized_corpus()
    model = LSTMModel(len(idx2char), args.embedding, args.hidden).to(device)
    # The notebook starts from "X"; index 0 stands in for it (the weights are random anyway).
    input_idx = torch.tensor([[0]], dtype=torch.long).to(device)
    state = model.init_hidden(input_idx.size(0), device)
    text_generated = []
    for i in range(warmup + args.chars):
        if i == warmup:  # the first characters warm the allocator and the kernels up
            start = time.perf_counter()
        predictions, state = model(input_idx, state, return_state=True)
        predictions = predictions.squeeze(0)
        input_idx = torch.multinomial(torch.softmax(predictions, dim=-1), num_samples=1)
        text_generated.append(idx2char[input_idx].item())
    return args.chars / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["train", "generate"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=100)
    parser.add_argument("--chars", type=int, default=300)
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=1024)
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    if args.mode == "train":
        print(f"train_chars_per_s {train(args):.1f}")
    else:
        print(f"gen_chars_per_s {generate(args):.1f}")


if __name__ == "__main__":
    main()
