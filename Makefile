# Two entry points: `make app` and `make test`. Each sets up everything it needs first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: app test browser data

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

app: $(STAMP) data
	$(PY) -m builder.serve --server.address 127.0.0.1 --server.port $(PORT)

# Unit and AppTest tests run on both cores; the browser tests run after them, alone, so that a
# busy machine does not starve the app server they drive.
test: $(STAMP) data browser
	$(PY) -m pytest -m "not e2e"; unit=$$?; \
	$(PY) -m pytest -m e2e -n 0; browser=$$?; \
	exit $$(( unit || browser ))

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
browser:
	@test -x /usr/bin/chromium || scripts/install-chromium

# Fashion-MNIST ships as a Debian package; every other sample dataset comes with requirements.txt.
data:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || scripts/install-datasets || \
		echo "Fashion-MNIST not installed: the app offers it once scripts/install-datasets has run."
