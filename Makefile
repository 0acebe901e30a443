PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test bench clean

install:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,ray]"
	@echo "installed: run '. $(VENV)/bin/activate' to put dreamvideo on your PATH"

test:
	$(BIN)/python -m pytest -q

bench:
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/pipeline.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/pipeline.py --ceiling --size 1920x1080
	$(BIN)/python benchmarks/quality.py --frames 40
	$(BIN)/python benchmarks/look.py
	$(BIN)/python benchmarks/zoom_seam.py
	$(BIN)/python benchmarks/busy.py
	$(BIN)/python benchmarks/ray_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
