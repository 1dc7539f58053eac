# Two entry points: `make app` and `make test`. Each sets up everything it needs first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: app test browser

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

app: $(STAMP)
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

test: $(STAMP) browser
	$(PY) -m pytest

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
browser:
	@test -x /usr/bin/chromium || scripts/install-chromium
