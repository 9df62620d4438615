# kiln builds as one static binary. The tags drop the storage drivers and
# signature code that need cgo; they are the same for every go command here.
GO        ?= go
TAGS      := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper,exclude_graphdriver_zfs
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
export CGO_ENABLED=0
export GOFLAGS=-tags=$(TAGS)

.PHONY: all kiln test test-unit test-e2e e2e.test vet fmt demo bench clean fuzz

all: kiln

# kiln embeds the sandbox init, built first on its own (exec/initbin): a RUN step starts it in
# about a millisecond, where re-executing all of kiln takes five.
INIT      := exec/initbin/kiln-init
kiln: $(INIT)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kiln ./cmd/kiln

$(INIT): $(wildcard exec/*.go exec/initbin/*.go) go.mod go.sum
	GOFLAGS=-tags=$(TAGS),kilninit $(GO) build -trimpath -ldflags '-s -w' -o $@ ./exec/initbin

# test runs every test: unit tests and the end-to-end suite against bin/kiln.
test: kiln
	KILN_BIN=$(CURDIR)/bin/kiln $(GO) test -count=1 -timeout 40m ./...

test-unit:
	$(GO) test -count=1 -short ./...

# e2e.test compiles the end-to-end suite so .ci/run can run it as other users.
e2e.test: kiln
	$(GO) test -c -o bin/e2e.test ./cmd/kiln

# fuzz runs each fuzz target for FUZZTIME (CI: a few seconds each, under a minute in all).
FUZZTIME  ?= 8s
FUZZ      := ./build:FuzzIgnored ./build:FuzzExtractEntry ./overlay:FuzzDiffWhiteouts \
	./overlay:FuzzParseOverrideStat ./build/dockerfile:FuzzParse ./build/instructions:FuzzExposedPorts \
	./exec:FuzzParsePasswd ./userns:FuzzParseSubIDs ./storage:FuzzCheckLayerTar
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzz $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		GO=$(GO) bash contrib/ci/fuzz.sh "$${t%%:*}" "$${t#*:}" $(FUZZTIME); \
	done

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

demo: kiln
	bash contrib/demo.sh

bench: kiln
	bash contrib/bench/run.sh

clean:
	rm -rf bin $(INIT)
