# Deploying to GCP (docs/deploy.md) and checking the Terraform. Included from the Makefile.
#   make deploy ENV=dev STATE_BUCKET=my-tf-state   build + push images, terraform apply
#        (BUILDER=docker to build locally; TAG=<older tag> to roll back; AUTO_APPROVE=1)
#   make infra-check                               checkov on infra/terraform (+ fmt when
#                                                  terraform is installed); no cloud access
ENV ?= dev
BUILDER ?= cloudbuild
CHECKOV_VENV ?= .harness/checkov-venv
CHECKOV_SPEC ?= checkov==3.3.30
DEPLOY_PYTHON ?= python3

.PHONY: deploy infra-check

deploy:  ## build and push images, then terraform apply infra/terraform/envs/$(ENV)
	@case "$(ENV)" in dev|prod) ;; *) echo "ENV must be dev or prod"; exit 2 ;; esac
	BUILDER=$(BUILDER) tools/deploy.sh $(ENV)

# checkov has heavy dependencies: it gets a virtualenv of its own, not the project's.
$(CHECKOV_VENV)/.installed:
	$(DEPLOY_PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -q '$(CHECKOV_SPEC)'
	touch $@

infra-check: $(CHECKOV_VENV)/.installed  ## static checks of infra/terraform (checkov, fmt)
	$(CHECKOV_VENV)/bin/checkov -d infra/terraform --framework terraform secrets \
	  --compact --quiet --skip-download
	@if command -v terraform >/dev/null 2>&1; then \
	  terraform fmt -check -recursive infra/terraform && echo "terraform fmt: clean"; \
	elif command -v tofu >/dev/null 2>&1; then \
	  tofu fmt -check -recursive infra/terraform && echo "tofu fmt: clean"; \
	else echo "terraform/tofu not installed: fmt check skipped"; fi
