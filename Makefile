# leadscore — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= data/demo
# X Education's Leads.csv (not in this repository; see README "Real data: X Education").
XED    ?= ../shared/data/x-education/Leads.csv
ROWS   ?= 20000
SEED   ?= 7
# The demo export is taken at the end of 2026-06-30: score it as of then, not today.
AS_OF  ?= 2026-07-01T00:00:00Z
export BENTOML_DO_NOT_TRACK = true
export MLFLOW_DISABLE_TELEMETRY = true

.DEFAULT_GOAL := help
.PHONY: help install docs-numbers demo xeducation-data train-xeducation evaluate-demo evaluate-xeducation score-demo explain-demo serve bench bench-large bench-spark bench-spark-memory ui test test-all lint format typecheck clean messages

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(BIN)/leadscore: pyproject.toml
	@echo "creating $(VENV) and installing leadscore with its dependencies (about 1.1 GB; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	@touch $@
	@echo "installed into $(VENV): 'source $(VENV)/bin/activate' puts leadscore, mlflow and bentoml on your PATH (make targets need no activation)"

install: $(BIN)/leadscore ## create .venv and install leadscore with its dev tools

demo: install ## generate demo contacts + events, train point-in-time, log to MLflow (./mlflow.db), register
	$(BIN)/leadscore generate --rows $(ROWS) --seed $(SEED) --out $(DEMO)/leads.csv --events $(DEMO)/events.parquet
	$(BIN)/leadscore train --data $(DEMO)/leads.csv --events $(DEMO)/events.parquet --spec hubspot \
		--config configs/hubspot-demo.yaml

evaluate-demo: install ## evaluation report of the champion on the demo leads, with a 3-month backtest
	$(BIN)/leadscore evaluate --data $(DEMO)/leads.csv --events $(DEMO)/events.parquet --spec hubspot \
		--config configs/hubspot-demo.yaml --points configs/points-hubspot.yaml --backtest 3 --out reports/demo

evaluate-xeducation: install xeducation-data ## evaluation report of the X Education model (vs logistic regression and points)
	$(BIN)/leadscore evaluate --data $(XED) --spec x-education \
		--model models:/lead-scorer-x-education@champion --points configs/points-x-education.yaml \
		--out reports/x-education

score-demo: install ## score the demo leads with the registered champion (with reasons)
	$(BIN)/leadscore score --data $(DEMO)/leads.csv --out $(DEMO)/scores.csv --reasons --as-of $(AS_OF)

explain-demo: install ## print the card of one demo lead (ID=...)
	$(BIN)/leadscore explain --data $(DEMO)/leads.csv --id $(or $(ID),1000001) --as-of $(AS_OF)

train-xeducation: install xeducation-data ## train on X Education's Leads.csv (XED=path) with the leak-free spec
	$(BIN)/leadscore train --data $(XED) --spec x-education \
		--config configs/x-education.yaml \
		--model-name lead-scorer-x-education

xeducation-data:
	@test -f $(XED) || { echo "no X Education data at $(XED): it is Leads.csv of the UpGrad 'Lead Scoring Case Study', republished on Kaggle as 'Lead Scoring Dataset' (9,240 rows, 37 columns; licence unverified, see README). Download it and run: make $(MAKECMDGOALS) XED=path/to/Leads.csv"; exit 2; }

serve: install ## serve the champion over HTTP with BentoML (http://127.0.0.1:3000)
	$(BIN)/leadscore serve

docs-numbers: install ## rerun the README's documented commands and write what they print into it
	$(BIN)/python scripts/docs_numbers.py $(if $(wildcard $(XED)),--x-education $(XED))

bench: install ## run the benchmarks (single lead, reasons, service under load; minutes)
	$(BIN)/python benchmarks/bench_single_lead.py
	$(BIN)/python benchmarks/bench_reasons.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_training.py --sizes 10000,100000
	$(BIN)/python benchmarks/bench_batch_scoring.py
	$(BIN)/python benchmarks/bench_events.py
	$(BIN)/python benchmarks/bench_time_true.py --seeds 7,11,23

bench-large: install ## the 1M benchmarks: training 1M examples on all cores, defaults vs configs/large-export.yaml's two keys apart and together (~30 min), streaming scoring memory (~20 min)
	$(BIN)/python benchmarks/bench_training.py --rounds 1 --sizes 1000000 --threads 0 --max-train-rows none,300000 --calibration-folds 5,2
	$(BIN)/python benchmarks/bench_batch_scoring.py --million

bench-spark: install ## Spark local[1]/local[2] against the single-process scorer (pip install -e '.[spark]'; minutes)
	$(BIN)/python benchmarks/bench_spark.py

bench-spark-memory: install ## Spark local[2] on 10M leads: time and the Python workers' peak memory (~15 min)
	$(BIN)/python benchmarks/bench_spark.py --memory-only --rows 10000000

ui: install ## open the MLflow UI on the local registry (http://127.0.0.1:5000)
	@echo "MLflow 3.17 opens on its GenAI view: open the link 'leadscore train' printed, or click 'Model training' in the sidebar once (the browser keeps it)"
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --port 5000

test: install ## run the test suite (slow acceptance tests excluded)
	$(BIN)/pytest -q

test-all: install ## run every test, including the slow acceptance and the stress tests
	$(BIN)/pytest -q -m ""

messages: install ## extract the messages people read (code, templates, built-in specs) and merge them into models/locale/*/LC_MESSAGES/leadscore.po
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext -k ngettext:1,2 -k _ --no-location \
		--sort-output --project leadscore --copyright-holder "the leadscore authors" \
		-o models/locale/leadscore.pot .
	$(BIN)/pybabel update -i models/locale/leadscore.pot -d models/locale -D leadscore \
		--no-fuzzy-matching --ignore-obsolete
	@echo "translate the new empty msgstr entries; the tests check every message has one"

lint: install ## ruff lint and format check, and the packages' import direction (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## ruff format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy on the five packages
	$(BIN)/mypy

clean: ## remove demo data, local MLflow files and caches (keeps .venv)
	rm -rf $(DEMO) reports mlflow.db mlartifacts mlruns .pytest_cache .mypy_cache .ruff_cache
