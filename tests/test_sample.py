import os
import re
import select
import subprocess
import sys
import time

import pytest
import torch

from musictui.checkpoint import load_checkpoint
from musictui.data import split_tunes
from musictui.errors import UserError
from musictui.sample import SampleSettings, Sampler, TuneCounter, build_prompt, extract_tunes


@pytest.fixture(scope="module")
def sampler(tiny_checkpoint):
    return Sampler.from_checkpoint(tiny_checkpoint)


def test_same_seed_same_characters_other_seed_others(sampler):
    settings = SampleSettings(seed=7, max_length=300, tunes=None)
    a = sampler.generate("X:1\n", settings)
    assert a == sampler.generate("X:1\n", settings)
    assert a != sampler.generate("X:1\n", SampleSettings(seed=8, max_length=300, tunes=None))
    assert len(a) == len("X:1\n") + 300


def test_fast_step_agrees_with_the_lstm_module_over_a_long_prompt(corpus):
    """The fast path against the plain nn.LSTM computation, at the lab's size: fp32, within 1e-4."""
    from musictui.model import PRESETS, CharLSTM

    torch.manual_seed(0)
    model = CharLSTM.from_config(len(corpus.vocab), PRESETS["lab"]).eval()
    sampler = Sampler(model, corpus.vocab, precision="fp32")
    ids = torch.from_numpy(corpus.vocab.encode(corpus.tunes[0] * 2)[:400]).unsqueeze(0)
    with torch.no_grad():
        reference = torch.softmax(model(ids)[0][0], -1)
        logits, h, c = sampler.prime(ids[:, :1])
        fast = [torch.softmax(logits[0], -1)]
        for t in range(1, ids.size(1)):
            logits, h, c = sampler.step(ids[:, t], h, c)
            fast.append(torch.softmax(logits[0], -1))
    assert (torch.stack(fast) - reference).abs().max() < 1e-4


def test_int8_recurrent_weights_keep_the_distribution_faithful(corpus):
    """Reduced precision only where it changes nothing a listener could notice: on the shipped
    model, over held-out tunes, the int8 path stays within KL 1e-3 nats/char of fp32."""
    from musictui.commands.common import SHIPPED_DIR
    from musictui.checkpoint import list_checkpoints

    path = list_checkpoints(SHIPPED_DIR)[-1]
    fp32 = Sampler.from_checkpoint(path, precision="fp32")
    int8 = Sampler.from_checkpoint(path, precision="int8")
    assert int8.precision == "int8"
    ids = torch.from_numpy(corpus.vocab.encode("\n\n".join(corpus.val_tunes[:4])))
    logprobs = {}
    with torch.no_grad():
        for name, sampler in (("fp32", fp32), ("int8", int8)):
            logits, h, c = sampler.prime(ids[None, :1])
            rows = [logits[0]]
            for t in range(1, len(ids)):
                logits, h, c = sampler.step(ids[t : t + 1], h, c)
                rows.append(logits[0])
            logprobs[name] = torch.log_softmax(torch.stack(rows), -1)
    p = logprobs["fp32"].exp()
    kl = (p * (logprobs["fp32"] - logprobs["int8"])).sum(-1)
    assert kl.mean() < 1e-3 and kl.max() < 0.05
    nll = {k: -v[:-1].gather(1, ids[1:, None]).mean().item() for k, v in logprobs.items()}
    assert abs(nll["int8"] - nll["fp32"]) < 0.005


def test_prompt_of_any_length_primes_the_state(tiny_checkpoint, corpus):
    sampler = Sampler.from_checkpoint(tiny_checkpoint, precision="fp32")  # exact, to compare at 1e-5
    prompt = corpus.tunes[3][:250]
    text = sampler.generate(prompt, SampleSettings(seed=1, max_length=50, tunes=None))
    assert text.startswith(prompt) and len(text) == len(prompt) + 50 and len(prompt) > 200
    # priming in one call = feeding the prompt one step at a time
    ids = torch.from_numpy(corpus.vocab.encode(prompt)).unsqueeze(0)
    logits_once, _, _ = sampler.prime(ids)
    logits, h, c = sampler.prime(ids[:, :1])
    for t in range(1, ids.size(1)):
        logits, h, c = sampler.step(ids[:, t], h, c)
    assert torch.allclose(logits, logits_once, atol=1e-5)


def test_low_temperature_converges_on_the_likeliest_character(sampler):
    ids = torch.from_numpy(sampler.vocab.encode("X:1\nT:")).unsqueeze(0)
    logits, _, _ = sampler.prime(ids)
    likeliest = sampler.vocab.chars[int(logits.argmax())]
    firsts = {next(sampler.stream("X:1\nT:", SampleSettings(temperature=0.01, seed=s))) for s in range(20)}
    assert firsts == {likeliest}


def test_top_k_and_top_p_restrict_the_support(sampler):
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    gen = torch.Generator().manual_seed(0)
    top2 = {int(Sampler.choose(logits, SampleSettings(top_k=2), gen)) for _ in range(300)}
    assert top2 == {0, 1}
    probs = torch.softmax(logits, -1)[0]  # 0.64, 0.24, 0.09, ...
    top_p = {int(Sampler.choose(logits, SampleSettings(top_p=0.7), gen)) for _ in range(300)}
    assert top_p == {0, 1} and probs[0] < 0.7 < probs[0] + probs[1]
    assert {int(Sampler.choose(logits, SampleSettings(top_p=0.5), gen)) for _ in range(100)} == {0}
    wide = {int(Sampler.choose(logits, SampleSettings(top_p=1.0), gen)) for _ in range(600)}
    assert len(wide) >= 4


def test_streaming_yields_before_generation_ends(tiny_checkpoint):
    """The first character arrives before the second is even computed: count the LSTM steps."""
    sampler = Sampler.from_checkpoint(tiny_checkpoint)
    steps = []
    real_step = sampler.step
    sampler.step = lambda *a: steps.append(1) or real_step(*a)  # counts, computes as before
    stream = sampler.stream("X:1\n", SampleSettings(seed=0, max_length=1000, tunes=None))
    first = next(stream)
    assert isinstance(first, str) and len(first) == 1
    assert len(steps) == 0  # no step after the prompt yet: nothing was computed ahead
    rest = list(stream)
    assert len(rest) == 999 and len(steps) >= 999


def test_stops_after_n_complete_tunes(sampler):
    text = sampler.generate("X:1\n", SampleSettings(seed=3, max_length=20_000, tunes=2, temperature=0.8))
    tunes, unfinished = extract_tunes(text)
    assert len(tunes) == 2 and unfinished is None
    assert text.endswith("\n\n")


def test_length_caps_each_tune_so_tunes_n_gives_n():
    """--length is per tune (issue 12): three tunes of a short plan, each well under the cap,
    although together they run past it (the shipped model: the tiny one writes prose between tunes)."""
    from musictui.commands.common import find_checkpoint
    from musictui.notation.form import FormPlan, form_of

    sampler = Sampler.from_checkpoint(find_checkpoint(None))

    settings = SampleSettings(seed=5, max_length=250, tunes=3, form=FormPlan(1, 4))
    text = sampler.generate("X:1\nT:t\nM:4/4\nL:1/8\nK:D\n", settings)
    tunes, unfinished = extract_tunes(text)
    assert len(tunes) == 3 and unfinished is None and len(text) > 250
    assert form_of(tunes[0]).part_bars == (4,) and form_of(tunes[0]).ends_on_tonic


def test_extract_tunes_keeps_a_finished_tune_before_trailing_text():
    assert extract_tunes("X:1\nK:C\nabc|\n\nT:junk") == (["X:1\nK:C\nabc|"], None)
    assert extract_tunes("X:1\nK:C\nabc|\n") == ([], "X:1\nK:C\nabc|")


def test_tune_counter_matches_split_tunes():
    text = "junk\n\nX:1\nK:C\nCDE|\n\n\nX:2\nK:D\nDEF|\nX:3\nK:G\nG|\n\nX:4\nK:A"
    counter = TuneCounter()
    for ch in text:
        counter.feed(ch)
    assert counter.complete == 3
    tunes, unfinished = extract_tunes(text)
    assert [t.split("\n")[0] for t in tunes] == ["X:1", "X:2", "X:3"] and unfinished.startswith("X:4")
    assert len(split_tunes(text)) == 4


def test_build_prompt_from_header_fields():
    assert build_prompt(title="Morning", meter="6/8", key="D") == "X:1\nT:Morning\nM:6/8\nK:D\n"
    assert build_prompt(meter="3/4", unit="1/8") == "X:1\nM:3/4\nL:1/8\n"
    assert build_prompt(prefix="X:5\nT:x") == "X:5\nT:x"
    assert build_prompt() == "X:1\n"
    assert build_prompt(tune_type="jig", key="D") == "X:1\nR:jig\nM:6/8\nK:D\n"
    with pytest.raises(UserError):
        build_prompt(title="a", prefix="X")


@pytest.mark.parametrize("fields, message", [
    (dict(unit="0"), "unit length '0' is not one abc2midi reads: give a fraction such as 1/8"),
    (dict(unit="1/0"), "unit length '1/0'"),
    (dict(meter="garbage"), "meter 'garbage' is not one abc2midi reads: give a fraction such as 4/4"),
    (dict(meter="0/4"), "meter '0/4'"),
    (dict(key="H"), "key 'H' is not one abc2midi reads: give a note A-G"),
    (dict(key="D Dorain"), "key 'D Dorain'"),
    (dict(prefix="X:1\nM:4/4\nL:0\nK:C\n"), "unit length '0'"),
    (dict(tune_type="tango"), "unknown tune type 'tango': use one of reel, jig"),
])
def test_bad_header_fields_are_refused_naming_the_accepted_forms(fields, message):
    with pytest.raises(UserError, match=re.escape(message)):
        build_prompt(**fields)


def test_good_header_fields_pass():
    for meter in ("4/4", "C", "C|", "2+3/8", "none"):
        build_prompt(meter=meter)
    for key in ("G", "D Major", "Ador", "F#m", "Bb Dorian", "E minor", "none"):
        build_prompt(key=key)


@pytest.mark.parametrize("settings, message", [
    (SampleSettings(temperature=0), "temperature must be between 0.01 and 10"),
    (SampleSettings(temperature=-1), "temperature must be between 0.01 and 10"),
    (SampleSettings(temperature=float("inf")), "temperature must be between 0.01 and 10"),
    (SampleSettings(top_p=0), "top-p must be above 0 and at most 1"),
    (SampleSettings(top_p=1.5), "top-p must be above 0 and at most 1"),
    (SampleSettings(seed=-1), "seed must be a whole number from 0"),
])
def test_bad_settings(sampler, settings, message):
    with pytest.raises(UserError, match=message):
        next(sampler.stream("X", settings))


def test_unknown_prompt_characters_are_listed(sampler):
    with pytest.raises(UserError, match=r"not in the model's vocabulary: '€'.*it knows"):
        next(sampler.stream("X:1\nT:€", SampleSettings()))


def test_batched_generation(sampler):
    texts = sampler.generate_batch(6, "X:1\n", SampleSettings(seed=2, max_length=400, tunes=1))
    assert len(texts) == 6 and len(set(texts)) == 6
    assert all(t.startswith("X:1\n") for t in texts)


# -- the command ---------------------------------------------------------------------------

def musictui(*args, **kw):
    return subprocess.run([sys.executable, "-m", "musictui", *args], capture_output=True, text=True, timeout=120, **kw)


def test_generate_command_streams_and_saves(tiny_checkpoint, tmp_path):
    out_file = tmp_path / "tunes.abc"
    out = musictui("generate", "--checkpoint", str(tiny_checkpoint.parent), "--seed", "4", "--tunes", "2",
                   "--length", "5000", "--title", "Test", "--meter", "6/8", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("X:1\nT:Test\nM:6/8\n")
    saved = split_tunes(out_file.read_text())
    assert len(saved) == 2 and saved[0].startswith("X:1\nT:Test\nM:6/8")
    again = musictui("generate", "--checkpoint", str(tiny_checkpoint), "--seed", "4", "--tunes", "2",
                     "--length", "5000", "--title", "Test", "--meter", "6/8")
    assert again.stdout == out.stdout


def test_every_tune_of_generate_tunes_n_keeps_the_header_asked_for(tiny_checkpoint):
    """--tunes 3 --type jig: three jigs, X:1 to X:3, each sampled afresh from the header (one long
    stream gave a jig, then whatever the model wrote next); tune 2 of seed 4 is seed 5's tune 1."""
    args = ["generate", "--checkpoint", str(tiny_checkpoint), "--length", "5000", "--title", "Test", "--type", "jig"]
    three = musictui(*args, "--seed", "4", "--tunes", "3")
    assert three.returncode == 0, three.stderr
    tunes = split_tunes(three.stdout)
    assert [t.split("\n", 4)[:4] for t in tunes] == [[f"X:{i}", "T:Test", "R:jig", "M:6/8"] for i in (1, 2, 3)]
    five = musictui(*args, "--seed", "5")
    assert split_tunes(five.stdout)[0] == tunes[1].replace("X:2\n", "X:1\n", 1)


def test_generate_command_output_arrives_while_sampling(tiny_checkpoint):
    proc = subprocess.Popen([sys.executable, "-m", "musictui", "generate", "--checkpoint", str(tiny_checkpoint),
                             "--length", "200000", "--tunes", "100000", "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        first = b""
        deadline = time.monotonic() + 90
        while len(first) < 10 and time.monotonic() < deadline:  # never block on a silent child
            if select.select([proc.stdout], [], [], 5)[0]:
                chunk = os.read(proc.stdout.fileno(), 10 - len(first))
                if not chunk:
                    break
                first += chunk
        assert len(first) == 10
        assert proc.poll() is None  # still sampling: the first characters came long before the last
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("args, message", [
    # the command line's own limits (limits.py) answer these before the sampler does
    (["--temperature", "0"], "--temperature: must be between 0.01 and 10, not 0"),
    (["--top-p", "1.5"], "--top-p: must be above 0 and at most 1, not 1.5"),
    (["--prompt", "X€"], "not in the model's vocabulary"),
    (["--checkpoint", "/nonexistent/x.safetensors"], "checkpoint not found"),
    (["--unit", "0"], "unit length '0' is not one abc2midi reads"),
    (["--prompt", "X:1\nL:0\n"], "unit length '0' is not one abc2midi reads"),
    (["--meter", "garbage"], "meter 'garbage' is not one abc2midi reads"),
    (["--key", "H"], "key 'H' is not one abc2midi reads"),
    (["--parts", "0"], "--parts"),
])
def test_generate_bad_input_is_one_line(tiny_checkpoint, args, message):
    if "--checkpoint" not in args:
        args = [*args, "--checkpoint", str(tiny_checkpoint)]
    out = musictui("generate", *args)
    assert out.returncode in (1, 2)  # 2: argparse refused it
    assert message in out.stderr and "Traceback" not in out.stderr
    if out.returncode == 1:  # ours: one line of message (argparse's own refusals print usage first)
        assert [line for line in out.stderr.splitlines() if not line.startswith("%")] == [
            line for line in out.stderr.splitlines() if message in line], out.stderr


def test_generate_with_a_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    out = musictui("generate", "--checkpoint", str(bad))
    assert out.returncode == 1 and "not a readable checkpoint" in out.stderr and "Traceback" not in out.stderr


def test_a_tune_ended_by_the_next_x_line_gets_its_number_not_a_second_x():
    # A tune is complete at a blank line or at the next `X:` line: in the second case the model has
    # written "X:" already, and the next tune's prompt goes on from it.
    from musictui.data import Vocabulary
    from musictui.sample import SampleSettings, Sampler

    class Scripted(Sampler):
        def __init__(self, chars: str) -> None:
            self.vocab, self.texts = Vocabulary(chars), iter(["abc|\nX:", "def|\n\n"])

        def stream(self, prompt, settings):
            yield from next(self.texts)

    settings = SampleSettings(tunes=2, seed=1)
    text = "X:1\nK:C\n" + "".join(Scripted("X:12\nKCabcdef|").stream_tunes("X:1\nK:C\n", settings))
    assert text == "X:1\nK:C\nabc|\nX:2\nK:C\ndef|\n\n"
    # A model that never saw a 2 (a corpus of one tune) keeps X:1, rather than stop at tune 2.
    text = "X:1\nK:C\n" + "".join(Scripted("X:1\nKCabcdef|").stream_tunes("X:1\nK:C\n", settings))
    assert text == "X:1\nK:C\nabc|\nX:1\nK:C\ndef|\n\n"
