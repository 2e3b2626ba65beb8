# The two commands of the README: `make run` and `make test`. Each sets everything up first.
VENV := .venv

.PHONY: setup run test bench clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/musictui

test: setup
	$(VENV)/bin/python -m pytest

# The README's table: our loops beside the lab's (benchmarks/lab.py), best of 3 alternating rounds,
# with the default int8 sampler, then again with the exact fp32 one.
bench: setup
	$(VENV)/bin/musictui bench --rounds 3
	$(VENV)/bin/musictui bench --rounds 3 --precision fp32

clean:
	rm -rf $(VENV) .pytest_cache
