# CityPoints. `make demo` brings up the demo site; `make test` runs the whole suite.
# Needs only Python 3.12 and make: uv is bootstrapped into .tools/ and the environment built from uv.lock.

UV_VERSION := 0.13.9
UV ?= .tools/bin/uv
PY := $(UV) run --frozen python
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test install messages makemessages system-packages lint format migrate totp ci clean

demo: install messages
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	@echo "\nCityPoints demo: http://127.0.0.1:8000/  (Ctrl-C to stop)\n"
	$(PY) manage.py runserver 127.0.0.1:8000

test: install messages system-packages
	$(UV) run --frozen pytest $(PYTEST_ARGS)

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen

# Translations are compiled, never committed. gettext comes from Debian (installed here if missing).
messages: install
	@command -v msgfmt >/dev/null || bash .ci/system-packages gettext
	$(PY) manage.py compilemessages --ignore=.venv --ignore=.tools -v0

makemessages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=.tools --ignore=staticfiles --no-obsolete

# Chromium and CJK fonts for the browser tests; Pango and HarfBuzz for WeasyPrint (the residents' PDF report), which
# loads them at run time and embeds the Noto CJK font so Chinese prints and extracts correctly.
system-packages:
	@bash .ci/system-packages chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0

migrate: install
	$(PY) manage.py migrate

totp: install
	@$(PY) manage.py totp_code $(EMAIL)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

ci:
	bash .ci/run

clean:
	rm -rf .venv .tools staticfiles db.sqlite3 .pytest_cache
