# The project's entry points. Every target builds its own virtual environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check report test test-slow lint bench clean

# pip shows what it installs (a minute on a fresh clone): no silent wait.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "installing derive and its dependencies into $(VENV) ..."
	$(BIN)/pip install --progress-bar off -e '.[test]'
	touch $(STAMP)
	@echo "derive is installed in $(VENV): run $(BIN)/derive, or 'source $(BIN)/activate' first"

check: $(STAMP)
	$(BIN)/derive check

report: $(STAMP)
	$(BIN)/derive report

test: $(STAMP)
	$(BIN)/ruff check derive tests bench
	$(BIN)/pytest -q -n 2 --dist worksteal  # the two cores; an idle one takes queued tests

test-slow: $(STAMP)
	$(BIN)/pytest -q -n 2 -m slow  # the long sweeps (.ci/run runs them after make test)

lint: $(STAMP)
	$(BIN)/ruff check derive tests bench

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b; done

# Everything built or cached: the environment, the reports, the tools' caches, and the scratch
# folders an interrupted TeX build (killed with SIGKILL) can leave beside any --out.
clean:
	rm -rf $(VENV) build *.egg-info reports/out .pytest_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o \( -name __pycache__ -o -name '.derive-build-*' \) \
		-type d -prune -exec rm -rf {} +
