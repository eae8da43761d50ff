# A workbook of socket-programming exercises in C.  `make help` lists the targets.

# The harness needs a Python 3 that has pytest; Debian's python3-pytest
# installs for /usr/bin/python3, which may not be the python3 first on PATH.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import pytest, xdist' 2>/dev/null; \
	  then command -v $$p; break; fi; done)
PY := $(or $(PYTHON),$(shell command -v /usr/bin/python3 || command -v python3))
CHAPTER ?=
SANITIZE ?=
SRC ?= chapters
JOBS ?= auto
GRADE := $(PY) tests/grade.py

.PHONY: help check test deps docs clean valgrind hint reset watch run try trace
help:
	@echo "make check [CHAPTER=01_hello] [SANITIZE=1]  grade your work in chapters/"
	@echo "make check SRC=path/to/chapters            grade another copy (a student's)"
	@echo "make test                                  the workbook's self-test (instructors, CI)"
	@echo "make hint EX=01_hello/hello_server          the next hint for an exercise"
	@echo "make reset EX=01_hello/hello_server [FORCE=1]  restore a starter (your file is backed up)"
	@echo "make watch [CHAPTER=01_hello]              re-run the tests each time you save"
	@echo "make run EX=04_iterative_echo/echo_server  run one of your programs on a free port"
	@echo "make try CHAPTER=04_iterative_echo         your server and client, to talk to by hand"
	@echo "make trace CHAPTER=01_hello                the chapter's packets, as a timeline"
	@echo "make deps                                  install the Debian/Ubuntu packages needed"
	@echo "make docs                                  regenerate exercises.md and the review sections"
	@echo "make valgrind                              run the reference solutions under valgrind"
	@echo "make clean                                 remove build/"

check:
	@$(GRADE) check --src $(SRC) $(if $(CHAPTER),--chapter $(CHAPTER)) $(if $(filter 1 yes true,$(SANITIZE)),--sanitize) --jobs $(JOBS)

test:
	@$(GRADE) selftest --jobs $(JOBS)

deps:
	@$(GRADE) deps --install

TOOLS := $(PY) tests/tools.py
EX ?=
FORCE ?=
hint:
	@$(TOOLS) hint $(if $(EX),--ex $(EX)) $(if $(CHAPTER),--chapter $(CHAPTER))
reset:
	@$(TOOLS) reset $(if $(EX),--ex $(EX)) $(if $(filter 1 yes true,$(FORCE)),--force)
watch:
	@$(TOOLS) watch $(if $(CHAPTER),--chapter $(CHAPTER))
run:
	@$(TOOLS) run $(if $(EX),--ex $(EX))
try:
	@$(TOOLS) try $(if $(CHAPTER),--chapter $(CHAPTER))
trace:
	@$(TOOLS) trace $(if $(CHAPTER),--chapter $(CHAPTER))

docs:
	@$(GRADE) docs

clean:
	rm -rf build

# The references under valgrind (memcheck: invalid accesses, uninitialised
# values, definite leaks). The Windows chapter runs under Wine and is skipped.
.PHONY: valgrind
valgrind:
	@$(GRADE) check --src solutions --valgrind --jobs 4 --chapter 00_layered_model
	@$(GRADE) check --src solutions --valgrind --jobs 4 --chapter 01_hello
	@$(GRADE) check --src solutions --valgrind --jobs 4 --chapter 04_iterative_echo
