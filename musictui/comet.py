"""Comet ML experiment tracking (`musictui train --comet`), as the MIT lab does it.

Optional: comet_ml comes with the `comet` extra and is imported only here, only when a run asks
for it. With an API key (COMET_API_KEY, or Comet's own config file) the run logs online; without
one it writes an offline experiment archive, a zip that Comet's own `comet upload` sends later.

Comet talks on the console a great deal (warnings about import order, upload progress, a summary
at exit). None of it may reach the terminal: the progress bar and the app's screen own it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from musictui.errors import UserError

INSTALL_HINT = "install the comet extra: pip install 'musictui[comet]'"
PROJECT = "musictui"  # unless COMET_PROJECT_NAME says otherwise


def require():
    """comet_ml, imported quietly; a UserError naming the extra when it is not installed."""
    # Comet reads its console log level from the environment when it is imported.
    os.environ.setdefault("COMET_LOGGING_CONSOLE", "critical")
    try:
        import comet_ml
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    logging.getLogger("comet_ml").setLevel(logging.CRITICAL)
    return comet_ml


class CometRun:
    """One Comet experiment. Every method is safe to call from the training loop's thread."""

    def __init__(self, experiment, archive_dir: Path | None):
        self.experiment = experiment
        self.archive_dir = archive_dir  # None when logging online

    @property
    def where(self) -> str:
        """One line for the user: where this run's experiment goes."""
        if self.archive_dir is None:
            return f"Comet: logging online to {self.experiment.url}"
        return (f"Comet: no API key (COMET_API_KEY), so the experiment is archived offline in "
                f"{self.archive_dir}/ (send it later with `comet upload {self.archive_dir}/<name>.zip`)")

    def log_parameters(self, params: dict) -> None:
        self.experiment.log_parameters(params)

    def log_step(self, metrics) -> None:
        """A StepMetrics: training loss every step, validation loss when there is one."""
        values = {"loss": metrics.loss, "chars_per_s": metrics.chars_per_s, "learning_rate": metrics.learning_rate}
        if metrics.val_loss is not None:
            values["val_loss"] = metrics.val_loss
        self.experiment.log_metrics(values, step=metrics.step)

    def log_text(self, text: str, step: int | None = None) -> None:
        """A generated tune (ABC), shown in Comet's text panel beside the step it came from."""
        self.experiment.log_text(text, step=step)

    def log_audio(self, path: Path | str, step: int | None = None) -> None:
        """A rendered tune (a WAV file), as an audio asset, as the lab logs its songs."""
        path = Path(path)
        self.experiment.log_audio(str(path), file_name=path.name, step=step)

    def end(self) -> Path | None:
        """Finish the experiment: uploads what is left, or writes the archive. Returns the archive
        (offline), or None."""
        self.experiment.end()
        if self.archive_dir is None:
            return None
        archive = self.archive_dir / f"{self.experiment.get_key()}.zip"
        return archive if archive.exists() else None


def start(checkpoint_dir: Path, name: str | None = None) -> CometRun:
    """A Comet experiment for a run: online with an API key, else archived in `checkpoint_dir/comet/`."""
    comet_ml = require()
    settings = dict(
        project_name=os.environ.get("COMET_PROJECT_NAME", PROJECT),
        auto_output_logging=False,  # Comet would otherwise capture (and echo) stdout and stderr
        display_summary_level=0,    # no summary table at the end
        auto_param_logging=False, auto_metric_logging=False, parse_args=False,  # we log our own
        log_code=False, log_graph=False, log_git_patch=False,
    )
    api_key = comet_ml.get_api_key(None, comet_ml.get_config())
    if api_key:
        experiment, archive_dir = comet_ml.Experiment(api_key=api_key, **settings), None
    else:
        archive_dir = Path(checkpoint_dir) / "comet"
        archive_dir.mkdir(parents=True, exist_ok=True)
        experiment = comet_ml.OfflineExperiment(offline_directory=str(archive_dir), **settings)
    if name:
        experiment.set_name(name)
    return CometRun(experiment, archive_dir)
