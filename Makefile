# Every target sets itself up on a fresh machine: a .venv with the package, and the pinned npm tools.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NPMSTAMP:= node_modules/.installed

.PHONY: test check demo bench mutate lint typecheck artifacts web clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

$(NPMSTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPMSTAMP)

# pytest on both cores (pytest-xdist); worksteal: an idle worker takes tests queued on the other,
# and tests/conftest.py starts the `slow` ones first, so both finish together.
PYTEST_N ?= 2
XDIST   := -n $(PYTEST_N) --dist worksteal

# The whole suite, what CI runs (.ci/run): static checks, then every test.
test: $(STAMP) $(NPMSTAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json
	$(BIN)/pytest -q $(XDIST)

# The fast tier: the same static checks, then every test not marked `realtime` (unit, contract
# and e2e tests on eth-tester; no anvil, processes, sleeps or browser; tests/conftest.py).
check: $(STAMP) $(NPMSTAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json
	$(BIN)/pytest -q $(XDIST) -m "not realtime"

demo: $(STAMP)
	$(BIN)/bridge demo

bench: $(STAMP) $(NPMSTAMP)
	$(BIN)/python bench/clearing.py
	$(BIN)/python bench/posted_price.py
	$(BIN)/python bench/sealed.py
	$(BIN)/python bench/gas.py
	test ! -f bench/keeper.py || $(BIN)/python bench/keeper.py

# Mutation testing (slow: every mutant recompiles and reruns its tests); e.g.
# `make mutate MUTATE_ARGS="--sample 5 --seed 1"`; see `bench/mutate.py --help`.
mutate: $(STAMP) $(NPMSTAMP)
	$(BIN)/python bench/mutate.py $(MUTATE_ARGS)

artifacts: $(STAMP) $(NPMSTAMP)
	$(BIN)/python -m bridge.chain.compile --write

# The web app: bundle web/ into bridge/web/static (committed; tests/unit/test_web_bundle.py
# fails when it is stale) and regenerate the ABI + hints file it imports.
web: $(STAMP) $(NPMSTAMP)
	$(BIN)/python -m bridge.hints --write
	node web/build.mjs

# ruff, then the import contract in pyproject.toml (the layers; docs/architecture.md)
lint: $(STAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP) $(NPMSTAMP)
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
