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

# The tables of BENCHMARKS.md, about half an hour on 2 cores; BASE=<revision> for bench_cli's other arm.
bench: setup
	$(VENV)/bin/python -m pip install -q -e '.[judges,ray]'
	$(VENV)/bin/python benchmarks/bench_core.py
	$(VENV)/bin/python benchmarks/bench_evolve.py --seeds 20 --time-limit 60 --baseline-limit 120
	$(VENV)/bin/python benchmarks/bench_cli.py --base $(or $(BASE),HEAD) --seeds 1,2,5,14,20 --rounds 1
	$(VENV)/bin/python benchmarks/bench_transfer.py --seeds 10 --time-limit 60 --presets default
	$(VENV)/bin/python benchmarks/bench_gallery.py --seeds 6 --time-limit 15
	$(VENV)/bin/python benchmarks/bench_soft.py --threads 1 --repeat 5
	$(VENV)/bin/python benchmarks/bench_styles.py --seeds 301 302 303 --time 60

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
