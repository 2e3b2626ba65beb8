#!/usr/bin/env bash
# One set-up for `make run` and `make test`: system packages, then .venv with the project.
# Safe to run again: each step checks whether it is already done, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# What musictui and its tests need, found where it is, not by asking one package manager:
# a tool on PATH (however it was installed), or a file. Each names the Debian package that gives it.
# sox (its `play` is the last fallback player) and tmux (the real-terminal test) are for the tests.
NEEDS=(
    "tool abc2midi abcmidi"
    "tool timidity timidity"
    "tool play sox"
    "tool tmux tmux"
    "tool abcm2ps abcm2ps"  # the score (musictui render --svg, w in the app)
    "tool rsvg-convert librsvg2-bin"  # the score as a picture in the app (v): SVG -> PNG
    "file /usr/share/sounds/sf2/FluidR3_GM.sf2 fluid-soundfont-gm"  # the sound font audio.py asks for
    "file /usr/include/alsa/asoundlib.h libasound2-dev"              # simpleaudio compiles against it
)
VENV=.venv
MITDEEPLEARNING=mitdeeplearning==0.7.5

missing=()
for need in "${NEEDS[@]}"; do
    read -r kind what pkg <<<"$need"
    if [[ $kind == tool ]]; then
        command -v "$what" >/dev/null 2>&1 || missing+=("$pkg")
    elif [[ ! -e $what ]] && command -v apt-get >/dev/null 2>&1; then
        # Files are asked for by their Debian path, so only where apt-get can put them there:
        # elsewhere timidity plays with its own patches, and pip reports a missing ALSA header itself.
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "musictui setup: please install these (Debian names; tools must be on PATH) with your system's package manager, then run make again: ${missing[*]}" >&2
        exit 1
    fi
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
        # sudo without a password, or a terminal where it can ask for one.
        sudo=(sudo)
    else
        echo "musictui setup: cannot install system packages (not root, no sudo). Please run: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "musictui setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

# The venv is rebuilt only when what it was built from changed.
fingerprint=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ -f $VENV/.setup-done && $(cat "$VENV/.setup-done") == "$fingerprint" ]]; then
    exit 0
fi

PYTHON=${PYTHON:-python3}
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
# PIP_CONSTRAINT (not -c) so that the pins reach isolated build environments too.
export PIP_CONSTRAINT="$PWD/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/pip" install --quiet -e '.[test,comet]'
# --no-deps: we only need its data/irish.abc, not TensorFlow, transformers, openai, gym...
"$VENV/bin/pip" install --quiet --no-deps "$MITDEEPLEARNING"
"$VENV/bin/pip" install --quiet --no-deps music21  # --no-deps: only its folk tunes (--corpus folk), never imported
echo "$fingerprint" > "$VENV/.setup-done"
echo "musictui setup: done ($VENV)"
