"""`musictui train`: train the LSTM with a live progress bar; Ctrl+C saves and exits."""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from musictui.commands.common import DEFAULT_CHECKPOINT_DIR, add_corpus_argument, add_device_argument, positive_int
from musictui.model import PRESETS

# Flags that override one Config field each: flag -> (field, type).
OVERRIDES = {
    "--embedding-dim": ("embedding_dim", positive_int),
    "--hidden-size": ("hidden_size", positive_int),
    "--batch-size": ("batch_size", positive_int),
    "--seq-length": ("seq_length", positive_int),
    "--learning-rate": ("learning_rate", float),
    "--lr-schedule": ("lr_schedule", str),
    "--dropout": ("dropout", float),
    "--grad-clip": ("grad_clip", float),
    "--eval-every": ("eval_every", positive_int),
    "--checkpoint-every": ("checkpoint_every", positive_int),
}
# What may change when a run is resumed: anything else would not be the same run.
RESUMABLE = {"steps", "eval_every", "checkpoint_every"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="model size and recipe: lab (the MIT lab's), small (for a 2-core CPU), tiny (seconds)")
    parser.add_argument("--steps", type=positive_int, help="steps in the whole run, counted across resumes")
    add_corpus_argument(parser)
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR, metavar="DIR",
                        help="where checkpoints go (default: ./checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in DIR")
    parser.add_argument("--seed", type=int, help="seed for weights, batch order and dropout (default 0)")
    add_device_argument(parser)
    for flag, (field, kind) in OVERRIDES.items():
        parser.add_argument(flag, type=kind, dest=field, metavar=field.split("_")[-1].upper())


def build_trainer(args: argparse.Namespace):
    """The Trainer the arguments ask for: a new run, or the newest checkpoint's run resumed."""
    from musictui.checkpoint import load_checkpoint, newest_checkpoint
    from musictui.data import load_corpus
    from musictui.model import resolve_device
    from musictui.train import Trainer

    overrides = {field: getattr(args, field, None) for field, _ in OVERRIDES.values()}
    overrides.update(steps=args.steps, seed=args.seed)
    corpus = load_corpus(args.corpus)
    if args.resume:
        ckpt = load_checkpoint(newest_checkpoint(args.checkpoint_dir))
        ignored = sorted(k for k, v in overrides.items() if v is not None and k not in RESUMABLE)
        if ignored:
            print(f"musictui: resuming keeps the run's own settings; ignoring {', '.join(ignored)}")
        config = ckpt.config.override(**{k: v for k, v in overrides.items() if k in RESUMABLE})
        return Trainer(corpus, config, args.checkpoint_dir, resume_from=ckpt, device=resolve_device(args.device))
    config = PRESETS[args.preset].override(**overrides)
    return Trainer(corpus, config, args.checkpoint_dir, device=resolve_device(args.device))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    trainer = build_trainer(args)
    cfg = trainer.config
    console = Console()
    if trainer.step >= cfg.steps:
        console.print(f"Already at step {trainer.step} of {cfg.steps}: nothing to do (raise --steps to go on).")
        return 0
    console.print(
        f"Training on {len(trainer.corpus.train_tunes)} tunes ({len(trainer.train_ids):,} characters, "
        f"{len(trainer.corpus.val_tunes)} held out) from {trainer.corpus.source}; "
        f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters; "
        f"checkpoints in {args.checkpoint_dir}/" + (f"; resuming at step {trainer.step}" if trainer.step else ""))

    stop = threading.Event()
    _stop_on_first_ctrl_c(stop)
    columns = (
        TextColumn("step {task.completed}/{task.total}"), BarColumn(),
        TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[speed]} chars/s"),
        TimeRemainingColumn(),
    )
    last_checkpoint = None
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=cfg.steps, completed=trainer.step, loss="-", val="-", speed="-")
        for m in trainer.run(stop):
            if m.checkpoint:
                last_checkpoint = m.checkpoint
            val = f"{m.val_loss:.3f}" if m.val_loss is not None else progress.tasks[0].fields["val"]
            progress.update(task, completed=m.step, loss=f"{m.loss:.3f}", val=val, speed=f"{m.chars_per_s:,.0f}")
            if not console.is_terminal and (m.val_loss is not None or m.checkpoint):
                # In a log file (nohup, CI) the bar is not drawn: leave a line at each evaluation.
                progress.console.print(
                    f"step {m.step}/{m.total_steps} loss {m.loss:.3f} val {val} {m.chars_per_s:,.0f} chars/s "
                    f"elapsed {m.elapsed_s:,.0f}s left {m.eta_s:,.0f}s" + (f" saved {m.checkpoint}" if m.checkpoint else ""))
    if stop.is_set():
        path = trainer.save()
        console.print(f"Stopped at step {trainer.step}: saved {path}. Resume with `musictui train --resume"
                      f"{'' if args.checkpoint_dir == Path('checkpoints') else f' --checkpoint-dir {args.checkpoint_dir}'}`.")
        return 130
    console.print(f"Done: step {trainer.step}, best validation loss "
                  f"{trainer.best_val_loss if trainer.best_val_loss is None else round(trainer.best_val_loss, 4)}; "
                  f"saved {last_checkpoint}")
    return 0




def _stop_on_first_ctrl_c(stop: threading.Event) -> None:
    """The first Ctrl+C finishes the current step, then saves; a second one stops at once."""
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
    signal.signal(signal.SIGINT, handler)
