"""Named corpora: `irish` (the lab's irish.abc, as it is) and `folk` (irish.abc and three collections
of the music21 package, rewritten in irish.abc's dialect).

music21 (a musicology toolkit) ships public-domain folk collections in ABC inside its wheel. We
find the files through the package's installed metadata and never import it: its import takes
seconds and pulls in much we do not need (it is installed with `--no-deps`).

The held-out yardstick stays irish.abc's 81 held-out tunes whatever the corpus: `folk` trains on
irish.abc's 723 training tunes plus the collections, and a collection tune that is one of the
held-out tunes (same title, or 60 characters of the same music) never reaches training.

Building `folk` runs abc2midi on every collection tune (some thousands of processes), so the
result is cached in ~/.cache/musictui/corpora/ ($XDG_CACHE_HOME), keyed by what it was built from.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from musictui.data import TUNE_SEPARATOR, Corpus, Vocabulary, load_corpus, read_abc_text, split_tunes
from musictui.errors import UserError
from musictui.xdg import cache_home

COLLECTIONS_PACKAGE = "music21"
# folder inside the music21 wheel -> what it is
COLLECTIONS = {
    "oneills1850": "O'Neill's Music of Ireland (1850)",
    "ryansMammoth": "Ryan's Mammoth Collection (1883)",
    "airdsAirs": "Aird's Airs (1778-1803)",
}
NAMES = {
    "irish": "irish.abc from mitdeeplearning, as it is (the lab's corpus; the default)",
    "folk": "irish.abc + " + ", ".join(COLLECTIONS.values()) + ", in irish.abc's dialect",
    "folk-keys": "folk, with each training tune also in the two most common other keys of its mode",
}
BUILD_VERSION = 4   # raise when normalising or filtering changes, so that old caches are not used
AUGMENT_KEYS = 2    # folk-keys: other keys per training tune (folk-rnn had every tune in two keys)
SHARED_RUN = 60     # characters of music in common with a held-out tune that make a tune a near-copy


@dataclass
class Collection:
    """One collection, normalised and checked: the tunes kept, and why the others were dropped."""

    name: str
    tunes: list[str]
    read: int                                   # tunes in the files
    dropped: Counter = field(default_factory=Counter)  # reason -> tunes


def collection_files(folder: str) -> list[Path]:
    """The .abc files of music21's `corpus/<folder>`, sorted, found through its metadata."""
    try:
        dist = metadata.distribution(COLLECTIONS_PACKAGE)
    except metadata.PackageNotFoundError:
        raise UserError("the folk corpus needs the music21 package's tunes: run `make setup` "
                        "(or `pip install --no-deps music21==10.5.1`), or use --corpus irish") from None
    prefix = f"music21/corpus/{folder}/"
    files = sorted(Path(dist.locate_file(f)) for f in dist.files or []
                   if f.as_posix().startswith(prefix) and f.suffix == ".abc")
    if not files:
        raise UserError(f"the installed music21 has no {prefix}: reinstall it "
                        "(`pip install --no-deps --force-reinstall music21==10.5.1`)")
    return files


def cache_dir() -> Path:
    return cache_home() / "musictui" / "corpora"


def load_named(name: str, val_fraction: float = 0.1, split_seed: int = 0,
               limit: int | None = None) -> Corpus:
    """The corpus called `name` (see NAMES). `limit` keeps the first `limit` tunes of each
    collection (tests use a slice; the cache keeps a slice apart from the whole)."""
    irish = load_corpus(None, val_fraction, split_seed)
    if name == "irish":
        return irish
    if name not in NAMES:
        raise UserError(f"no corpus called {name!r}: choose {', '.join(NAMES)}, or give a path")
    extra = [t for c in build_collections(irish.val_tunes, limit) for t in c.tunes]
    train = irish.train_tunes + extra
    if name == "folk-keys":
        train = train + transposed(train, irish.val_tunes).tunes
    tunes = irish.val_tunes + train
    vocab = Vocabulary(TUNE_SEPARATOR.join(tunes) + TUNE_SEPARATOR)
    return Corpus(tunes=tunes, train_tunes=train, val_tunes=irish.val_tunes, vocab=vocab, source=Path(name))


def transposed(train: list[str], held_out: list[str]) -> Collection:
    """The training tunes moved to AUGMENT_KEYS other keys each (cached), less any that comes
    near a held-out tune in any key (a tune irish.abc holds twice, once in each set)."""
    from musictui.transpose import augment

    digest = _digest(BUILD_VERSION, AUGMENT_KEYS, *train, "--held-out--", *held_out)
    path = cache_dir() / f"transposed-{digest}.json"
    cached = _read_cache(path, "transposed")
    if cached is not None:
        return cached
    moved = augment(train, AUGMENT_KEYS)
    collection = Collection("transposed", [], len(moved))
    guard = HeldOutGuard(held_out)
    for tune in moved:
        near = guard.reason(tune)
        if near is None:
            collection.tunes.append(tune)
        else:
            collection.dropped[near] += 1
    _write_cache(path, collection)
    return collection


def build_collections(held_out: list[str], limit: int | None = None) -> list[Collection]:
    """Every collection of COLLECTIONS, normalised and checked (from the cache when it is there).
    A tune that repeats one already kept (several files of O'Neill's overlap) is dropped."""
    seen: set[str] = set()
    out = []
    guard: list[HeldOutGuard] = []  # built once, and only when a collection is not cached
    for folder in COLLECTIONS:
        collection = _cached_collection(folder, held_out, limit, guard)
        kept = []
        for tune in collection.tunes:
            music = music_of(tune)
            if music in seen:
                collection.dropped["the same music as a tune already kept"] += 1
                continue
            seen.add(music)
            kept.append(tune)
        collection.tunes = kept
        out.append(collection)
    return out


def _cached_collection(folder: str, held_out: list[str], limit: int | None, guard: list) -> Collection:
    files = collection_files(folder)
    digest = _digest(BUILD_VERSION, limit, *(f.name + f.read_text(encoding="utf-8") for f in files),
                     "--held-out--", *held_out)
    path = cache_dir() / f"{folder}-{digest}.json"
    cached = _read_cache(path, folder)
    if cached is not None:
        return cached
    if not guard:
        guard.append(HeldOutGuard(held_out))
    collection = build_collection(folder, files, guard[0], limit)
    _write_cache(path, collection)
    return collection


def _digest(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode() + b"\0")
    return digest.hexdigest()[:16]


def _read_cache(path: Path, name: str) -> Collection | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Collection(name, data["tunes"], data["read"], Counter(data["dropped"]))
    except (OSError, ValueError, KeyError):
        return None  # absent or damaged: built again


def _write_cache(path: Path, collection: Collection) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"tunes": collection.tunes, "read": collection.read,
                               "dropped": dict(collection.dropped)}), encoding="utf-8")
    tmp.replace(path)  # whole or absent: never a half-written cache


def build_collection(name: str, files: list[Path], guard: HeldOutGuard, limit: int | None = None) -> Collection:
    """Normalise the tunes of `files`, drop near-copies of `held_out` tunes, then drop those
    abc2midi rejects or whose bars are of the wrong length."""
    from musictui.normalise import Dropped, normalise

    raw: list[str] = []
    for f in files:
        if limit is not None and len(raw) >= limit:
            break
        raw += split_tunes(read_abc_text(f))
    raw = raw[:limit] if limit is not None else raw
    collection = Collection(name, [], len(raw))
    candidates = []
    for i, tune in enumerate(raw, 1):
        try:
            result = normalise(tune, number=i)
        except Dropped as reason:
            collection.dropped[str(reason)] += 1
            continue
        near = guard.reason(result.text)
        if near is not None:
            collection.dropped[near] += 1
            continue
        candidates.append(result.text)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        verdicts = list(pool.map(abc2midi_verdict, candidates))
    for tune, verdict in zip(candidates, verdicts):
        if verdict is None:
            collection.tunes.append(tune)
        else:
            collection.dropped[verdict] += 1
    return collection


def abc2midi_verdict(tune: str) -> str | None:
    """None when abc2midi reads `tune` with no error and every bar the meter's length, else why not."""
    from musictui.audio import RenderError, check_abc

    try:
        report = check_abc(tune)
    except RenderError:
        return "abc2midi hangs on it"
    if not report.ok:
        return "abc2midi reports an error"
    if not report.bars_ok:
        return "bars of the wrong length (abc2midi)"
    return None


# -- keeping the held-out tunes out of training ----------------------------------------------------

def music_of(tune: str) -> str:
    """A tune's body with layout taken out (spaces, line breaks, `!`): what two copies share."""
    lines = tune.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("K:"):
            lines = lines[i + 1:]
            break
    return re.sub(r"[\s!]", "", "".join(lines))


def title_key(tune_or_title: str) -> str:
    """A title reduced to what identifies it: `T:The Boys of Ballycastle.` -> `boysofballycastle`."""
    match = re.search(r"^T:(.*)$", tune_or_title, re.MULTILINE)
    title = (match[1] if match else tune_or_title).lower().strip()
    title = re.sub(r"^the\s+", "", title)
    return re.sub(r"[^a-z0-9]", "", title)


class HeldOutGuard:
    """Recognises a held-out tune in another collection: by its title, or by SHARED_RUN
    characters of music in common with it in any of the twelve keys (both in irish.abc's
    dialect, layout ignored). A copy whose accidentals are spelled otherwise (G for ^^F) or
    whose notes differ every 60 characters gets through: it is a check for copies, not for
    variants."""

    def __init__(self, held_out: list[str]):
        from musictui.normalise import Dropped, normalise
        from musictui.transpose import TransposeError, transpose

        self.titles = {title_key(t) for t in held_out} - {""}
        self.runs: set[str] = set()
        tunes = []
        for tune in held_out:
            try:
                tune = normalise(tune).text  # the same rewriting as the collections' tunes
            except Dropped:
                pass
            tunes.append(tune)

        def in_every_key(tune: str) -> list[str]:
            moved = [tune]
            for shift in range(-5, 7):
                try:
                    moved.append(transpose(tune, shift)) if shift else None
                except TransposeError:
                    pass
            return moved
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            for versions in pool.map(in_every_key, tunes):
                for version in versions:
                    music = music_of(version)
                    self.runs.update(music[i:i + SHARED_RUN] for i in range(len(music) - SHARED_RUN + 1))

    def reason(self, tune: str) -> str | None:
        if title_key(tune) in self.titles:
            return "a held-out tune's title"
        music = music_of(tune)
        if any(music[i:i + SHARED_RUN] in self.runs for i in range(len(music) - SHARED_RUN + 1)):
            return f"{SHARED_RUN} characters of a held-out tune's music"
        return None
