# Google's in-memory Pub/Sub fake (pstest from Debian's golang-google-cloud-dev), built
# with Debian's Go in GOPATH mode. Included from the Makefile.
#   make pubsub-fake       install the Go toolchain + sources when missing, build the binary
#   make pubsub-fake-run   serve it on PUBSUB_FAKE_PORT (default 8085); then
#                          export PUBSUB_EMULATOR_HOST=127.0.0.1:8085
PUBSUB_FAKE_BIN ?= .harness/bin/pubsub-fake
PUBSUB_FAKE_HOST ?= 127.0.0.1
PUBSUB_FAKE_PORT ?= 8085
PUBSUB_FAKE_GOPATH ?= /usr/share/gocode
PUBSUB_FAKE_SRC := tools/pubsub-fake/main.go tools/pubsub-fake/build.sh
# apt-get as is when root (CI), through sudo otherwise
APT_GET ?= $(if $(filter 0,$(shell id -u)),,sudo )apt-get

.PHONY: pubsub-fake pubsub-fake-deps pubsub-fake-run

pubsub-fake: $(PUBSUB_FAKE_BIN)  ## build Google's Pub/Sub fake into .harness/bin

pubsub-fake-deps:
	@if ! command -v go >/dev/null 2>&1 || \
	    [ ! -d "$(PUBSUB_FAKE_GOPATH)/src/cloud.google.com/go/pubsub/pstest" ]; then \
	  echo "installing golang-go golang-google-cloud-dev"; \
	  $(APT_GET) update -q && \
	  DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q golang-go golang-google-cloud-dev; \
	fi

$(PUBSUB_FAKE_BIN): $(PUBSUB_FAKE_SRC) | pubsub-fake-deps
	PUBSUB_FAKE_GOPATH=$(PUBSUB_FAKE_GOPATH) tools/pubsub-fake/build.sh $@

pubsub-fake-run: $(PUBSUB_FAKE_BIN)  ## serve the fake on PUBSUB_FAKE_HOST:PUBSUB_FAKE_PORT
	exec $(PUBSUB_FAKE_BIN) -host $(PUBSUB_FAKE_HOST) -port $(PUBSUB_FAKE_PORT)
