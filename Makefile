# The two commands a newcomer needs (see README.md):
#   make demo   provision, configure, summarise and tear down the platform on the twin
#   make test   every test (lint, unit, twin, integration)
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= local

.PHONY: help demo test venv venv-dev twin-up twin-down twin-status site configure teardown plan lint unit integration molecule bench bench-hosts

help:
	@echo "make demo        run the main job on the twin (site.yml, summary, teardown.yml)"
	@echo "make test        run every test"
	@echo "make twin-up | twin-down | twin-status   the twin's control planes"
	@echo "make site | plan | teardown ENV=NAME     site.yml, site.yml --check --diff, teardown.yml"
	@echo "make configure ENV=NAME   configure the GPU hosts only (driver, /data, PyTorch)"
	@echo "make molecule    the host roles' molecule scenarios"
	@echo "make bench       time provision / no-op / teardown on the twin"
	@echo "make bench-hosts time the configure phase on 1, 4 and 8 twin hosts"

venv:
	@scripts/bootstrap.sh --twin

venv-dev:
	@scripts/bootstrap.sh --dev

demo: venv
	@scripts/demo.sh

test: venv-dev
	@scripts/test.sh

twin-up: venv
	@twin/twinctl up

twin-down:
	@twin/twinctl down

twin-status:
	@twin/twinctl status

site: venv
	.venv/bin/ansible-playbook site.yml -e env=$(ENV)

configure: venv
	.venv/bin/ansible-playbook configure.yml -e env=$(ENV)

plan: venv
	.venv/bin/ansible-playbook site.yml -e env=$(ENV) --check --diff

teardown: venv
	.venv/bin/ansible-playbook teardown.yml -e env=$(ENV)

lint: venv-dev
	.venv/bin/yamllint -s .
	.venv/bin/ansible-lint

unit: venv-dev
	.venv/bin/python -m pytest tests/unit -q

integration: venv-dev
	.venv/bin/python -m pytest tests/twin tests/integration -q

molecule: venv-dev
	.venv/bin/python -m pytest tests/molecule -q

bench: venv
	.venv/bin/python bench/run.py

bench-hosts: venv
	.venv/bin/python bench/hosts.py
