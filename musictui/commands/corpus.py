"""`musictui corpus`: the named corpora (`--corpus irish|folk` of train), with their counts.

For `folk` it also says how many tunes of each collection were dropped, and why. The first run
builds `folk` (abc2midi on every collection tune, about a minute on 2 cores); later runs read
the cache.
"""
from __future__ import annotations

import argparse
import json

from musictui.commands.common import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="only the first N tunes of each collection (a quick look)")


def run(args: argparse.Namespace) -> int:
    from musictui.corpora import COLLECTIONS, NAMES, build_collections, load_named, transposed

    figures = {}
    for name, about in NAMES.items():
        corpus = load_named(name, limit=args.limit)
        figures[name] = {
            "about": about, "tunes": len(corpus.tunes), "train_tunes": len(corpus.train_tunes),
            "held_out_tunes": len(corpus.val_tunes), "train_characters": len(corpus.train_text),
            "held_out_characters": len(corpus.val_text), "vocabulary": len(corpus.vocab),
        }
    irish = load_named("irish")
    figures["folk"]["collections"] = {
        c.name: {"about": COLLECTIONS[c.name], "read": c.read, "kept": len(c.tunes), "dropped": dict(c.dropped)}
        for c in build_collections(irish.val_tunes, args.limit)
    }
    folk = load_named("folk", limit=args.limit)
    moved = transposed(folk.train_tunes, folk.val_tunes)  # cached by load_named("folk-keys") above
    figures["folk-keys"]["transposed"] = {"made": moved.read, "kept": len(moved.tunes), "dropped": dict(moved.dropped)}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for name, f in figures.items():
        print(f"{name}: {f['about']}")
        print(f"  {f['tunes']:,} tunes ({f['train_tunes']:,} to train on, {f['held_out_tunes']} held out); "
              f"{f['train_characters']:,} training characters; vocabulary {f['vocabulary']} characters")
        for cname, c in f.get("collections", {}).items():
            dropped = "; ".join(f"{n} {why}" for why, n in sorted(c["dropped"].items(), key=lambda kv: -kv[1]))
            print(f"  {c['about']}: {c['read']:,} read, {c['kept']:,} kept" + (f"; dropped: {dropped}" if dropped else ""))
        if "transposed" in f:
            t = f["transposed"]
            print(f"  transposed copies: {t['made']:,} made, {t['kept']:,} kept"
                  + "".join(f"; {n} dropped: {why}" for why, n in t["dropped"].items()))
    print("Train on one with `musictui train --corpus NAME`; any .abc file or folder works too.")
    return 0
