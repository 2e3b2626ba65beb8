# The two commands of the README: `make run` and `make test`. Each sets everything up first.
VENV := .venv

.PHONY: setup run test bench clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/musictui

test: setup
	$(VENV)/bin/python -m pytest

bench: setup
	$(VENV)/bin/musictui bench

clean:
	rm -rf $(VENV) .pytest_cache
