"""What the sampler may write next: the constraints, composed in one place.

Each constraint has the same interface: `reset()`, `feed(ch)` with every character written
(the prompt's too), and `allowed_mask()`, a BoolTensor over the vocabulary or None for "no
opinion". `build_constraint` is the one place that decides which run together:
  * header (header.py): a tune states M: and L: before K:, and X: has a number;
  * meter (meter.py): every bar the length its meter asks, as abc2midi counts it;
  * form (form.py): the meter, plus the plan of parts and bars and the tonic ending.
"""
from __future__ import annotations

import torch

from musictui.notation.constraints.form import FormConstraint
from musictui.notation.constraints.header import HeaderConstraint
from musictui.notation.constraints.meter import MeterConstraint
from musictui.notation.form import FormPlan

__all__ = ["AllOf", "FormConstraint", "FormPlan", "HeaderConstraint", "MeterConstraint", "build_constraint"]


class AllOf:
    """Several constraints at once: a character must be allowed by each that has an opinion."""

    def __init__(self, *constraints):
        self.constraints = constraints
        # masks are cached objects, so per mask (by id, the masks kept alive with it) the
        # combination and the additive bias are built once, not once per character
        self._combined: dict[tuple[int, ...], tuple] = {}
        self._biases: dict[tuple[int, str], tuple] = {}

    def reset(self) -> None:
        for c in self.constraints:
            c.reset()

    def feed(self, ch: str) -> None:
        for c in self.constraints:
            c.feed(ch)

    def allowed_mask(self) -> torch.Tensor | None:
        masks = [m for m in (c.allowed_mask() for c in self.constraints) if m is not None]
        if len(masks) < 2:
            return masks[0] if masks else None
        key = tuple(map(id, masks))
        hit = self._combined.get(key)
        if hit is None:
            combined = masks[0]
            for m in masks[1:]:
                combined = combined & m
            hit = self._combined[key] = (masks, combined)
        return hit[1]

    def allowed_bias(self, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """The mask as a (1, vocab) tensor to add to the logits: 0 where allowed, -inf elsewhere.
        None for no opinion, and where nothing is allowed (better an imperfect bar than no tune)."""
        mask = self.allowed_mask()
        if mask is None:
            return None
        key = (id(mask), str(device))
        hit = self._biases.get(key)
        if hit is None:
            bias = None
            if bool(mask.any()):
                bias = torch.zeros(1, mask.numel()).masked_fill(~mask, float("-inf")).to(device)
            hit = self._biases[key] = (mask, bias)
        return hit[1]


def build_constraint(vocab: list[str], prompt: str = "", form: FormPlan | None = None) -> AllOf:
    """The sampler's constraint, already fed `prompt`: header and form, or with `form=None` header
    and meter (free form, every bar still the right length)."""
    body = FormConstraint(vocab, form) if form is not None else MeterConstraint(vocab)
    constraint = AllOf(HeaderConstraint(vocab), body)
    constraint.reset()
    for ch in prompt:
        constraint.feed(ch)
    return constraint
