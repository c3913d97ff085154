# Both main targets create .venv on first use and install the package into it.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ROOT := runs/demo

.PHONY: demo test test-slow clean

$(STAMP): setup.py
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo sweep trains ListOps at smoke size with four mixers, then prints the side-by-side
# table. The table is built even when a run fails; the target keeps the sweep's exit status.
demo: $(STAMP)
	$(PYTHON) -m launch.sweep --sweep=configs/sweeps/demo.py --root=$(DEMO_ROOT); \
	status=$$?; $(PYTHON) -m results.table $(DEMO_ROOT) && exit $$status

test: $(STAMP)
	$(PYTHON) -m pytest -q -m "not slow" tests

# End-to-end runs that take minutes each (the demo sweep itself); not part of CI.
test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -m slow tests

clean:
	rm -rf $(VENV) runs
