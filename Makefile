# Convenience targets for pgsink. The real logic lives in scripts/ so that
# CI (.ci/run) and developers run exactly the same commands.
#
# Recipes use bash (they use $$(...) and the scripts are bash anyway).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help build test demo bench clean

help: ## Show this help
	@echo "pgsink make targets:"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-8s %s\n", $$1, $$2}'

build: ## Release build; prints the path of the pgsink binary
	swift build -c release
	@echo "$$(swift build -c release --show-bin-path)/pgsink"

test: ## Run all tests (starts a throwaway PostgreSQL; see scripts/test)
	bash scripts/test

demo: ## Load examples/ into the embedded server under ./.pgsink and query it
	bash scripts/demo

bench: ## pgsink vs psql \copy on TPC-H lineitem; writes docs/benchmarks.md and .png
	python3 scripts/bench

clean: ## Stop any servers started from this tree; remove .build .cache .pgsink
	-bash scripts/pg-test-server stop-all .pgsink
	-bash scripts/pg-test-server stop-all .cache
	-bash scripts/pg-test-server stop .cache/pgtest
	rm -rf .build .cache .pgsink
