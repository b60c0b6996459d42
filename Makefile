# polyface: `make demo` sets everything up and evolves one portrait; `make test` runs the tests.
VENV ?= .venv
SEED ?= 1

.PHONY: setup setup-test demo test bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

demo: setup
	$(VENV)/bin/polyface evolve --seed $(SEED) --time-limit 60

test: setup-test
	$(VENV)/bin/python -m pytest -q

bench: setup
	$(VENV)/bin/python benchmarks/bench_core.py
	$(VENV)/bin/python benchmarks/bench_evolve.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
