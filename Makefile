# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data
WEB ?= 127.0.0.1:8080
FED ?= 127.0.0.1:8443
SRC := $(wildcard protocol federation node tests bench)

.PHONY: run test lint typecheck pytest demo bench bench-quick clean audit lock translations fuzz

# Two stamps in one venv: `make run` and `make demo` install only what running needs;
# `make test` (and the other developer targets) add the test tools.
RUNTIME := $(VENV)/.runtime-installed
TESTING := $(VENV)/.test-installed
# The country a phone number without its international code is read in (a setting).
REGION ?= GB
# The Argon2 binding the node blinds with (node/keys/argon2.py), compiled here for this
# machine's vector unit: PyPI's generic wheel is built for SSE2 and takes about twice
# libsodium's time, so the node keeps libsodium with it. Without a C compiler, the
# generic wheel is installed and the node keeps libsodium.
ARGON2_CFLAGS ?= -O3 -march=native
define argon2_native
	$(BIN)/python -c "from node.keys.argon2 import local_build; raise SystemExit(not local_build())" 2>/dev/null \
	  || CFLAGS="$(ARGON2_CFLAGS)" $(BIN)/python -m pip install --quiet --no-cache-dir --force-reinstall \
	       --no-deps --no-binary argon2-cffi-bindings 'argon2-cffi-bindings>=25.1' \
	  || echo "argon2-cffi-bindings could not be built here: blinding uses libsodium"
endef

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(argon2_native)
	touch $@

$(TESTING): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(argon2_native)
	touch $@ $(RUNTIME)

venv: $(TESTING)

run: $(RUNTIME)
	@echo "To run other alertnode commands: $(BIN)/alertnode ... (or first: . $(BIN)/activate)"
	@test ! -f $(DATA)/node.json || echo "A new admin invite, while the node runs: $(BIN)/alertnode invite create --role admin --data $(DATA)"
	@test -f $(DATA)/node.json || { echo "Region $(REGION): phone numbers written without +country code are read as $(REGION) numbers. Another country: make run REGION=FR (before the first run), or later the admin Settings page, 'Country for phone numbers' (phone_region)."; \
		$(BIN)/alertnode init --data $(DATA) --name "Local node" \
		--no-passphrase --web $(WEB) --fed $(FED) --region $(REGION); }
	@$(BIN)/alertnode run --data $(DATA)

lint: $(TESTING)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

typecheck: $(TESTING)
	$(BIN)/mypy

# The suite runs in pytest-xdist workers that steal work from each other: three by
# default, one more than this 2-core machine's cores, since the end-to-end tests spend
# most of their time waiting for node processes. JOBS=1 runs it in one process.
JOBS ?= 3

# The end-to-end tests start hundreds of `alertnode` processes. The sources are
# compiled once first, so that each of those reads bytecode instead of compiling every
# module it imports again, also where PYTHONDONTWRITEBYTECODE is set (that only stops
# Python writing bytecode, not reading it). Measured: tests/e2e/test_cli.py and
# test_ops_cli.py took 74.8 s instead of 88.9-90.5 s.
pytest: $(TESTING)
	$(BIN)/python -m compileall -q $(SRC) > /dev/null
	$(BIN)/pytest -q -n $(JOBS) --dist worksteal

test: lint typecheck pytest

demo: $(RUNTIME)
	$(BIN)/alertnode demo --nodes 5

# The full run writes its figures to $(BENCH_OUT) (and stdout), then the growth tables
# into docs/benchmarks.md and the plots into docs/bench/ (matplotlib: the bench extra).
BENCH_OUT ?= bench-results.jsonl

bench: $(TESTING)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench > $(BENCH_OUT).part && mv $(BENCH_OUT).part $(BENCH_OUT)
	cat $(BENCH_OUT)
	$(BIN)/python -m bench.growth $(BENCH_OUT) --stamp "$$(date -u +%Y-%m-%d), $$(nproc) cores"

bench-quick: $(TESTING)
	$(BIN)/python -m bench --quick

# Extract the web app's strings, merge them into each language's .po, compile the .mo.
translations: $(TESTING)
	$(BIN)/python node/locale/catalogues.py all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find $(SRC) -name __pycache__ -type d -prune -exec rm -rf {} +

# Audit the locked runtime dependencies for known vulnerabilities. pip-audit needs a
# vulnerability database (OSV or PyPI's JSON API); where neither can be reached, this
# says so plainly and does not pretend the audit passed.
audit: $(TESTING)
	@$(BIN)/pip-audit -r requirements.lock --no-deps --progress-spinner off > .audit.log 2>&1; \
	rc=$$?; \
	if grep -qE "NameResolutionError|ConnectionError|not found on PyPI" .audit.log; then \
		echo "pip-audit: NOT AUDITED: no vulnerability database is reachable from this machine"; \
	elif [ $$rc -ne 0 ]; then cat .audit.log; exit $$rc; \
	else cat .audit.log; fi

# Regenerate requirements.lock: the runtime dependencies resolved by pip-tools, with the
# hash of every file PyPI serves for each pinned version (pip install --require-hashes).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools
	{ echo "# The runtime dependency set of alertnode, with the hash of every file PyPI serves for"; \
	  echo "# each pinned version. Install with: pip install --require-hashes -r requirements.lock"; \
	  echo "# Audited by \`make audit\` (pip-audit). Regenerate with \`make lock\` (pip-tools)."; \
	  .venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-find-links --no-header --output-file=- pyproject.toml; \
	} > requirements.lock.new && mv requirements.lock.new requirements.lock
	rm -rf .venv-lock

# Long fuzzing run of every protocol decoder with atheris (libFuzzer), seeded from
# tests/fuzz/corpus/. New interesting inputs go to a temporary folder; a crash is saved
# as tests/fuzz/corpus/found-* (keep it: the test suite replays every corpus file).
FUZZ_SECONDS ?= 300
fuzz: $(TESTING)
	@$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/python -m pip install --quiet atheris \
	|| { echo "make fuzz: atheris could not be installed (it needs a wheel for this Python or clang to build); the Hypothesis fuzz tests still run with 'make pytest'"; exit 1; }
	@work=$$(mktemp -d) && \
	$(BIN)/python fuzz/fuzz_decoders.py $$work tests/fuzz/corpus -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=tests/fuzz/corpus/found- -print_final_stats=1; \
	rc=$$?; rm -rf $$work; exit $$rc
