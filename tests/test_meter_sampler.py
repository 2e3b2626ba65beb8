"""The meter-aware switch in the real sampler, on a tiny trained model (issue 8)."""

import shutil

import pytest
import torch

from musictui.notation.form import FormPlan
from musictui.notation.replay import wrong_bars
from musictui.sample import SampleSettings, Sampler, extract_tunes

needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi not installed")

PROMPTS = ["X:1\nT:t\nM:6/8\nL:1/8\nK:D\n", "X:1\nT:t\nM:C|\nL:1/8\nK:G\n",
           "X:1\nT:t\nM:3/4\nL:1/8\nK:Ador\n", "X:1\n"]


@pytest.fixture(scope="module")
def sampler(tiny_checkpoint):
    return Sampler.from_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="module")
def masked_tunes(sampler):
    """One tune per seed with the switch on (the text cut at the tune's end)."""
    out = []
    for seed in range(24):
        prompt = PROMPTS[seed % len(PROMPTS)]
        text = sampler.generate(prompt, SampleSettings(meter_aware=True, seed=seed, tunes=1,
                                                       max_length=700))
        tunes, unfinished = extract_tunes(text)
        out.append(tunes[0] if tunes else unfinished)
    return out


def test_masked_sampler_writes_no_wrong_bar(masked_tunes):
    measured = 0
    for tune in masked_tunes:
        verdicts = wrong_bars(tune + "\n")
        # None: a field the model wrote took the meter away; no K: line, no body
        if verdicts is not None and "\nK:" in tune:
            measured += 1
            assert verdicts == [], tune
    assert measured >= len(masked_tunes) // 2


@needs_abc2midi
def test_abc2midi_finds_no_wrong_bar_in_masked_tunes(masked_tunes):
    from musictui.audio import check_abc

    for tune in masked_tunes:
        if wrong_bars(tune + "\n") is None:
            continue
        report = check_abc(tune + "\n")
        assert report.bars_ok, (tune, report.bar_warnings)


def _plain_sample(sampler, prompt, seed, length):
    """The plain sampler written out by hand: prime, then choose and step, no constraint anywhere."""
    settings = SampleSettings(seed=seed, meter_aware=False)
    generator = torch.Generator().manual_seed(seed)
    logits, h, c = sampler.prime(torch.from_numpy(sampler.vocab.encode(prompt)).unsqueeze(0))
    out = []
    for _ in range(length):
        idx = Sampler.choose(logits, settings, generator)
        out.append(sampler.vocab.chars[int(idx[0])])
        logits, h, c = sampler.step(idx, h, c)
    return prompt + "".join(out)


def test_switch_off_reproduces_the_plain_sampler(sampler):
    for seed in range(3):
        off = sampler.generate("X:1\n", SampleSettings(seed=seed, max_length=300, tunes=None, meter_aware=False))
        assert off == _plain_sample(sampler, "X:1\n", seed, 300)
    # The switch is on by default, and once a header is complete it changes what is sampled.
    header = "X:1\nT:A\nM:6/8\nL:1/8\nK:D\n"
    assert any(sampler.generate(header, SampleSettings(seed=seed, max_length=300, tunes=None))
               != _plain_sample(sampler, header, seed, 300) for seed in range(3))


@pytest.mark.parametrize("form", [None, FormPlan()], ids=["free", "plan"])
def test_switch_on_changes_what_a_plain_sample_gets_wrong(sampler, form):
    """The switch does something: over the same seeds and header the plain sampler writes
    wrong bars and the meter-aware one (free form or the plan) writes none."""
    prompt = PROMPTS[0]
    plain_wrong = 0
    for seed in range(6):
        text = sampler.generate(prompt, SampleSettings(seed=seed, tunes=1, max_length=500, meter_aware=False))
        plain_wrong += bool(wrong_bars(text + "\n"))
        masked = sampler.generate(prompt, SampleSettings(seed=seed, tunes=1, max_length=1500, form=form))
        tunes, _ = extract_tunes(masked)
        assert tunes and wrong_bars(tunes[0] + "\n") == [], masked
    assert plain_wrong > 0
