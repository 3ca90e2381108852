# radgui: two commands on a fresh machine.
#   make demo   install into .venv and open the app on its embedded demo case
#   make test   install with test extras (and, as root, a virtual screen and Orthanc for the
#               PACS tests), check the import
#               contracts (lint-imports, pyproject's [tool.importlinter]) and run the whole suite
#   make bench  run every benchmarks/bench_*.py and print their tables
#   make test-dl  install the optional dl extra (CPU torch pinned first, MONAI, safetensors) and run the
#               DL tests (tests/test_dl_*.py); make install-dl only installs it (.ci/run does, before make test)
#   make docs   build the documentation site offline into build/site (warnings are errors)
#   make package       build the one-folder desktop app into dist/radgui/ (PyInstaller)
#   make package-test  start the built app with `demo --screenshot` (Xvfb) and check the PNG

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
XVFB_PACKAGES := xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 \
	libdbus-1-3 libfontconfig1 poppler-utils
# Run a command on the real display when there is one, else on a virtual screen.
ON_SCREEN = $(if $(DISPLAY),,xvfb-run -a -s "-screen 0 1920x1200x24")
PYTEST_ARGS ?=

.PHONY: demo test bench screen orthanc clean docs package package-test install-dl test-dl

$(PY):
	$(PYTHON) -c 'import sys; sys.exit("radgui needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/radgui demo

# Debian packages for a virtual screen (Xvfb + Mesa GL), only when missing and root.
screen:
	@if [ -z "$(DISPLAY)" ] && ! command -v xvfb-run >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XVFB_PACKAGES) >/dev/null; \
		else \
			echo "no DISPLAY and no xvfb-run: install as root: apt-get install $(XVFB_PACKAGES)"; exit 1; \
		fi; \
	fi

# Debian packages for the PACS tests (a real Orthanc with DICOMweb on loopback), only when missing and
# root; otherwise those tests skip with the reason.
ORTHANC_PACKAGES := orthanc orthanc-dicomweb
orthanc:
	@if ! command -v Orthanc >/dev/null 2>&1 && [ ! -x /usr/sbin/Orthanc ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ORTHANC_PACKAGES) >/dev/null \
				|| echo "could not install $(ORTHANC_PACKAGES): the PACS tests will skip"; \
		else \
			echo "Orthanc absent (install as root: apt-get install $(ORTHANC_PACKAGES)): the PACS tests will skip"; \
		fi; \
	fi

test: $(VENV)/.installed-test screen orthanc
	$(VENV)/bin/lint-imports
	$(ON_SCREEN) $(PY) -m pytest -ra $(PYTEST_ARGS)

# Optional extra radgui[dl] (radgui.dl): torch's CPU wheel pinned FIRST, because an open `torch`
# requirement with no torch installed pulls a multi-GB CUDA build; then MONAI and safetensors, which
# the pinned torch already satisfies. Measured on the 2-core machine: 25 s + 2.4 s, +864 MB of venv.
TORCH_PIN ?= torch==2.13.0
$(VENV)/.installed-dl: pyproject.toml | $(VENV)/.installed-test
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[test,dl]"
	touch $@

install-dl: $(VENV)/.installed-dl

test-dl: $(VENV)/.installed-dl screen
	$(ON_SCREEN) $(PY) -m pytest -ra tests/test_dl_*.py $(PYTEST_ARGS)

# glmnet's Fortran (python-glmnet, the `bench` extra) is the reference of benchmarks/bench_lasso.py.
$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-test
	$(PIP) install --quiet -e ".[test,bench]"
	touch $@

bench: $(VENV)/.installed-bench screen
	@for b in benchmarks/bench_*.py; do \
		echo "== $$b"; $(ON_SCREEN) $(PY) $$b || exit 1; \
	done

# Documentation: mkdocs (Material) + mkdocstrings, offline, warnings are errors. The page of
# each CLI command is generated from argparse at build time by the hook radgui/cli/_docs.py.
$(VENV)/.installed-docs: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[docs]"
	touch $@ $(VENV)/.installed

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --clean --site-dir build/site

# Desktop build (PyInstaller one-folder, demo case and demo model inside). Heavy: minutes.
$(VENV)/.installed-package: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[package]"
	touch $@ $(VENV)/.installed

package: $(VENV)/.installed-package
	$(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/radgui.spec
	@du -sh dist/radgui

package-test: screen
	@test -x dist/radgui/radgui || { echo "dist/radgui/radgui missing: run make package first"; exit 1; }
	rm -f build/package-test.png
	mkdir -p build
	$(ON_SCREEN) dist/radgui/radgui demo --screenshot build/package-test.png
	$(PY) packaging/check_screenshot.py build/package-test.png
	dist/radgui/radgui -c "import runpy; runpy.run_path('packaging/check_frozen.py', run_name='__main__')"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
