"""`musictui train`: train the LSTM with a live progress bar; Ctrl+C saves and exits.

The same command runs unchanged under torchrun (`torchrun --nproc-per-node=2 -m musictui train ...`):
every process trains, only rank 0 prints, logs and writes checkpoints.
"""
from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from musictui.commands.common import (DEFAULT_CHECKPOINT_DIR, add_corpus_argument, add_device_argument,
                                     check_corpus_argument, finite_number, positive_float, positive_int, seed)
from musictui.config import BATCHINGS, LR_SCHEDULES, PRESETS, TRAIN_PRECISIONS
from musictui.errors import UserError

def one_of(names: tuple[str, ...]):
    """An argparse type that takes exactly one of `names` (a Config field's, from musictui.config)."""
    def check(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"choose {' or '.join(names)}, not {text!r}")
        return text
    return check


def whole_number(text: str) -> int:
    try:
        return 0 if text.strip() == "0" else positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or a positive whole number, not {text}") from None


def probability(text: str) -> float:
    value = finite_number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, not {text}")
    return value


def non_negative(text: str) -> float:
    value = finite_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or more, not {text}")
    return value


DEFAULT_PRESET = "small"

# Flags that override one Config field each: flag -> (field, type).
OVERRIDES = {
    "--embedding-dim": ("embedding_dim", positive_int),
    "--hidden-size": ("hidden_size", positive_int),
    "--batch-size": ("batch_size", positive_int),
    "--seq-length": ("seq_length", positive_int),
    "--learning-rate": ("learning_rate", positive_float),
    "--lr-schedule": ("lr_schedule", one_of(LR_SCHEDULES)),
    "--dropout": ("dropout", probability),
    "--grad-clip": ("grad_clip", non_negative),
    "--batching": ("batching", one_of(BATCHINGS)),
    "--warmup": ("warmup_steps", whole_number),
    "--precision": ("precision", one_of(TRAIN_PRECISIONS)),
    "--eval-every": ("eval_every", positive_int),
    "--checkpoint-every": ("checkpoint_every", positive_int),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS),  # None: small, told apart so --resume can say it ignores one
                        help="model size and recipe: lab (the MIT lab's), small (for a 2-core CPU, the default), "
                             "tiny (seconds)")
    parser.add_argument("--steps", type=positive_int, help="steps in the whole run, counted across resumes")
    add_corpus_argument(parser)
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR, metavar="DIR",
                        help="where checkpoints go (default: ./checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in DIR")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="start a new run from this checkpoint's weights (its sizes; the vocabulary may grow)")
    parser.add_argument("--seed", type=seed, help="seed for weights, batch order and dropout (default 0)")
    add_device_argument(parser)
    parser.add_argument("--comet", action="store_true",
                        help="log the run to Comet ML (online with COMET_API_KEY, else an offline archive in DIR/comet/)")
    for flag, (field, kind) in OVERRIDES.items():
        parser.add_argument(flag, type=kind, dest=field, metavar=field.split("_")[-1].upper())


def build_trainer(args: argparse.Namespace, device=None, ranks=None):
    """The Trainer the arguments ask for (musictui.train.build_trainer, which the app uses too)."""
    from musictui import train
    from musictui.distributed import SINGLE
    from musictui.model import resolve_device

    ranks = ranks or SINGLE
    device = device if device is not None else resolve_device(args.device)
    overrides = {field: getattr(args, field, None) for field, _ in OVERRIDES.values()}
    overrides.update(steps=args.steps, seed=args.seed)
    init = None
    if getattr(args, "init_from", None) is not None and not args.resume:  # --resume continues its own weights
        from musictui.checkpoint import load_checkpoint
        from musictui.warm_start import check_sizes

        init = load_checkpoint(args.init_from)
        config = PRESETS[args.preset or DEFAULT_PRESET].override(**overrides)
        check_sizes(init, config.embedding_dim, config.hidden_size)  # before building a model of the wrong size
    trainer = train.build_trainer(args.checkpoint_dir, args.corpus, args.preset or DEFAULT_PRESET, overrides,
                                  resume=args.resume, device=device, ranks=ranks)
    if args.resume and args.preset is not None:
        trainer.ignored = ["preset", *trainer.ignored]
    if trainer.ignored and ranks.is_main:
        print(f"musictui: resuming keeps the run's own settings; ignoring {', '.join(trainer.ignored)}")
    if init is not None:
        from musictui.warm_start import warm_start

        warm_start(trainer.model, init, trainer.corpus.vocab)
    return trainer


def refuse_early(args: argparse.Namespace) -> None:
    """The mistakes that can be told before torch loads (1.5 s), refused at once: a --corpus that
    is missing, endless or too big; --resume with no checkpoint to resume, or a damaged one; an
    --init-from that is not a checkpoint. Under torchrun the other ranks' folders may be empty (only
    rank 0 writes), so there rank 0 alone decides, later."""
    import os

    from musictui.checkpoint_meta import read_meta
    from musictui.run_folder import RunFolder
    from musictui.runs import newest_checkpoint

    check_corpus_argument(args.corpus)
    if args.resume and os.environ.get("WORLD_SIZE", "1") == "1":
        # Another trainer in the folder is said first, as build_trainer would; it takes this lock over.
        folder = RunFolder(args.checkpoint_dir).acquire()
        try:
            read_meta(newest_checkpoint(args.checkpoint_dir))
        except UserError:
            folder.abandon()
            raise
    if getattr(args, "init_from", None) is not None and not args.resume:
        read_meta(args.init_from)


def run(args: argparse.Namespace) -> int:
    refuse_early(args)
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

    trainer = build_trainer(args, device, ranks)
    try:
        return _train_with(trainer, args, ranks, device, Console(quiet=not ranks.is_main))
    finally:
        trainer.close()


def _train_with(trainer, args: argparse.Namespace, ranks, device, console) -> int:
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from musictui.stopping import StopOnSignals

    cfg = trainer.config  # under torchrun only rank 0's console speaks
    where_dir = escape(str(args.checkpoint_dir))  # a folder called [red] is a name, not markup
    if trainer.step >= cfg.steps:
        console.print(f"Already at step {trainer.step} of {cfg.steps}: nothing to do (raise --steps to go on).")
        return 0
    console.print(
        f"Training on {len(trainer.corpus.train_tunes)} tunes ({len(trainer.train_ids):,} characters, "
        f"{len(trainer.corpus.val_tunes)} held out) from {escape(str(trainer.corpus.source))}; "
        f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters; on {_where(device, ranks)}; "
        f"checkpoints in {where_dir}/" + (f"; resuming at step {trainer.step}" if trainer.step else ""))
    comet = _start_comet(args, trainer, ranks, device) if args.comet and ranks.is_main else None
    if comet is not None:
        console.print(escape(comet.where))

    # Ctrl+C, SIGTERM and SIGHUP (the terminal closed) all finish the step, save and exit 130.
    # Under torchrun the workers do not get the terminal's Ctrl+C: torchrun sends each one SIGINT
    # (or passes on its SIGTERM), then waits 30 s before killing them: time to finish and save.
    signals = StopOnSignals(threading.Event()).install()
    stop = signals.stop
    columns = (
        TextColumn("step {task.completed}/{task.total}"), BarColumn(),
        TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[speed]} chars/s"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("train", total=cfg.steps, completed=trainer.step, loss="-", val="-", speed="-")
            for m in trainer.run(stop):
                val = f"{m.val_loss:.3f}" if m.val_loss is not None else progress.tasks[0].fields["val"]
                progress.update(task, completed=m.step, loss=f"{m.loss:.3f}", val=val, speed=f"{m.chars_per_s:,.0f}")
                if not console.is_terminal and (m.val_loss is not None or m.checkpoint):
                    # In a log file (nohup, CI) the bar is not drawn: leave a line at each evaluation.
                    progress.console.print(
                        f"step {m.step}/{m.total_steps} loss {m.loss:.3f} val {val} {m.chars_per_s:,.0f} chars/s "
                        f"elapsed {m.elapsed_s:,.0f}s left {m.eta_s:,.0f}s" + (f" saved {escape(str(m.checkpoint))}" if m.checkpoint else ""))
                if comet is not None:
                    comet.log_step(m)
                    if m.val_loss is not None:
                        comet.log_text(trainer.sample_text(), step=m.step)
        if trainer.step < cfg.steps:  # stopped (here, or on another rank: all ranks stop together)
            path = trainer.save()
            why = f" ({signals.received})" if signals.received not in (None, "SIGINT") else ""
            console.print(f"Stopped{why} at step {trainer.step}: saved {escape(str(path))}. Resume with `musictui "
                          f"train --resume{'' if args.checkpoint_dir == Path('checkpoints') else f' --checkpoint-dir {where_dir}'}`.")
            return 130
    except KeyboardInterrupt:  # a second signal: the user wants out now, without the save
        print(f"musictui: stopped at once by a second signal at step {trainer.step:,}: {trainer.unsaved()}",
              file=sys.stderr)
        return 130
    except UserError as error:
        raise stopped_by(error, trainer) from None
    finally:
        signals.restore()
        if comet is not None:
            archive = comet.end()
            if archive is not None:
                archive = escape(str(archive))
                console.print(f"Comet: experiment archived in {archive} (send it with `comet upload {archive}`)")
    console.print(f"Done: step {trainer.step}, best validation loss "
                  f"{trainer.best_val_loss if trainer.best_val_loss is None else round(trainer.best_val_loss, 4)}; "
                  f"saved {escape(str(trainer.saved_path))}")
    return 0


def stopped_by(error: UserError, trainer) -> UserError:
    """The error that ended a run mid-way (a full disk, a folder gone), with what became of the
    steps trained since the last checkpoint: saved now if that can be done, else named as lost."""
    from musictui.checkpoint import CheckpointNotSaved
    from musictui.run_folder import FolderTakenOver
    from musictui.train import TrainingDiverged

    if isinstance(error, TrainingDiverged):
        return error  # it names the last good checkpoint; its weights are not worth saving
    # Not on a failed save (it would fail alike), nor into a folder another trainer holds; nor
    # under torchrun, where one rank's save would wait for the others at a barrier.
    if (trainer.saved_step != trainer.step and not trainer.ranks.distributed
            and not isinstance(error, (CheckpointNotSaved, FolderTakenOver))):
        try:
            trainer.save()
        except (OSError, UserError):
            pass
    return UserError(f"{error}. Training stopped at step {trainer.step:,}: {trainer.unsaved()}")


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
