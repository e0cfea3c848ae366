# envctl: two commands do everything on a fresh machine.
#   make demo   set up the local backends, build, create tenant `demo`, print its report
#   make test   set up, build, run every test (unit + end-to-end against moto)
#   make serve  the local backends plus `envctl serve` with serve.example.yaml on :8080
# Also: make local-up / local-down / bench / lint / clean-local

SHELL := /bin/bash
.DEFAULT_GOAL := help

LOCAL      := $(CURDIR)/.local
MOTO_PORT  ?= 4566
# The DNS domain of the local backends (${envctl.domain}): not a reserved
# name, so that the stack is the one a real account runs; its parent zone is
# created in moto by local-up.
LOCAL_DOMAIN ?= envctl-demo.net
K8S        := integration/k8s/cluster.sh
# The test cluster runs beside a `make local-up` one, on other ports. Every
# fixed port is below Linux's ephemeral range (32768-60999): a port in it can
# be taken, at any moment, by the local end of an outgoing connection (the
# apiserver's to etcd once took 35432 just before PostgreSQL was to bind it).
K8S_TEST_DIR   := $(LOCAL)/k8s-test
K8S_TEST_PORTS := ENVCTL_K8S_ETCD_PORT=24790 ENVCTL_K8S_ETCD_PEER_PORT=24800 \
	ENVCTL_K8S_APISERVER_PORT=24443 ENVCTL_K8S_KCM_PORT=24257 ENVCTL_K8S_SCHED_PORT=24259 \
	ENVCTL_K8S_KWOK_PORT=24080
PG_TEST_DIR  := $(LOCAL)/pg-test
PG_TEST_PORT := 25432
ENVCTL     := $(CURDIR)/target/debug/envctl

# Never let the AWS SDK look for credentials on the network (the EC2
# metadata address must not be contacted from these machines).
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export CARGO_TERM_COLOR ?= never

# The demo and local-up always point at the local backends, whatever the
# shell holds: a demo must never touch a real account.
LOCAL_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
	AWS_PROFILE=default AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	ENVCTL_STATE=$(LOCAL)/state.sqlite KUBECONFIG=$(LOCAL)/k8s/kubeconfig \
	ENVCTL_DOMAIN=$(LOCAL_DOMAIN)

.PHONY: help setup build test lint demo serve local-up local-down bench clean-local

help:
	@sed -n '2,6p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@integration/moto.sh install
	@$(K8S) build
	@integration/postgres.sh install
	@integration/browser/setup.sh
	@integration/apitools.sh install

build:
	cargo build --all-targets

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# Starts a private cluster and PostgreSQL server for the run and always
# stops them again.
test: setup build
	@$(K8S_TEST_PORTS) $(K8S) up $(K8S_TEST_DIR)
	@rc=0; pg_url=$$(integration/postgres.sh start $(PG_TEST_DIR) $(PG_TEST_PORT)) || rc=$$?; \
	if [ $$rc -eq 0 ]; then \
		ENVCTL_TEST_KUBECONFIG=$(K8S_TEST_DIR)/kubeconfig ENVCTL_TEST_POSTGRES=$$pg_url \
		cargo test --lib --bins --tests -- --test-threads 4 || rc=$$?; \
	fi; \
	integration/postgres.sh stop $(PG_TEST_DIR); \
	$(K8S_TEST_PORTS) $(K8S) down $(K8S_TEST_DIR); exit $$rc
	$(MAKE) --no-print-directory lint

local-up: setup
	@mkdir -p $(LOCAL)
	@integration/moto.sh start $(MOTO_PORT) $(LOCAL)/moto
	@zone=$$($$(integration/moto.sh python) integration/parent_zone.py \
		http://127.0.0.1:$(MOTO_PORT) $(LOCAL_DOMAIN)) && \
		echo "public hosted zone $(LOCAL_DOMAIN) ($$zone): tenant zones are delegated from it"
	@$(K8S) up $(LOCAL)/k8s
	@printf 'export %s\n' $(LOCAL_ENV) 'PATH=$(CURDIR)/target/debug:$$PATH' > $(LOCAL)/env
	@echo "local backends up; to use envctl against them: source .local/env"

local-down:
	@integration/moto.sh stop $(LOCAL)/moto
	@$(K8S) down $(LOCAL)/k8s
	@echo "local backends stopped"

demo: build local-up
	@echo "== envctl create tenant demo (stack stacks/tenant.yaml) on the local backends"
	$(LOCAL_ENV) $(ENVCTL) create tenant demo --stack stacks/tenant.yaml
	@echo
	@echo "== envctl get tenants"
	@$(LOCAL_ENV) $(ENVCTL) get tenants
	@echo
	@echo "== envctl env get --environment dev --tenant demo --service orders"
	@$(LOCAL_ENV) $(ENVCTL) env get --environment dev --tenant demo --service orders
	@$(LOCAL_ENV) $(ENVCTL) report tenant demo --svg $(LOCAL)/demo-timeline.svg >/dev/null
	@echo
	@echo "== kubectl get deploy -n demo (first 10 of $$(KUBECONFIG=$(LOCAL)/k8s/kubeconfig $$($(K8S) kubectl) get deploy -n demo --no-headers | wc -l))"
	@KUBECONFIG=$(LOCAL)/k8s/kubeconfig $$($(K8S) kubectl) get deploy -n demo | head -11
	@echo
	@echo "Look closer:  source .local/env && envctl describe tenant demo"
	@echo "              source .local/env && \$$(integration/k8s/cluster.sh kubectl) get deploy -n demo"
	@echo "Timeline:     .local/demo-timeline.svg"
	@echo "Tear down:    source .local/env && envctl destroy tenant demo --yes"

serve: build local-up
	@echo "== envctl serve on http://127.0.0.1:8080 (sign in with demo-operator, demo-requester or demo-viewer; Ctrl-C stops)"
	$(LOCAL_ENV) $(ENVCTL) serve --config serve.example.yaml

# The server's figures (GET /api/tenants with 1,000 tenants, SQLite and a
# private PostgreSQL it starts and stops) come first; the default-stack and
# fast-stack figures (warm pools, one run at real AWS latency, about 10
# minutes in all) need a cluster: the test cluster's, started and stopped
# around the run (not at the same time as `make test`). Both build in release.
bench: setup
	cargo bench --bench serve
	@$(K8S_TEST_PORTS) $(K8S) up $(K8S_TEST_DIR)
	@rc=0; ENVCTL_TEST_KUBECONFIG=$(K8S_TEST_DIR)/kubeconfig cargo bench --bench engine || rc=$$?; \
	$(K8S_TEST_PORTS) $(K8S) down $(K8S_TEST_DIR); exit $$rc

clean-local: local-down
	integration/postgres.sh stop $(PG_TEST_DIR)
	rm -rf $(LOCAL)
