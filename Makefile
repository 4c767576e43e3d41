# Build, run and test the store. `make help` lists the targets.
GO       ?= go
BIN      := bin
PKGS     := ./...
FUZZTIME ?= 30s
BENCHTIME ?= 1s

.PHONY: help build run cluster cluster-stop cluster-status sla sla-all test lint race suite chaos soak sim sim-mutants unit bench bench-memcached bench-join bench-aae bench-loadgen bench-tls cost-model cluster-cost fuzz clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/dynamod, bin/loadgen, bin/dynctl and the other tools (each answers -version)
	@mkdir -p $(BIN)
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/...

# make run PORT=11311 DATA=/tmp/d picks another port or data directory
# (a system memcached often holds 11211).
PORT ?= 11211
DATA ?= ./data
run: build ## start one node: Pebble under ./data, memcached port 127.0.0.1:11211 (PORT=, DATA= to change)
	./$(BIN)/dynamod -listen 127.0.0.1:$(PORT) -data $(DATA)

cluster: build ## start 3 nodes on 127.0.0.1 (memcached ports 21211-21213, data under ./cluster)
	perf/cluster.sh start 3

cluster-stop: ## stop the local cluster
	perf/cluster.sh stop

cluster-status: ## members, state and partitions of the local cluster
	perf/cluster.sh status

PROFILE ?= perf/max-throughput.toml
sla: build ## run PROFILE (perf/NAME.toml) on a local cluster it configures; exit 1 if its SLA is missed
	./$(BIN)/dynsla $(PROFILE)

sla-all: build ## every profile in perf/, one after another; fails if any SLA was missed
	@failed=""; for p in perf/*.toml; do ./$(BIN)/dynsla $$p || failed="$$failed $$p"; done; \
	  if [ -n "$$failed" ]; then echo "SLA missed or run failed:$$failed"; exit 1; fi

test: lint race suite ## what CI runs: gofmt, go vet, every test under the race detector, memcached's own tests

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

race: ## all tests with the race detector
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

suite: ## memcached 1.6.18's own protocol test files against this server (../shared/reference), without the race detector
	$(GO) test -count=1 -run '^TestMemcachedSuite$$' ./protocol/compat/

SEEDS ?= 1-3
FAULTS ?= 30s
chaos: build ## fault harness: real nodes in network namespaces, seeded faults, a checker (root; SEEDS=1-3, FAULTS=30s)
	./$(BIN)/dynchaos -dynamod $(BIN)/dynamod -seeds $(SEEDS) -faults $(FAULTS) -out chaos-out

soak: build ## the fault harness over 100 schedules (SEEDS, FAULTS as for chaos)
	./$(BIN)/dynchaos -dynamod $(BIN)/dynamod -seeds $(if $(filter 1-3,$(SEEDS)),1-100,$(SEEDS)) -faults $(FAULTS) -out soak-out

# make sim SEEDS=N runs seeds 1-N; SIM_SEEDS takes a range or list (1-500, 7,9).
SIM_SEEDS ?= 1-500
sim_seeds = $(if $(filter command line,$(origin SEEDS)),1-$(SEEDS),$(SIM_SEEDS))
sim: ## deterministic simulation: whole clusters in one process, simulated time, network and disks (SEEDS=N or SIM_SEEDS=1-500); ends "N passed, M failed"
	@mkdir -p sim-out
	@{ $(GO) test -count=1 -timeout 600m -run '^TestSimulation$$' ./engine/sim -sim.seeds $(sim_seeds) -sim.out $(CURDIR)/sim-out -v 2>&1; echo $$? > sim-out/rc; } \
	  | tee sim-out/sim.log | grep --line-buffered -E '^ +sim_test.go:|^(ok|FAIL|--- FAIL)'; \
	  line=$$(grep -oE '[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$$' sim-out/sim.log | tail -1); \
	  echo "$${line:-0 passed, 1 failed (the simulator did not finish: see sim-out/sim.log)}"; exit $$(cat sim-out/rc)

MUTANT_SEEDS ?= 200
sim-mutants: ## prove the simulator bites: each bug of engine/sim/mutants on a scratch worktree, seeds 1-MUTANT_SEEDS (MUTANTS=names)
	SEEDS=$(MUTANT_SEEDS) MUTANTS="$(MUTANTS)" perf/sim-mutants.sh

unit: ## all tests, no race detector (faster)
	$(GO) test -count=1 $(PKGS)

bench: ## microbenchmarks (parser, engine, store); BENCHTIME=3s for steadier figures
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

bench-memcached: ## this store vs a real memcached, side by side (perf/compare-memcached.sh; MODES, DEPTHS, ROUNDS)
	perf/compare-memcached.sh

bench-tls: ## what TLS on the client port costs: dynamod and memcached, plain and TLS, side by side (perf/compare-tls.sh; DEPTHS, ROUNDS)
	perf/compare-tls.sh

bench-join: ## a fourth node joins a loaded 3-node cluster, admission controller on and off (perf/bench-join.sh; KEYS, VALUE, IDLE, RATE)
	perf/bench-join.sh

AAE_KEYS ?= 1000000
bench-aae: ## anti-entropy between two replicas of AAE_KEYS keys: a first pass, then 1, 100 and 10,000 keys lost (time, wire bytes, records read)
	$(GO) test -count=1 -timeout 60m -run '^TestAntiEntropyCost$$' ./engine/cluster -aae.keys $(AAE_KEYS) -v | grep -vE '^=== RUN'

cost-model: ## syscalls, context switches, allocations and time per replicated get and set (perf/cost-model.sh; OPS)
	perf/cost-model.sh

cluster-cost: ## CPU, syscalls and context switches per request on a loaded 3-node cluster (perf/cluster-cost.sh; BINS, PIPES, ROUNDS)
	perf/cluster-cost.sh

bench-loadgen: ## loadgen vs memcaslap on one memcached, side by side (perf/compare-memcaslap.sh; ROUNDS, PIN, IO)
	perf/compare-memcaslap.sh

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

clean: ## remove binaries (not ./data)
	rm -rf $(BIN)
