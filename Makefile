# cryptoplug — the two commands a newcomer needs are `make conformance` and
# `make test`; both install what they need first (`make deps`).

SHELL := /bin/bash
GO    ?= go

# Debian packages the tests start for real: SoftHSM2 and OpenSC's pkcs11-tool
# (PKCS#11), swtpm and libssl-dev (TPM daemon and the in-process simulator),
# PostgreSQL (the shared authn store), p11-kit (its RPC server and client
# module stand in for a network HSM), curl and jq (the README's server
# walkthrough, which refserver's tests run as written); opencryptoki (its
# soft token and pkcsslotd) and tpm2-pkcs11 with its tools, behind
# tpm2-abrmd on a private D-Bus bus (dbus-daemon, dbus-send, the session bus
# configuration), as two more PKCS#11 tokens; tpm2-openssl, openssl and
# tpm2-tools with the swtpm and tabrmd TCTIs for TSS2 key file
# interoperability; openssl is also the OCSP responder authn's tests start,
# and with ssh-keygen checks the cryptoplug command's signatures,
# certificates and keys.
DEB_PACKAGES := softhsm2 opensc swtpm swtpm-tools libssl-dev postgresql gcc p11-kit p11-kit-modules curl jq \
	opencryptoki libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-abrmd tpm2-openssl tpm2-tools openssl \
	libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 dbus-daemon dbus-bin dbus-session-bus-common openssh-client

BACKEND ?=
REPORT  ?=
# conformance: BUDGET=small for a slow token (fewer signatures, vectors and
# concurrent operations; the report lists what was reduced); CHECKS=a,b runs
# only those rows of the matrix.
BUDGET  ?= full
CHECKS  ?=
# bench rounds: 1 takes about 5 minutes for the three defaults on 2 cores;
# use COUNT=5 or more for benchstat confidence intervals (the committed report).
COUNT   ?= 1
BENCHTIME ?= 1s
BENCH_DEFAULTS := software pkcs11 tpm
FUZZTIME ?= 30s

.PHONY: all deps build cryptoplug test conformance tokens-report bench bench-report lint fuzz clean

all: build cryptoplug

## deps: install the Debian packages the tests need, when missing.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present ($(DEB_PACKAGES))"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "deps: missing$$missing; run:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	fi

## build: compile everything, with and without cgo.
build:
	$(GO) build ./...
	CGO_ENABLED=0 $(GO) build ./...

## cryptoplug: the command-line tool, bin/cryptoplug, carrying the test
## vectors its conformance subcommand needs (Wycheproof from the module
## cache, Go's Ed25519 vectors), so that it runs the whole suite on a machine
## with no Go toolchain: copy the one file there.
cryptoplug:
	$(GO) run ./cmd/cryptoplug/internal/vectors/mkarchive -o bin/vectors.tar.gz -overlay bin/vectors-overlay.json
	$(GO) build -tags cryptoplug_vectors -overlay bin/vectors-overlay.json -o bin/cryptoplug ./cmd/cryptoplug
	@bin/cryptoplug version

## test: every test with the race detector, on real SoftHSM2, TPM simulator,
## swtpm, SQLite and PostgreSQL.
test: deps
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -race -count=1 -timeout 25m ./...

## conformance: the conformance suite on every built-in backend's embedded
## default, or on BACKEND='<uri>'; progress on stderr, prints the matrix,
## writes REPORT if set; BUDGET=small and CHECKS=… for a slow token.
conformance: deps
	cd conformance && $(GO) test -count=1 -timeout 60m -run 'TestConformance' \
	  -args -backend '$(BACKEND)' -progress -budget '$(BUDGET)' $(if $(CHECKS),-checks '$(CHECKS)') \
	  $(if $(REPORT),-report '$(abspath $(REPORT))')

## tokens-report: run the conformance suite (every algorithm) on SoftHSM2,
## opencryptoki and tpm2-pkcs11 into docs/tokens/NAME.json (the reference
## make test holds them to), then render docs/tokens.md from them. A token's
## wrong answers fail its run; a run that does not reach its end (no
## report) fails the target.
TOKENS := softhsm2 opencryptoki tpm2-pkcs11
tokens-report: deps
	@set -u; for t in $(TOKENS); do \
	  out='$(abspath docs/tokens)'/$$t.json; rm -f "$$out"; \
	  echo "tokens-report: $$t" >&2; \
	  $(GO) test -count=1 -timeout 60m -run '^TestTokenReport$$' ./backends/pkcs11 \
	    -args -token-report=$$t -token-report-out="$$out" -token-report-full > /dev/null || true; \
	  [ -s "$$out" ] || { echo "tokens-report: the run on $$t did not reach its end" >&2; exit 1; }; \
	done
	$(GO) run ./cmd/tokenreport -o docs/tokens.md docs/tokens

## bench: benchmark every embedded default (or BACKEND='<uri>') COUNT rounds
## into bench/results/<scheme>.txt, then print benchstat tables: baseline,
## backend and peer libraries side by side.
bench: deps
	@set -euf -o pipefail; mkdir -p bench/results; \
	$(GO) test -c -o bench/results/bench.test ./bench; \
	backends='$(or $(BACKEND),$(BENCH_DEFAULTS))'; \
	for b in $$backends; do : > "bench/results/$${b%%:*}.txt"; done; \
	for i in $$(seq $(COUNT)); do for b in $$backends; do \
	  echo "bench: round $$i of $(COUNT): $${b%%:*}" >&2; \
	  bench/results/bench.test -test.run '^$$' -test.bench . -test.benchtime $(BENCHTIME) -test.timeout 1h \
	    -backend "$$b" | tee -a "bench/results/$${b%%:*}.txt"; \
	done; done; \
	for b in $$backends; do \
	  $(GO) tool benchstat -col '/impl@(baseline backend crypto11 go-tpm-tools)' -row /op,/alg,/p "bench/results/$${b%%:*}.txt"; \
	done

## bench-report: render docs/benchmarks.md and docs/benchmarks.svg from
## bench/results/*.txt (NOTES=file adds a hand-written analysis section).
bench-report:
	$(GO) run ./cmd/benchreport -o docs/benchmarks.md -svg docs/benchmarks.svg $(if $(NOTES),-notes $(NOTES)) bench/results/*.txt

## lint: go vet and staticcheck (pinned by a tool directive in go.mod).
lint:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./backends/...
	$(GO) tool staticcheck ./...

## fuzz: a short run of every fuzz target (FUZZTIME each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	$(GO) clean -testcache
	rm -rf bin
