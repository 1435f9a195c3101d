# Every target sets itself up on a fresh machine: a .venv with the package, and the pinned npm tools.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NPMSTAMP:= node_modules/.installed

.PHONY: test check demo bench mutate lint typecheck artifacts web docs clean slither

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
# make test runs four workers: its realtime tests spend much of their time waiting on a node, a
# process or a browser, and two more workers fill those waits (12 min 44 s against 17 min 31 s
# with two, on this 2-core machine).
PYTEST_N ?= 2
PYTEST_N_TEST ?= 4
XDIST   := -n $(PYTEST_N) --dist worksteal

# The whole suite, what CI runs (.ci/run): static checks, then every test.
test: $(STAMP) $(NPMSTAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json
	$(MAKE) --no-print-directory slither
	$(BIN)/pytest -q -n $(PYTEST_N_TEST) --dist worksteal

# The fast tier: the same static checks, then every test not marked `realtime` (unit, contract
# and e2e tests on eth-tester; no anvil, processes, sleeps or browser; tests/conftest.py), chain
# property tests on fewer examples (tests/tier.py).
check: $(STAMP) $(NPMSTAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json
	BRIDGE_TEST_TIER=check $(BIN)/pytest -q $(XDIST) -m "not realtime"

demo: $(STAMP)
	$(BIN)/bridge demo

bench: $(STAMP) $(NPMSTAMP)
	$(BIN)/python bench/clearing.py
	$(BIN)/python bench/posted_price.py
	$(BIN)/python bench/sealed.py
	$(BIN)/python bench/gas.py
	test ! -f bench/keeper.py || $(BIN)/python bench/keeper.py

# Mutation testing: every contract guard and engine comparison changed in turn, each judged by
# the fast-tier tests its change can reach (an infection map built first), two pytest processes
# testing mutant after mutant; writes bench/results/mutation.json. One part:
# `make mutate MUTATE_ARGS="--sample 5 --seed 1"`; see `bench/mutate.py --help`.
MUTATE_ARGS ?= --jobs 2 --noop
mutate: $(STAMP) $(NPMSTAMP)
	$(BIN)/python bench/mutate.py $(MUTATE_ARGS)

# The compiled contracts, then what is generated from them: the ABIs clients take (abi/) and
# the ABI reference page (docs/reference/abi.md); tests fail when either is stale.
artifacts: $(STAMP) $(NPMSTAMP)
	$(BIN)/python -m bridge.chain.compile --write
	$(BIN)/python -m bridge.chain.abidoc --write

# The web app: bundle web/ into bridge/web/static (committed; tests/unit/test_web_bundle.py
# fails when it is stale) and regenerate the ABI + hints file it imports.
web: $(STAMP) $(NPMSTAMP)
	$(BIN)/python -m bridge.hints --write
	node web/build.mjs

# The documentation site from docs/ (mkdocs.yml), built strictly into site/: a broken link, a
# missing page or an unresolved snippet fails (tests/unit/test_docs_site.py builds it in make test).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# ruff, then the import contract in pyproject.toml (the layers; docs/design/architecture.md)
lint: $(STAMP)
	$(BIN)/ruff check bridge tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP) $(NPMSTAMP)
	$(BIN)/mypy
	node_modules/.bin/tsc -p web/tsconfig.json

# Slither over contracts/, fed by the project's solc-js build; fails on any finding left. Its own
# venv: slither-analyzer pins web3 < 8 (pyproject's `slither` dependency group). The detectors
# off, the paths filtered and why: bridge/chain/static_analysis.py; in-place suppressions carry
# their reason on the line above.
SLITHERSTAMP := .venv-slither/.installed
$(SLITHERSTAMP): pyproject.toml
	test -x .venv-slither/bin/python || $(PY) -m venv .venv-slither
	.venv-slither/bin/pip install -q --upgrade pip
	.venv-slither/bin/pip install -q --group slither
	touch $(SLITHERSTAMP)

slither: $(STAMP) $(NPMSTAMP) $(SLITHERSTAMP)
	$(BIN)/python -m bridge.chain.static_analysis

clean:
	rm -rf $(VENV) .venv-slither node_modules site .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
