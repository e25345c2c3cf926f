# The two commands of the README: `make demo` (main job on the embedded data) and `make test`.
# Each one builds the virtual environment first, idempotently.
PYTHON ?= python3
# pytest workers: most tests wait on servers, browsers or PostgreSQL, so three keep two cores
# busy (on a 2-core machine, the suite took 11.5 minutes on three workers, 26 on one).
TEST_WORKERS ?= 3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	@$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	@$(BIN)/python -m maillage.web.assets
	@# Byte-code up front: start-up stays fast even where PYTHONDONTWRITEBYTECODE is set.
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib src >/dev/null || true
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/maillage diagnose --overwrite --out out/diagnostic

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) out .pytest_cache
