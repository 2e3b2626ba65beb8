"""Transposition augmentation (abc2abc) and the held-out guard that keeps held-out tunes, in any
key, out of training. Real abc2abc and abc2midi, small slices of the real corpora."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest

from musictui import corpora
from musictui.audio import _abc_to_midi
from musictui.corpora import HeldOutGuard, build_collection, load_named, title_key
from musictui.transpose import augment, semitones, shifts_for, transpose, tune_key


def midi_pitches(abc: str) -> list[int]:
    """The pitches abc2midi plays for `abc`, in order (note-ons of the first track with notes)."""
    with tempfile.TemporaryDirectory() as folder:
        report, midi = _abc_to_midi(abc, Path(folder), None, 10)
        assert report.ok and midi is not None, report.errors
        data = midi.read_bytes()
    pos, pitches = 14, []
    while pos < len(data) and not pitches:
        length = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        track, pos = data[pos + 8:pos + 8 + length], pos + 8 + length
        i, status = 0, 0
        while i < len(track):
            while track[i] & 0x80:  # delta time (variable length)
                i += 1
            i += 1
            if track[i] & 0x80:
                status, i = track[i], i + 1
            if status == 0xFF:
                size, i = 0, i + 1
                while True:
                    size, i = (size << 7) | (track[i] & 0x7F), i + 1
                    if not track[i - 1] & 0x80:
                        break
                i += size
            elif status in (0xF0, 0xF7):
                size = track[i]
                i += 1 + size
            else:
                if status & 0xF0 == 0x90 and track[i + 1] > 0:
                    pitches.append(track[i])
                i += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return pitches


@pytest.mark.parametrize("index", [5, 40])
def test_a_transposed_tune_plays_the_same_notes_shifted(corpus, index):
    tune = corpus.train_tunes[index]
    original = midi_pitches(tune)
    assert len(original) > 50
    for shift in shifts_for(tune, 2) + [-3]:
        moved = transpose(tune, shift)
        assert midi_pitches(moved) == [p + shift for p in original]


def test_transposed_tunes_keep_the_header_and_spell_keys_as_irish_abc_does(corpus):
    tune = corpus.train_tunes[5]  # Boys of Bluehill, K:D Major
    assert tune_key(tune) == ("D", "Major") and shifts_for(tune, 2) == [5, -5]  # to G and A
    moved = transpose(tune, 5)
    head, old = moved.split("\n")[:6], tune.split("\n")[:6]
    assert head[:5] == old[:5] and head[5] == "K:G Major"  # Z: id:... kept as irish.abc spells it
    assert "%" not in moved and all(line.endswith("!") for line in moved.split("\n")[6:])
    assert tune_key(transpose("X:1\nT:t\nM:6/8\nL:1/8\nK:E Minor\nEFG B2e|", 5)) == ("A", "Minor")


def test_keys_of_the_same_mode_the_shorter_way():
    assert semitones("D", "G") == 5 and semitones("D", "A") == -5 and semitones("E", "B") == -5
    assert semitones("F#", "E") == -2 and semitones("C", "F#") == 6
    assert shifts_for("X:1\nT:t\nM:C\nL:1/8\nK:A Dorian\nA|", 2) == [-5, 5]  # to E, to D
    assert shifts_for("X:1\nT:t\nM:C\nL:1/8\nK:C Lydian\nC|", 2) == []  # a mode irish.abc hardly uses


def test_augment_adds_other_keys_only(corpus):
    tunes = corpus.train_tunes[:6]
    moved = augment(tunes, keys=2)
    assert len(moved) == 12 and not set(moved) & set(tunes)
    assert {title_key(t) for t in moved} == {title_key(t) for t in tunes}


def test_a_held_out_tune_renamed_and_transposed_never_reaches_training(corpus, tmp_path, monkeypatch):
    """Plant held-out tunes in a collection, as themselves, renamed, and renamed in another key:
    none is kept; a training tune planted beside them is."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    held = corpus.val_tunes[:4]
    guard = HeldOutGuard(held)
    renamed = held[1].replace(held[1].split("\n")[1], "T:Something Else Entirely")
    planted = [held[0], renamed, transpose(renamed, 2), transpose(renamed, -5), corpus.train_tunes[5]]
    source = tmp_path / "planted.abc"
    source.write_text("\n\n".join(planted) + "\n", encoding="utf-8")
    built = build_collection("planted", [source], guard)
    assert built.dropped == {"a held-out tune's title": 1, "60 characters of a held-out tune's music": 3}
    assert len(built.tunes) == 1 and "Bluehill" in built.tunes[0]


def test_no_held_out_tune_in_any_key_in_folk_keys_training(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folk = load_named("folk-keys", limit=8)
    assert folk.val_tunes == corpus.val_tunes
    irish_train = set(corpus.train_tunes)
    others = [t for t in folk.train_tunes if t not in irish_train]
    assert len(others) > 3 * 8  # collection tunes, and every training tune in two more keys
    guard = HeldOutGuard(corpus.val_tunes)
    collections_only = [t for t in others if "Z: id:dc-" not in t]  # not irish.abc's own, moved
    assert collections_only and all(guard.reason(t) is None for t in collections_only)
    assert all(guard.reason(t) is None for t in others if t not in collections_only
               and title_key(t) not in guard.titles)
    monkeypatch.setattr(corpora, "abc2midi_verdict", None)  # cached: built once, read after
    assert load_named("folk-keys", limit=8).train_tunes == folk.train_tunes
