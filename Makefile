# vosgan: `make all` runs the main job (train, evaluate, figures, by papermill); `make test` runs every test.
# Both create ./.venv on first use. On a machine without a GPU, torch is the CPU build (TORCH_SPEC);
# a GPU user sets TORCH_SPEC=torch (CUDA wheel) or uses environment.yml with conda.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: all setup test lint format reproduce benchmarks clean

all: reproduce

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev,samples]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(VENV)/.installed

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q tests

lint format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

reproduce: setup
	$(BIN)/python -m vosgan.experiments.reproduce --out runs/main --figures figures

benchmarks: setup
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_segment.py
	$(BIN)/python benchmarks/bench_explorer.py

clean:
	rm -rf runs .pytest_cache .ruff_cache
