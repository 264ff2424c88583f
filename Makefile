# The two commands the README opens with: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# MovieLens archives already on disk (CI and this workplace: ../shared/data); elsewhere movierec
# downloads releases into the user cache.
ifneq ($(wildcard ../shared/data),)
export MOVIEREC_DATA ?= $(abspath ../shared/data)
endif

.PHONY: demo test venv clean

$(BIN)/movierec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel first: a bare `torch` could pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[serve,spark]' --group test
	@touch $@

venv: $(BIN)/movierec

demo: venv
	$(BIN)/movierec demo

test: venv
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
