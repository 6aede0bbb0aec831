# LabShare — the two commands are `make run` and `make test`.

CARGO ?= cargo
DATABASE_URL ?= labshare.db
export DATABASE_URL

.PHONY: run test test-sqlite test-pg openapi lint fmt contract bench

## run: build, migrate, load the demo data (once) and serve on 127.0.0.1:8080
run:
	$(CARGO) build --bin labshare
	./target/debug/labshare seed-demo
	./target/debug/labshare serve

## test: formatting, lints, the whole suite on SQLite and PostgreSQL, then the contract checks
test: lint
	$(CARGO) test --workspace
	$(MAKE) contract

## contract: lint openapi.yaml and fuzz the live server on SQLite (see .ci/contract)
contract:
	$(CARGO) build --bin labshare
	.ci/contract

## test-pg: the suite, failing (not skipping) when PostgreSQL is unreachable
test-pg:
	CI=true $(CARGO) test --workspace

## openapi: rewrite openapi.yaml from the code
openapi:
	$(CARGO) run -q --bin labshare -- openapi > openapi.yaml

## lint: rustfmt and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: release build, scale dataset, the server under load at concurrency 64 beside the
## same work in-process, on SQLite and PostgreSQL; table on stdout, JSON in bench-results/
SCALE ?= 1
BENCH_ARGS ?=
bench:
	$(CARGO) build --release --bin labshare --bin labshare-bench
	./target/release/labshare-bench --scale $(SCALE) --server ./target/release/labshare --out bench-results $(BENCH_ARGS)
