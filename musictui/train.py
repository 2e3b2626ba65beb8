"""The training loop as an iterator of per-step metrics, with no UI in it.

The command line, the tests and the app's background worker all drive `Trainer.run()`: it yields a
`StepMetrics` after every step and stops cleanly, between two steps, when its stop event is set.
Everything that decides what the next step does (weights, Adam's state, the batch generator's
state, the run's own dropout generator) is in the checkpoint, so a run interrupted and resumed
has the same loss curve as one that was not, whatever else the process samples meanwhile (with
`--batching stateful`, but for the carried (h, c), which a resume starts at zero: see batches.py).

Under torchrun (see `musictui.distributed`) every rank runs this same loop on its own share of
each batch; the ranks agree on when to stop, and only rank 0 writes checkpoints and metrics.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musictui import distributed, limits
from musictui.batches import StripeBatches, validation_windows
from musictui.checkpoint import Checkpoint, checkpoint_name, copy_optimizer_state, list_checkpoints, save_checkpoint
from musictui.data import Corpus, get_batch
from musictui.distributed import SINGLE, Ranks
from musictui.errors import UserError
from musictui.metrics_log import MetricsLog
from musictui.model import PRESETS, RESUMABLE, CharLSTM, Config
from musictui.run_folder import RunFolder, prune_checkpoints


class TrainingDiverged(UserError):
    """The loss (or the weights) stopped being finite: nothing from that step on is saved."""


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
        self.lock = threading.Lock()  # held while the run's state changes; checkpoint() waits for it
        self.run_folder: RunFolder | None = None  # the folder's lock, when build_trainer took it
        self.resumed_from: Path | None = None
        self.ignored: list[str] = []  # overrides a resume did not apply (build_trainer)
        config.check()
        # Before torch allocates anything: --hidden-size 10**7 would otherwise die in the allocator.
        limits.check_training_memory(len(corpus.vocab), config, self.device.type)

        # Every rank seeds alike: the same first weights, batch generator and dropout generator
        # (see train_step), so the state saved in a checkpoint resumes every rank. The weights come
        # from a forked global generator and dropout from the run's own: nothing else in the
        # process (a sampler's torch.seed(), another model) can move either.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = CharLSTM.from_config(len(corpus.vocab), config).to(self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(config.seed)
        self.model.generator = self.generator
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
        self.saved_step: int | None = None  # the step of the last checkpoint written (or resumed from)
        self.saved_path: Path | None = None

        self.train_ids = corpus.train_ids()
        if len(self.train_ids) <= config.seq_length + 1:
            raise UserError(
                f"the corpus {corpus.source} has {len(self.train_ids)} training characters: too short for "
                f"one window of {config.seq_length} (use a bigger corpus or a smaller --seq-length)"
            )
        self.val_batches = validation_windows(corpus.val_ids(), config)
        self.stripes = (StripeBatches(self.train_ids, config.seq_length, config.batch_size * ranks.world_size)
                        if config.batching == "stateful" else None)  # batches.py; None: random windows
        self.state = None  # stateful: the carried (h, c), zero at the start, a stripe's wrap and a resume
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
            try:
                self.generator.set_state(ckpt.torch_rng)
            except RuntimeError:
                # Saved on another kind of device (a CUDA generator's state does not fit the CPU's):
                # the dropout masks from here on differ from the straight run's, all else is exact.
                self.generator.manual_seed(self.config.seed + ckpt.step)
        self.resumed_from = ckpt.path
        self.step = self.saved_step = ckpt.step
        self.saved_path = ckpt.path
        self.train_losses = list(ckpt.train_losses)
        self.val_losses = list(ckpt.val_losses)
        self.best_val_loss = ckpt.best_val_loss

    def checkpoint(self, with_training_state: bool = True) -> Checkpoint:
        """The run as it stands, as a Checkpoint, taken whole under the lock: weights, Adam's
        moments (copied, not the live tensors the next step changes), step, losses and random
        states all belong to the same step, whichever thread asks while training goes on."""
        with self.lock:
            weights = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            optimizer = copy_optimizer_state(self.optimizer.state_dict()) if with_training_state else None
            ckpt = Checkpoint(
                config=self.config, vocab=self.corpus.vocab, model_state=weights, step=self.step,
                train_losses=list(self.train_losses), val_losses=list(self.val_losses),
                best_val_loss=self.best_val_loss, optimizer_state=optimizer,
                torch_rng=self.generator.get_state() if with_training_state else None,
                numpy_rng=copy.deepcopy(self.rng.bit_generator.state) if with_training_state else None,
                extra={"corpus": str(self.corpus.source), "train_tunes": len(self.corpus.train_tunes),
                       "val_tunes": len(self.corpus.val_tunes), "world_size": self.ranks.world_size,
                       "rng_device": self.device.type},
            )
        return ckpt

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
        """Write a checkpoint of the current step; keep the folder's `keep_last` of highest step.
        Non-finite weights are never written (TrainingDiverged): the one before stays the newest.
        Under torchrun every rank calls this; rank 0 writes while all wait, and all get its path."""
        ckpt = self.checkpoint()
        bad = next((name for name, t in ckpt.model_state.items() if not bool(torch.isfinite(t).all())), None)
        if bad is not None:
            raise TrainingDiverged(f"training diverged by step {ckpt.step}: {bad} holds NaN or infinite values, so "
                                   f"it was not saved; {self._last_good()}")
        path = self.checkpoint_dir / checkpoint_name(ckpt.step)
        if self.ranks.is_main:
            save_checkpoint(ckpt, path)
            prune_checkpoints(self.checkpoint_dir, self.keep_last, keep=path)
        if self.ranks.distributed:
            distributed.barrier()
        self.saved_step, self.saved_path = ckpt.step, path
        return path

    def unsaved(self) -> str:
        """What a stop that could not save leaves behind, for its message: which steps are lost,
        and where the last checkpoint is."""
        if self.step == 0:
            return "nothing was trained yet"
        if self.saved_step == self.step:
            return f"step {self.step:,} is saved" + (f" ({self.saved_path})" if self.saved_path else "")
        if self.saved_step is None:
            return f"its {self.step:,} steps are not saved (no checkpoint was written)"
        return f"steps after {self.saved_step:,} are not saved (the last checkpoint is {self.saved_path})"

    # -- the loop ----------------------------------------------------------------------------

    def learning_rate(self, step: int) -> float:
        return self.config.learning_rate_at(step)

    def train_step(self) -> float:
        """One optimization step on a random batch; returns its loss."""
        cfg = self.config
        # Every rank draws the whole batch of all ranks from the same generator and keeps its own
        # rows: different windows per rank, and one generator state (the checkpoint's) for all.
        rows = slice(self.ranks.rank * cfg.batch_size, (self.ranks.rank + 1) * cfg.batch_size)
        x, y = (get_batch(self.train_ids, cfg.seq_length, cfg.batch_size * self.ranks.world_size, self.rng)
                if self.stripes is None else self.stripes.batch(self.step))
        if self.stripes is not None and self.stripes.starts_over(self.step):
            self.state = None
        x = torch.from_numpy(x[rows]).to(self.device)
        y = torch.from_numpy(y[rows]).to(self.device)
        self.model.train()
        lr = self.learning_rate(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            logits, state = self.step_model(x, self.state)  # bf16: oneDNN runs the LSTM in bfloat16
        logits = logits.float()  # the loss in fp32 (a no-op in fp32)
        if self.stripes is not None:  # detached: the gradient stops at this window's start
            self.state = tuple(s.detach() for s in state)
        loss = self.loss_fn(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        # The whole batch's loss (the mean of the ranks'), so every rank keeps the same history
        # and every rank stops together on a non-finite one.
        value = (distributed.mean(loss.detach()) if self.ranks.distributed else loss).item()
        if not math.isfinite(value):
            # Stop at the first one: every later step would only spread the NaN through Adam's state.
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: the loss is {value}; "
                                   f"{self._last_good()}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP this also averages the gradients over the ranks
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        with self.lock:
            self.optimizer.step()
            self.step += 1
            self.train_losses.append(value)
        return value

    def _last_good(self) -> str:
        found = list_checkpoints(self.checkpoint_dir)
        return (f"the last good checkpoint is {found[-1]} (resume it with a lower --learning-rate)" if found
                else "no checkpoint was written before it (try a lower --learning-rate)")

    def close(self) -> None:  # give up the run folder's lock (the end of the process does it too)
        if self.run_folder is not None:
            self.run_folder.release()

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
        log = MetricsLog(self.checkpoint_dir) if log_metrics and self.ranks.is_main else None
        start = time.perf_counter()
        done_here = 0
        smoothed_step_s: float | None = None
        try:
            while self.step < cfg.steps and not self.stop_requested(stop):
                if self.run_folder is not None:
                    self.run_folder.keep()  # a deleted lock file is made again before a second trainer gets in
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
                        with self.lock:
                            self.val_losses.append((self.step, metrics.val_loss))
                            if self.best_val_loss is None or metrics.val_loss < self.best_val_loss:
                                self.best_val_loss = metrics.val_loss
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    metrics.checkpoint = self.save()
                if log is not None:
                    log.write({
                        "step": metrics.step, "loss": round(loss, 5), "val_loss": metrics.val_loss,
                        "chars_per_s": round(metrics.chars_per_s, 1), "elapsed_s": round(metrics.elapsed_s, 3),
                        "lr": metrics.learning_rate, "time": time.time()})
                yield metrics
        finally:
            if log is not None:
                log.close()


def build_trainer(checkpoint_dir: Path, corpus: Path | None = None, preset: str = "small",
                  overrides: dict | None = None, resume: bool | None = False,
                  device: torch.device | str = "cpu", ranks: Ranks = SINGLE) -> Trainer:
    """The one way a run starts, for the command line and the app alike.

    `resume`: True continues the newest checkpoint in `checkpoint_dir` (there must be one);
    False starts a new run, and refuses a folder that already holds one (its step-N files would
    be overwritten); None resumes when there is a checkpoint, else starts anew (the app's "your
    run"). `overrides` are Config fields (None = keep); a resumed run takes only RESUMABLE ones
    and lists the others in `trainer.ignored`. Rank 0 locks the folder for the trainer's life."""
    from musictui.data import load_corpus

    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    checkpoint_dir = Path(checkpoint_dir)
    folder = RunFolder(checkpoint_dir).acquire() if ranks.is_main else None
    try:
        corpus_data = load_corpus(corpus)
        if folder is not None:
            folder.remove_stale_temp_files()
        existing = list_checkpoints(checkpoint_dir) if ranks.is_main else []
        if resume is None:
            resume = bool(distributed.from_main(bool(existing)) if ranks.distributed else existing)
        if resume:
            ckpt = _resume_checkpoint(checkpoint_dir, ranks)
            config = ckpt.config.override(**{k: v for k, v in overrides.items() if k in RESUMABLE})
            trainer = Trainer(corpus_data, config, checkpoint_dir, resume_from=ckpt, device=device, ranks=ranks)
            trainer.ignored = sorted(k for k in overrides if k not in RESUMABLE)
        else:
            if existing:
                raise UserError(f"{checkpoint_dir} already holds a run ({existing[-1].name}): continue it with "
                                "--resume, or start a new one in another --checkpoint-dir")
            if preset not in PRESETS:
                raise UserError(f"unknown preset {preset!r}: choose {', '.join(sorted(PRESETS))}")
            trainer = Trainer(corpus_data, PRESETS[preset].override(**overrides), checkpoint_dir,
                              device=device, ranks=ranks)
    except BaseException:
        if folder is not None:
            folder.abandon()
        raise
    trainer.run_folder = folder
    return trainer


def _resume_checkpoint(checkpoint_dir: Path, ranks: Ranks) -> Checkpoint:
    """The newest checkpoint in `checkpoint_dir`. Under torchrun rank 0 reads it and sends it to
    the others: only rank 0 writes checkpoints, so on other machines the folder may be empty."""
    from musictui.checkpoint import load_checkpoint, newest_checkpoint

    if not ranks.distributed:
        return load_checkpoint(newest_checkpoint(checkpoint_dir))
    ckpt = error = None
    try:
        ckpt = load_checkpoint(newest_checkpoint(checkpoint_dir)) if ranks.is_main else None
    except UserError as problem:
        error = str(problem)
    ckpt, error = distributed.from_main((ckpt, error))
    if error is not None:
        if ranks.is_main:
            raise UserError(error)
        raise SystemExit(1)  # rank 0 says why, once
    return ckpt
