"""Checkpoints: self-contained, safe to load from anywhere, and never half-written.

One `.safetensors` file holds the tensors (weights, optimizer state, torch's random state) and,
in its header's metadata, one JSON document with everything else: vocabulary, config, step, loss
history, best validation loss, numpy's random state. There is no pickle anywhere, so loading a
checkpoint someone downloaded can never run code.

Saving writes a temporary file beside the target, flushes and fsyncs it, then renames it over the
target: a crash or a kill mid-save leaves the previous checkpoint whole.
"""
from __future__ import annotations

import copy
import errno
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from musictui.checkpoint_meta import FORMAT, parse_meta
from musictui.data import Vocabulary
from musictui.errors import UserError
from musictui.outputs import remove_temp, temp_name
from musictui.model import CharLSTM, Config
from musictui.runs import list_checkpoints, newest_checkpoint, resolve_named  # noqa: F401 (one policy, in runs; callers import them here too)



class CheckpointNotSaved(UserError):
    """Writing a checkpoint failed (a full disk, no permission): the previous one is untouched."""

SUFFIX = ".safetensors"


@dataclass
class Checkpoint:
    """What a checkpoint holds. `optimizer_state` and the random states are absent from a
    checkpoint made for sharing (`musictui export`-style), which can generate but not resume."""

    config: Config
    vocab: Vocabulary
    model_state: dict[str, torch.Tensor]
    step: int = 0
    train_losses: list[float] = field(default_factory=list)   # one per step
    val_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    best_val_loss: float | None = None
    optimizer_state: dict | None = None
    torch_rng: torch.Tensor | None = None
    numpy_rng: dict | None = None
    extra: dict = field(default_factory=dict)  # free-form notes (corpus, wall time...)
    path: Path | None = None

    def build_model(self, device: torch.device | str = "cpu") -> CharLSTM:
        model = CharLSTM.from_config(len(self.vocab), self.config)
        state = {k: v.float() for k, v in self.model_state.items()}  # fp16 storage is fine to load
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise UserError(f"{self._name()}: its weights do not fit its own settings ({first})") from None
        return model.to(device).eval()

    def _name(self) -> str:
        return str(self.path) if self.path else "checkpoint"


def save_checkpoint(ckpt: Checkpoint, path: Path, half: bool = False) -> Path:
    """Write `ckpt` to `path` atomically. `half` stores the weights as float16 (half the size)."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for name, value in ckpt.model_state.items():
        value = value.detach().cpu()
        tensors[f"model.{name}"] = (value.half() if half and value.is_floating_point() else value).contiguous()
    meta = {
        "format": FORMAT,
        "config": ckpt.config.to_dict(),
        "vocab": ckpt.vocab.chars,
        "step": ckpt.step,
        "train_losses": ckpt.train_losses,
        "val_losses": ckpt.val_losses,
        "best_val_loss": ckpt.best_val_loss,
        "numpy_rng": ckpt.numpy_rng,
        "extra": ckpt.extra,
    }
    if ckpt.optimizer_state is not None:
        state_tensors, state_meta = _flatten_optimizer(ckpt.optimizer_state)
        tensors.update(state_tensors)
        meta["optimizer"] = state_meta
    if ckpt.torch_rng is not None:
        tensors["rng.torch"] = ckpt.torch_rng.cpu()
    payload = safetensors_bytes(tensors, metadata={"musictui": json.dumps(meta)})

    # PID and a random part: two saves in one process (the app's `c`, then `q`) never share a file.
    # run_folder.remove_stale_temp_files reads the PID to tell a dead writer's leftovers.
    # temp_name shortens the part from path.name, so a 250-byte target still has a temporary.
    tmp = path.with_name(temp_name(path.name, f".tmp-{os.getpid()}-{secrets.token_hex(4)}"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # in the try: a file in its place is said below
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new, never half
    except OSError as error:
        if path.is_dir():
            raise  # cli says which path is a folder
        raise CheckpointNotSaved(f"could not write {path} ({error.strerror or error}): step {ckpt.step} was not "
                                 f"saved; {_what_to_do(path, error)}") from None
    finally:
        remove_temp(tmp)  # not unlink(missing_ok=True): on a read-only disk that hid CheckpointNotSaved
    _fsync_dir(path.parent)
    return path


def _what_to_do(path: Path, error: OSError) -> str:
    """The fix for a failed save, by its cause: space, permission, or a file where the folder was."""
    if error.errno in (errno.ENOTDIR, errno.EEXIST) or path.parent.exists() and not path.parent.is_dir():
        return f"{path.parent} is not a folder now (move the file there away, or choose another folder)"
    kept = "the checkpoints already there are whole"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{kept} (make the folder writable, or choose another folder)"
    return f"{kept} (free some space, or choose another folder)"


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old name back)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_optimizer_state(state_dict: dict) -> dict:
    """Adam's state_dict with its tensors copied to the CPU: the live ones change at the next step."""
    return {
        "state": {key: {name: value.detach().cpu().clone() if torch.is_tensor(value) else value
                        for name, value in entries.items()}
                  for key, entries in state_dict["state"].items()},
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Adam's state_dict as named tensors plus a JSON part (param_groups, scalar entries)."""
    tensors, scalars = {}, {}
    for param_id, entries in state_dict["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optim.{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, param_id, key = name.split(".", 2)
        state.setdefault(int(param_id), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Read a checkpoint, or raise a UserError naming the file and what is wrong with it."""
    path = resolve_named(Path(path))  # the one "which checkpoint" policy (musictui.runs)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"{path} is not a readable checkpoint (truncated or not safetensors: {error})") from None
    meta = parse_meta(path, header)  # the same checks a command makes before it imports torch
    try:
        optimizer_state = (_unflatten_optimizer({k: v for k, v in tensors.items() if k.startswith("optim.")},
                                                meta.optimizer) if meta.optimizer is not None else None)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(f"{path}: its metadata is damaged ({error})") from None

    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ckpt = Checkpoint(config=meta.config, vocab=meta.vocab, model_state=model_state, optimizer_state=optimizer_state,
                      torch_rng=tensors.get("rng.torch"), path=path, **meta.fields)
    _check_shapes(ckpt)
    _check_finite(path, tensors)
    return ckpt


def _check_finite(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """A checkpoint with NaN or infinite weights (a diverged run) is refused, never silently used."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{path}: {name} holds NaN or infinite values (the run diverged): resume from "
                            "an earlier checkpoint, or train again with a lower --learning-rate")


def _check_shapes(ckpt: Checkpoint) -> None:
    """The weights must match the checkpoint's own vocabulary and config, before anyone uses them."""
    for name, shape in CharLSTM.weight_shapes(len(ckpt.vocab), ckpt.config).items():
        got = ckpt.model_state.get(name)
        if got is None:
            raise UserError(f"{ckpt.path}: the weights lack {name}")
        if tuple(got.shape) != shape:
            raise UserError(
                f"{ckpt.path}: {name} has shape {tuple(got.shape)}, but its vocabulary ({len(ckpt.vocab)} "
                f"characters) and settings need {shape}"
            )


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}{SUFFIX}"
