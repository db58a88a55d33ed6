# okta-bridge: the two commands. Both install what they need themselves (see scripts/).
.PHONY: dev test test-fast lint clean-local

## make dev: the whole system locally (AWS emulator, all functions on 127.0.0.1:3000, demo tenant)
dev:
	@bash scripts/dev.sh

## make test: fmt, clippy, cfn-lint, unit tests and end-to-end tests against the local emulator
test:
	@bash scripts/test.sh

## make test-fast: the use cases on in-memory ports, in seconds (no emulator, no AWS SDK build)
test-fast:
	@cargo test -p shared --features fakes

## make lint: just the static checks (installs only cfn-lint)
lint:
	@bash scripts/test.sh --lint-only

clean-local:
	rm -rf .venv .venv-lint .local
