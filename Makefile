# reportbot tasks. `make run` and `make test` work on a fresh machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := check
.PHONY: check setup run test lint typecheck bench load eval clean

check: test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# With TELEGRAM_BOT_TOKEN set: the Telegram bot. Without it: a chat in this terminal.
run: $(STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then \
		exec $(BIN)/reportbot serve; \
	else \
		exec $(BIN)/reportbot chat; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.scale

# 50 users x 20 questions at once through the local Bot API stand-in (benchmarks/load.py).
load: $(STAMP)
	$(BIN)/python -m benchmarks.load

eval: $(STAMP)
	$(BIN)/python ../shared/eval/run.py ../shared/eval/dev.jsonl --cmd "$(BIN)/reportbot ask --json --top 10"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
