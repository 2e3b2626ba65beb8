"""Write docs/screenshots/train.svg and generate.svg from the real app (Textual's own screenshots).

    .venv/bin/python scripts/app_screenshots.py [--checkpoint PATH]

The train screen is a `tiny` run trained live for a few seconds in a temporary folder; the generate
screen streams one tune (seed 7, the model writing its own header) from the shipped model, as a new user sees it, or from the
checkpoint given.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIZE = (120, 36)


async def shoot(checkpoint: Path | None) -> None:
    from musictui.app.app import make_app

    # The training child may still be writing its last checkpoint as the folder goes: not our concern here.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        os.chdir(folder)  # short, relative paths on screen
        app = make_app(checkpoint_dir="checkpoints", preset="tiny", generate_checkpoint=checkpoint,
                       overrides=dict(steps=2000, eval_every=40))
        async with app.run_test(size=SIZE) as pilot:
            screen = app.train_screen
            while screen.state != "ready":
                await pilot.pause(0.1)
            await pilot.press("space")
            while len(screen.val_losses) < 6:
                await pilot.pause(0.1)
            await pilot.press("c")
            await pilot.pause(1.0)
            await pilot.press("space")
            while screen.state != "paused":
                await pilot.pause(0.1)
            app.clear_notifications()
            await pilot.pause(0.3)
            app.save_screenshot(filename="train.svg", path=str(OUT))

            await pilot.press("g")
            gen = app.generate_screen
            gen.query_one("#seed").value = "7"
            await pilot.press("n")
            while not gen.current or not gen.current.report_text:
                await pilot.pause(0.1)
            app.clear_notifications()
            await pilot.pause(0.3)
            app.save_screenshot(filename="generate.svg", path=str(OUT))
            app.stop_sound()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: the shipped model")
    args = parser.parse_args()
    asyncio.run(shoot(args.checkpoint.resolve() if args.checkpoint else None))
    print(f"wrote {OUT / 'train.svg'} and {OUT / 'generate.svg'}")


if __name__ == "__main__":
    main()
