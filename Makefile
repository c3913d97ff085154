# Both targets create .venv on first use and install the package into it.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test clean

$(STAMP): setup.py
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m launch.train --config=configs/listops.py:model=tnn,smoke --workdir=runs/demo

test: $(STAMP)
	$(PYTHON) -m pytest -q tests

clean:
	rm -rf $(VENV) runs
