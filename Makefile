# autokr: `make run` sets up and runs the workflow; `make test` sets up and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build to install first; override for another build, e.g.
#   make setup TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH ?= -r requirements-torch.txt
# Extra arguments for snakemake in `make run`, e.g. ARGS="--configfile mine.yaml"
ARGS ?=

.PHONY: setup setup-test run watch unpublish models test lint format clean bench docs

setup: $(VENV)/.setup-done

$(VENV)/.setup-done: requirements.txt requirements-torch.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -r requirements.txt
	# autokr's progress display (snakemake --logger autokr), where Snakemake finds plugins
	$(BIN)/python scripts/install_logger.py
	touch $@

setup-test: $(VENV)/.setup-test-done

$(VENV)/.setup-test-done: $(VENV)/.setup-done requirements-test.txt
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# On a fresh clone (no videos/ folder yet) this subtitles the bundled example.
run: setup
	$(BIN)/python scripts/run_workflow.py $(ARGS)

# Run once, then again whenever videos are added to the videos folder and have
# stopped changing; Ctrl-C stops it. Its own options go in ARGS too, e.g.
#   make watch ARGS="--settle-seconds 60 --poll"
watch: setup
	$(BIN)/python scripts/watch.py $(ARGS)

# Take back what autokr published: KIND=next_to_video (the copies beside the
# videos), KIND=mux (results/muxed/) or KIND=all. It says what it removes, one
# line a file; a file changed since autokr wrote it, and a muxed copy whose
# video is gone, stay. It runs as a Snakemake run, so never beside another.
KIND ?=
unpublish: setup
	@case "$(KIND)" in next_to_video|mux|all) ;; *) echo "autokr: say what to take back: make unpublish KIND=next_to_video (or mux, or all)" >&2; exit 2;; esac
	$(BIN)/snakemake "results/unpublish/$$(date +%Y%m%d-%H%M%S).$(KIND).json" $(ARGS)

# Fetch and convert the configured models (the workflow's own model steps), e.g.
# on a machine with network access before running offline.
models: setup
	$(BIN)/snakemake models $(ARGS)

test: setup-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/

format: setup-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules/

# Keeps results/muxed/: a muxed copy may be the only copy left of a video.
clean:
	if [ -d results ]; then find results -mindepth 1 -maxdepth 1 ! -name muxed -exec rm -rf {} +; fi
	rm -rf .snakemake
	if [ -d results/muxed ]; then echo "make clean: kept results/muxed/ (muxed copies; delete it yourself if you want them gone)"; fi

# docs/config.md, the config reference, from config/schema.yaml (a test fails
# when it is stale; `scripts/write_config_docs.py --check` says so in one line).
docs: setup
	$(BIN)/python scripts/write_config_docs.py

# Speed and memory against bare faster-whisper, and the two translation
# backends; writes bench/results.md. ARGS="--minutes 3" for a shorter video.
bench: setup-test
	$(BIN)/python bench/run.py $(ARGS)

# Score the subtitles against reference subtitles you have for some videos (a
# folder of {video}.ko.srt): chrF and cue timing per video, written to
# results/evaluation.md, one row a run added to results/evaluations.tsv to
# compare models (docs/choosing.md). Other options in ARGS, e.g. ARGS="--lang en".
.PHONY: evaluate
REFERENCE ?=
evaluate: setup
	@if [ -z "$(REFERENCE)" ]; then echo "autokr: say where the reference subtitles are: make evaluate REFERENCE=folder" >&2; exit 2; fi
	$(BIN)/python scripts/evaluate.py "$(REFERENCE)" $(ARGS)
