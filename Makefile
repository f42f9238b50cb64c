# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
# Both create .venv if missing and install the project into it (pip: torch and
# torchvision are pinned to the releases this machine serves from local disk).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TORCH  ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install lint test bench-smoke demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev,onnx,plot,train,int8,cluster,search,openvino]'
	touch $@

install: $(STAMP)

# ruff (lint + import order) and mypy (types) on the package; `make test` runs them first.
lint: $(STAMP)
	$(BIN)/ruff check resgraph tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q tests
	$(BIN)/python -m pytest -q bench -m bench_smoke -p no:cacheprovider

demo: $(STAMP)
	$(BIN)/resgraph demo

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks build dist
