"""The training loop as an iterator of per-step metrics, with no UI in it.

The command line, the tests and the app's background worker all drive `Trainer.run()`: it yields a
`StepMetrics` after every step and stops cleanly, between two steps, when its stop event is set.
Everything that decides what the next step does (weights, Adam's state, the batch generator's
state, torch's random state for dropout) is in the checkpoint, so a run interrupted and resumed
has the same loss curve as one that was not.

Under torchrun (see `musictui.distributed`) every rank runs this same loop on its own share of
each batch; the ranks agree on when to stop, and only rank 0 writes checkpoints and metrics.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musictui import distributed
from musictui.checkpoint import Checkpoint, checkpoint_name, save_checkpoint
from musictui.data import Corpus, get_batch
from musictui.distributed import SINGLE, Ranks
from musictui.errors import UserError
from musictui.model import CharLSTM, Config

METRICS_FILE = "metrics.jsonl"


@dataclass
class StepMetrics:
    step: int                  # steps done so far in the whole run (1-based after the first step)
    total_steps: int
    loss: float                # training loss of this step's batch
    chars_per_s: float         # training characters per second (of all ranks), smoothed over recent steps
    elapsed_s: float           # wall time of this process's training so far
    eta_s: float               # estimated time to the last step
    learning_rate: float
    val_loss: float | None = None     # set on evaluation steps
    checkpoint: Path | None = None    # set when a checkpoint was written after this step


class Trainer:
    """Owns the model, the optimizer and the run's state; `run()` advances it.

    With `ranks` of a torchrun run (its process group already joined, see
    `distributed.join`), each rank trains on its own rows of every batch and the gradients are
    averaged, so a run on W ranks with batch B takes the same steps as one process with batch W*B.
    """

    def __init__(self, corpus: Corpus, config: Config, checkpoint_dir: Path | str,
                 resume_from: Checkpoint | None = None, device: torch.device | str = "cpu",
                 keep_last: int = 3, ranks: Ranks = SINGLE):
        self.corpus = corpus
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir)
        self.device = torch.device(device)
        self.ranks = ranks
        self.keep_last = keep_last
        self.lock = threading.Lock()  # held while the weights change; snapshot() waits for it
        self._written: list[Path] = []  # this run's checkpoints, oldest first (only these are pruned)

        # Every rank seeds alike: the same first weights, and the same batch generator, from which
        # each rank takes its own rows (see train_step). Their torch RNGs stay equal too, so the
        # one saved in a checkpoint resumes every rank; dropout masks repeat across ranks.
        torch.manual_seed(config.seed)
        self.model = CharLSTM.from_config(len(corpus.vocab), config).to(self.device)
        # fused: one kernel for the whole update instead of a loop over tensors (about 3% of a
        # lab step on a 2-core CPU; 89% of the step is oneDNN's LSTM forward and backward).
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate,
                                          fused=self.device.type in ("cpu", "cuda"))
        self.loss_fn = nn.CrossEntropyLoss()
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.train_losses: list[float] = []
        self.val_losses: list[tuple[int, float]] = []
        self.best_val_loss: float | None = None

        self.train_ids = corpus.train_ids()
        if len(self.train_ids) <= config.seq_length + 1:
            raise UserError(
                f"the corpus {corpus.source} has {len(self.train_ids)} training characters: too short for "
                f"one window of {config.seq_length} (use a bigger corpus or a smaller --seq-length)"
            )
        self.val_batches = self._validation_windows(corpus.val_ids())
        if resume_from is not None:
            self._restore(resume_from)
        # Training steps go through DDP's wrapper (it averages the gradients); evaluation and
        # checkpoints use the model itself, whose parameters the wrapper shares.
        self.step_model = distributed.wrap(self.model, self.device) if ranks.distributed else self.model

    # -- state -------------------------------------------------------------------------------

    def _restore(self, ckpt: Checkpoint) -> None:
        if ckpt.vocab != self.corpus.vocab:
            raise UserError(
                f"{ckpt.path} was trained on a corpus with another vocabulary: resume with the same "
                "--corpus, or train into a new --checkpoint-dir"
            )
        if ckpt.optimizer_state is None or ckpt.numpy_rng is None:
            raise UserError(f"{ckpt.path} holds weights only (a shared model): it cannot be resumed")
        self.model.load_state_dict({k: v.float() for k, v in ckpt.model_state.items()})
        # Moves Adam's moments onto each parameter's device: a run saved on a GPU resumes on the CPU.
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        for group in self.optimizer.param_groups:
            group["initial_lr"] = self.config.learning_rate
        self.rng.bit_generator.state = ckpt.numpy_rng
        if ckpt.torch_rng is not None:
            torch.set_rng_state(ckpt.torch_rng)
        self.step = ckpt.step
        self.train_losses = list(ckpt.train_losses)
        self.val_losses = list(ckpt.val_losses)
        self.best_val_loss = ckpt.best_val_loss

    def checkpoint(self, with_training_state: bool = True) -> Checkpoint:
        """The run as it stands, as a Checkpoint (weights copied, so training may go on)."""
        with self.lock:
            weights = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            optimizer = self.optimizer.state_dict() if with_training_state else None
        return Checkpoint(
            config=self.config, vocab=self.corpus.vocab, model_state=weights, step=self.step,
            train_losses=list(self.train_losses), val_losses=list(self.val_losses),
            best_val_loss=self.best_val_loss, optimizer_state=optimizer,
            torch_rng=torch.get_rng_state() if with_training_state else None,
            numpy_rng=self.rng.bit_generator.state if with_training_state else None,
            extra={"corpus": str(self.corpus.source), "train_tunes": len(self.corpus.train_tunes),
                   "val_tunes": len(self.corpus.val_tunes), "world_size": self.ranks.world_size},
        )

    def snapshot_model(self) -> CharLSTM:
        """A copy of the current weights in eval mode: sampling from it never disturbs training."""
        ckpt = self.checkpoint(with_training_state=False)
        return ckpt.build_model("cpu")

    def sample_text(self, chars: int = 200, seed: int = 0) -> str:
        """A short tune from a copy of the current weights (never the model being trained), to
        show what the model has learned so far: the app and Comet show one at each evaluation."""
        from musictui.sample import DEFAULT_PROMPT, SampleSettings, Sampler

        sampler = Sampler(self.snapshot_model(), self.corpus.vocab)
        settings = SampleSettings(temperature=0.8, seed=seed, max_length=chars, tunes=1)
        return DEFAULT_PROMPT + "".join(sampler.stream(DEFAULT_PROMPT, settings))

    def save(self) -> Path:
        """Write a checkpoint of the current step; keep this run's `keep_last` newest ones.

        Under torchrun every rank calls this: rank 0 writes, and all wait until it has written, so
        no rank runs ahead of a checkpoint. Every rank gets the path rank 0 wrote.
        """
        path = self.checkpoint_dir / checkpoint_name(self.step)
        if self.ranks.is_main:
            save_checkpoint(self.checkpoint(), path)
            if path not in self._written:
                self._written.append(path)
            while self.keep_last and len(self._written) > self.keep_last:
                self._written.pop(0).unlink(missing_ok=True)
        if self.ranks.distributed:
            distributed.barrier()
        return path

    # -- the loop ----------------------------------------------------------------------------

    def learning_rate(self, step: int) -> float:
        base = self.config.learning_rate
        if self.config.lr_schedule == "cosine":
            progress = min(step / max(self.config.steps, 1), 1.0)
            return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        return base

    def train_step(self) -> float:
        """One optimization step on a random batch; returns its loss."""
        cfg = self.config
        # Every rank draws the whole batch of all ranks from the same generator and keeps its own
        # rows: different windows per rank, and one generator state (the checkpoint's) for all.
        rows = slice(self.ranks.rank * cfg.batch_size, (self.ranks.rank + 1) * cfg.batch_size)
        x, y = get_batch(self.train_ids, cfg.seq_length, cfg.batch_size * self.ranks.world_size, self.rng)
        x = torch.from_numpy(x[rows]).to(self.device)
        y = torch.from_numpy(y[rows]).to(self.device)
        self.model.train()
        lr = self.learning_rate(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        logits, _ = self.step_model(x)
        loss = self.loss_fn(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP this also averages the gradients over the ranks
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        with self.lock:
            self.optimizer.step()
            self.step += 1
        # The whole batch's loss (the mean of the ranks'), so every rank keeps the same history.
        value = (distributed.mean(loss) if self.ranks.distributed else loss).item()
        self.train_losses.append(value)
        return value

    def _validation_windows(self, val_ids: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed, non-overlapping windows of the held-out tunes: the same every evaluation."""
        cfg = self.config
        n = min((len(val_ids) - 1) // cfg.seq_length, cfg.eval_windows)
        if n <= 0:
            return []
        windows = val_ids[: n * cfg.seq_length + 1]
        x = torch.from_numpy(windows[:-1].reshape(n, cfg.seq_length).copy())
        y = torch.from_numpy(windows[1:].reshape(n, cfg.seq_length).copy())
        return [(x[i : i + cfg.batch_size], y[i : i + cfg.batch_size]) for i in range(0, n, cfg.batch_size)]

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean cross-entropy (nats per character) on the held-out windows; None without any.

        Under torchrun the ranks share the windows out and add up their sums: every rank gets the
        loss on all of them, in 1/W of the time.
        """
        if not self.val_batches:
            return None
        self.model.eval()
        total, count = 0.0, 0
        for x, y in self.val_batches[self.ranks.rank :: self.ranks.world_size]:
            logits, _ = self.model(x.to(self.device))
            total += nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), y.to(self.device).reshape(-1), reduction="sum").item()
            count += y.numel()
        if self.ranks.distributed:
            total, count = distributed.total([total, count], self.device)
        return total / count

    def stop_requested(self, stop: threading.Event | None) -> bool:
        """Whether `stop` is set here (or, under torchrun, on any rank: all must stop together)."""
        flag = stop is not None and stop.is_set()
        return distributed.any_rank(flag, self.device) if self.ranks.distributed else flag

    def run(self, stop: threading.Event | None = None, log_metrics: bool = True) -> Iterator[StepMetrics]:
        """Train until `config.steps` or until `stop` is set, yielding metrics after every step.

        Checkpoints are written every `checkpoint_every` steps and at the last step. When stopped
        early, nothing is saved here: the caller decides (the CLI and the app save on stop).
        Under torchrun every rank runs this; only rank 0 writes the metrics file, and a stop set
        on any rank stops all of them after the same step.
        """
        cfg = self.config
        chars_per_step = cfg.batch_size * cfg.seq_length * self.ranks.world_size
        log = self._open_metrics_log() if log_metrics and self.ranks.is_main else None
        start = time.perf_counter()
        done_here = 0
        smoothed_step_s: float | None = None
        try:
            while self.step < cfg.steps and not self.stop_requested(stop):
                t0 = time.perf_counter()
                loss = self.train_step()
                step_s = time.perf_counter() - t0
                done_here += 1
                # Smooth over ~20 steps: one slow step (a checkpoint, the OS) should not jolt the ETA.
                smoothed_step_s = step_s if smoothed_step_s is None else 0.9 * smoothed_step_s + 0.1 * step_s
                metrics = StepMetrics(
                    step=self.step, total_steps=cfg.steps, loss=loss,
                    chars_per_s=chars_per_step / smoothed_step_s,
                    elapsed_s=time.perf_counter() - start,
                    eta_s=(cfg.steps - self.step) * smoothed_step_s,
                    learning_rate=self.learning_rate(self.step - 1),
                )
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    metrics.val_loss = self.evaluate()
                    if metrics.val_loss is not None:
                        self.val_losses.append((self.step, metrics.val_loss))
                        if self.best_val_loss is None or metrics.val_loss < self.best_val_loss:
                            self.best_val_loss = metrics.val_loss
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    metrics.checkpoint = self.save()
                if log is not None:
                    log.write(json.dumps({
                        "step": metrics.step, "loss": round(loss, 5), "val_loss": metrics.val_loss,
                        "chars_per_s": round(metrics.chars_per_s, 1), "elapsed_s": round(metrics.elapsed_s, 3),
                        "lr": metrics.learning_rate, "time": time.time(),
                    }) + "\n")
                yield metrics
        finally:
            if log is not None:
                log.close()

    def _open_metrics_log(self):
        """Every run appends its metrics to a JSON-lines file beside its checkpoints, to plot later."""
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return open(self.checkpoint_dir / METRICS_FILE, "a", buffering=1, encoding="utf-8")
