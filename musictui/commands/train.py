"""`musictui train`: train the LSTM with a live progress bar; Ctrl+C saves and exits.

The same command runs unchanged under torchrun (`torchrun --nproc-per-node=2 -m musictui train ...`):
every process trains, only rank 0 prints, logs and writes checkpoints.
"""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from musictui.commands.common import (DEFAULT_CHECKPOINT_DIR, add_corpus_argument, add_device_argument,
                                     positive_float, positive_int)
from musictui.model import PRESETS, RESUMABLE

def lr_schedule(text: str) -> str:
    if text not in ("constant", "cosine"):
        raise argparse.ArgumentTypeError(f"choose constant or cosine, not {text!r}")
    return text


def probability(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, not {text}")
    return value


# Flags that override one Config field each: flag -> (field, type).
OVERRIDES = {
    "--embedding-dim": ("embedding_dim", positive_int),
    "--hidden-size": ("hidden_size", positive_int),
    "--batch-size": ("batch_size", positive_int),
    "--seq-length": ("seq_length", positive_int),
    "--learning-rate": ("learning_rate", positive_float),
    "--lr-schedule": ("lr_schedule", lr_schedule),
    "--dropout": ("dropout", probability),
    "--grad-clip": ("grad_clip", float),
    "--eval-every": ("eval_every", positive_int),
    "--checkpoint-every": ("checkpoint_every", positive_int),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="model size and recipe: lab (the MIT lab's), small (for a 2-core CPU), tiny (seconds)")
    parser.add_argument("--steps", type=positive_int, help="steps in the whole run, counted across resumes")
    add_corpus_argument(parser)
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR, metavar="DIR",
                        help="where checkpoints go (default: ./checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in DIR")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="start a new run from this checkpoint's weights (its sizes; the vocabulary may grow)")
    parser.add_argument("--seed", type=int, help="seed for weights, batch order and dropout (default 0)")
    add_device_argument(parser)
    parser.add_argument("--comet", action="store_true",
                        help="log the run to Comet ML (online with COMET_API_KEY, else an offline archive in DIR/comet/)")
    for flag, (field, kind) in OVERRIDES.items():
        parser.add_argument(flag, type=kind, dest=field, metavar=field.split("_")[-1].upper())


def build_trainer(args: argparse.Namespace, device=None, ranks=None):
    """The Trainer the arguments ask for: a new run, or the newest checkpoint's run resumed.

    `device` defaults to `--device`; `ranks` (torchrun's, process group joined) to one process.
    """
    from musictui.checkpoint import list_checkpoints
    from musictui.data import load_corpus
    from musictui.distributed import SINGLE
    from musictui.errors import UserError
    from musictui.model import resolve_device
    from musictui.train import Trainer

    ranks = ranks or SINGLE
    device = device if device is not None else resolve_device(args.device)
    overrides = {field: getattr(args, field, None) for field, _ in OVERRIDES.values()}
    overrides.update(steps=args.steps, seed=args.seed)
    corpus = load_corpus(args.corpus)
    if args.resume:
        ckpt = _resume_checkpoint(args.checkpoint_dir, ranks)
        ignored = sorted(k for k, v in overrides.items() if v is not None and k not in RESUMABLE)
        if ignored and ranks.is_main:
            print(f"musictui: resuming keeps the run's own settings; ignoring {', '.join(ignored)}")
        config = ckpt.config.override(**{k: v for k, v in overrides.items() if k in RESUMABLE})
        return Trainer(corpus, config, args.checkpoint_dir, resume_from=ckpt, device=device, ranks=ranks)
    existing = list_checkpoints(args.checkpoint_dir)
    if existing:
        # A new run would write its step-N files over those of the run already there.
        raise UserError(f"{args.checkpoint_dir} already holds a run ({existing[-1].name}): continue it with "
                        "--resume, or start a new one in another --checkpoint-dir")
    config = PRESETS[args.preset].override(**overrides)
    if getattr(args, "init_from", None) is None:
        return Trainer(corpus, config, args.checkpoint_dir, device=device, ranks=ranks)
    from musictui.checkpoint import load_checkpoint
    from musictui.warm_start import check_sizes, warm_start

    init = load_checkpoint(args.init_from)
    check_sizes(init, config.embedding_dim, config.hidden_size)  # before building a model of the wrong size
    trainer = Trainer(corpus, config, args.checkpoint_dir, device=device, ranks=ranks)
    warm_start(trainer.model, init, corpus.vocab)
    return trainer


def _resume_checkpoint(checkpoint_dir: Path, ranks):
    """The newest checkpoint in `checkpoint_dir`. Under torchrun rank 0 reads it and sends it to
    the others: only rank 0 writes checkpoints, so on other machines the folder may be empty."""
    from musictui import distributed
    from musictui.checkpoint import load_checkpoint, newest_checkpoint
    from musictui.errors import UserError

    if not ranks.distributed:
        return load_checkpoint(newest_checkpoint(checkpoint_dir))
    ckpt = error = None
    if ranks.is_main:
        try:
            ckpt = load_checkpoint(newest_checkpoint(checkpoint_dir))
        except UserError as problem:
            error = str(problem)
    ckpt, error = distributed.from_main((ckpt, error))
    if error is not None:
        if ranks.is_main:
            raise UserError(error)
        raise SystemExit(1)  # rank 0 says why, once
    return ckpt


def run(args: argparse.Namespace) -> int:
    from musictui import distributed
    from musictui.model import resolve_device

    ranks = distributed.Ranks.from_env()
    if args.comet and ranks.is_main:
        from musictui.comet import require

        require()  # before any work: a missing extra is one line, not a failure at the end
    device = resolve_device(args.device)
    if not ranks.distributed:
        return _train(args, ranks, device)
    device = distributed.join(ranks, device)
    try:
        return _train(args, ranks, device)
    finally:
        distributed.leave()


def _train(args: argparse.Namespace, ranks, device) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    trainer = build_trainer(args, device, ranks)
    cfg = trainer.config
    console = Console(quiet=not ranks.is_main)  # under torchrun only rank 0 speaks
    if trainer.step >= cfg.steps:
        console.print(f"Already at step {trainer.step} of {cfg.steps}: nothing to do (raise --steps to go on).")
        return 0
    console.print(
        f"Training on {len(trainer.corpus.train_tunes)} tunes ({len(trainer.train_ids):,} characters, "
        f"{len(trainer.corpus.val_tunes)} held out) from {trainer.corpus.source}; "
        f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters; on {_where(device, ranks)}; "
        f"checkpoints in {args.checkpoint_dir}/" + (f"; resuming at step {trainer.step}" if trainer.step else ""))
    comet = _start_comet(args, trainer, ranks, device) if args.comet and ranks.is_main else None
    if comet is not None:
        console.print(comet.where)

    stop = threading.Event()
    _stop_on_first_ctrl_c(stop)
    columns = (
        TextColumn("step {task.completed}/{task.total}"), BarColumn(),
        TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[speed]} chars/s"),
        TimeRemainingColumn(),
    )
    last_checkpoint = None
    try:
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
                if comet is not None:
                    comet.log_step(m)
                    if m.val_loss is not None:
                        comet.log_text(trainer.sample_text(), step=m.step)
        if trainer.step < cfg.steps:  # stopped (here, or on another rank: all ranks stop together)
            path = trainer.save()
            console.print(f"Stopped at step {trainer.step}: saved {path}. Resume with `musictui train --resume"
                          f"{'' if args.checkpoint_dir == Path('checkpoints') else f' --checkpoint-dir {args.checkpoint_dir}'}`.")
            return 130
    finally:
        if comet is not None:
            archive = comet.end()
            if archive is not None:
                console.print(f"Comet: experiment archived in {archive} (send it with `comet upload {archive}`)")
    console.print(f"Done: step {trainer.step}, best validation loss "
                  f"{trainer.best_val_loss if trainer.best_val_loss is None else round(trainer.best_val_loss, 4)}; "
                  f"saved {last_checkpoint}")
    return 0


def _where(device, ranks) -> str:
    return f"{device.type}" + (f", {ranks.world_size} processes (torchrun)" if ranks.distributed else "")


def _start_comet(args: argparse.Namespace, trainer, ranks, device):
    from musictui.comet import start

    comet = start(args.checkpoint_dir)
    comet.log_parameters({
        **trainer.config.to_dict(), "corpus": str(trainer.corpus.source), "train_tunes": len(trainer.corpus.train_tunes),
        "parameters": sum(p.numel() for p in trainer.model.parameters()), "device": device.type,
        "world_size": ranks.world_size, "resumed_at_step": trainer.step,
    })
    return comet


def _stop_on_first_ctrl_c(stop: threading.Event) -> None:
    """The first Ctrl+C finishes the current step, then saves; a second one stops at once.

    Under torchrun the workers do not get the terminal's Ctrl+C: torchrun sends each one SIGINT
    (once), then waits 30 s before killing them, which is time enough to finish a step and save.
    """
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
    signal.signal(signal.SIGINT, handler)
