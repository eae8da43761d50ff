# A workbook of socket-programming exercises in C.  `make help` lists the targets.

# The harness needs a Python 3 that has pytest; Debian's python3-pytest
# installs for /usr/bin/python3, which may not be the python3 first on PATH.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import pytest, xdist' 2>/dev/null; \
	  then command -v $$p; break; fi; done)
PY := $(or $(PYTHON),$(shell command -v /usr/bin/python3 || command -v python3),/usr/bin/python3)
# a machine with no Python at all: root installs Debian's, anyone else is told how
NEEDS_PYTHON = @command -v $(PY) >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then \
	echo "Installing what the workbook needs (apt-get, as root): python3"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3; \
	else echo "The workbook needs Python 3. Run: sudo apt-get install python3"; exit 2; fi; }
CHAPTER ?=
# CHAPTER=01_hello/ and CHAPTER=chapters/01_hello/ (what tab completion gives)
# mean 01_hello; EX=chapters/01_hello/hello_server means 01_hello/hello_server
override CHAPTER := $(patsubst chapters/%,%,$(patsubst %/,%,$(CHAPTER)))
SANITIZE ?=
SRC ?= chapters
SEED ?=
JOBS ?= auto
GRADE := $(PY) tests/grade.py

.PHONY: help check test deps docs clean valgrind hint reset watch run try trace
help:
	@echo "make check [CHAPTER=01_hello] [SANITIZE=1]  grade your work in chapters/"
	@echo "make check SRC=path/to/chapters            grade another copy (a student's)"
	@echo "make check SEED=12345                      replay the faults a failing test was shown"
	@echo "make test [VERBOSE=1] [CHAPTER=01_hello]    the workbook's self-test (instructors, CI); VERBOSE lists each proof, CHAPTER proves one chapter"
	@echo "make hint EX=01_hello/hello_server          the next hint for an exercise"
	@echo "make reset EX=01_hello/hello_server [FORCE=1]  restore a starter (your file is backed up)"
	@echo "make watch [CHAPTER=01_hello]              re-run the tests each time you save"
	@echo "make run EX=04_iterative_echo/echo_server  run one of your programs on a free port"
	@echo "make try CHAPTER=04_iterative_echo         your server and client, to talk to by hand"
	@echo "make trace CHAPTER=01_hello                the chapter's packets, as a timeline"
	@echo "  (inside chapters/<ch>/, make check, hint, run, try, trace and watch are for that chapter)"
	@echo "make deps [CHAPTER=...]                    install the Debian/Ubuntu packages needed (by these chapters)"
	@echo "make docs                                  regenerate exercises.md and the review sections"
	@echo "make editor                                compile_commands.json, so clangd (VS Code ...) knows the flags"
	@echo "make valgrind                              run the reference solutions under valgrind"
	@echo "make bench [CHAPTER=17_epoll] [N=\"1 10\"] [QUICK=1]  the servers for many clients under load (docs/bench.md)"
	@echo "make handout                               build/handout/: what students receive (no solutions)"
	@echo "make gradescope [CHAPTER=01_hello]         build/gradescope/autograder.zip for Gradescope"
	@echo "make grade SUBMISSIONS=dir [JOBS=n] [OUT=dir] [FRESH=1] [DEADLINE=time]  grade a class: one folder per student; a regrade merges into OUT's class.csv"
	@echo "make classroom [CHAPTER=\"01_hello ...\"]     rewrite the GitHub Classroom workflow (for these chapters) from the points"
	@echo "make clean                                 remove build/"

comma := ,
# the variables given on make's command line (VAR=value), by name
GIVEN_VARS = $(sort $(foreach v,$(MAKEOVERRIDES),$(if $(findstring =,$(v)),\
	$(firstword $(subst :, ,$(subst =, ,$(v)))))))
# make check takes these; anything else (EX=, a typo such as CHAPTERS=) is an
# error, not silently ignored (it would grade every chapter)
CHECK_VARS := CHAPTER SANITIZE SRC JOBS SEED PYTHON NO_COLOR WORKBOOK_%
CHECK_UNKNOWN = $(filter-out $(CHECK_VARS),$(GIVEN_VARS))
CHECK_REFUSAL = make check does not take $(foreach v,$(CHECK_UNKNOWN),$(v)=): it takes \
	CHAPTER=<chapter> (e.g. CHAPTER=01_hello), SANITIZE=1, SRC=<folder>, JOBS=<n> and SEED=<n>. \
	$(if $(filter EX,$(CHECK_UNKNOWN)),make check grades whole chapters; EX= is for make \
	hint$(comma) make reset and make run.$(if $(EX), For the chapter of EX=$(EX): make check \
	CHAPTER=$(firstword $(subst /, ,$(EX)))))
check:
	@$(if $(CHECK_UNKNOWN),echo '$(subst ','\'',$(CHECK_REFUSAL))'; exit 2)
	$(NEEDS_PYTHON)
	@$(GRADE) check --src $(SRC) $(if $(CHAPTER),--chapter $(CHAPTER)) $(if $(filter 1 yes true,$(SANITIZE)),--sanitize) --jobs $(JOBS) $(if $(SEED),--seed $(SEED))

# the self-test, the handout and the autograder need the reference solutions
# and keys, which a student's copy (the handout) does not have
NEEDS_SOLUTIONS = @test -d solutions || { echo "make $@ needs solutions/ (the reference \
solutions and answer keys), which a student's copy does not have. Use make check."; exit 2; }

test:
	$(NEEDS_SOLUTIONS)
	$(NEEDS_PYTHON)
	@$(GRADE) selftest --jobs $(JOBS) $(if $(SEED),--seed $(SEED)) $(if $(filter 1 yes true,$(VERBOSE)),--verbose) $(if $(CHAPTER),--chapter $(CHAPTER))

deps:
	@$(GRADE) deps --install $(foreach c,$(CHAPTER),--chapter $(c))

# a whole class, each student in isolation (docs/instructor-guide.md)
SUBMISSIONS ?=
OUT ?=
FRESH ?=
DEADLINE ?=
.PHONY: grade
grade:
	$(NEEDS_SOLUTIONS)
	@$(PY) tests/classgrade.py grade --submissions "$(SUBMISSIONS)" --jobs $(JOBS) $(foreach c,$(CHAPTER),--chapter $(c)) $(if $(OUT),--out "$(OUT)") $(if $(filter 1 yes true,$(FRESH)),--fresh) $(if $(DEADLINE),--deadline "$(DEADLINE)")

TOOLS := $(PY) tests/tools.py
EX ?=
override EX := $(patsubst chapters/%,%,$(EX))
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

# compile_commands.json for clangd (tests/harness/editor.py)
.PHONY: editor
editor:
	@cd tests && $(PY) -m harness.editor

clean:
	rm -rf build

# The references under valgrind (memcheck: invalid accesses, uninitialised
# values, definite leaks): every chapter but the Windows one, which runs
# under Wine (tests/harness/checkrun.py leaves it out).
.PHONY: valgrind
valgrind:
	$(NEEDS_SOLUTIONS)
	@$(GRADE) check --src solutions --valgrind --jobs 4

# The servers for many clients under load: build/bench/ (docs/bench.md).
# CHAPTER= puts your server beside that chapter's reference; N="1 10 100"
# the numbers of connections; QUICK=1 a short run; REFS=dir more folders
# laid out like solutions/ for servers it lacks; SERVERS=a,b only these.
N ?=
QUICK ?=
REFS ?=
SERVERS ?=
.PHONY: bench
bench:
	$(NEEDS_PYTHON)
	@$(PY) tests/bench.py $(if $(CHAPTER),--chapter $(CHAPTER) $(if $(filter-out chapters,$(SRC)),--src $(SRC))) $(if $(N),--n "$(N)") $(if $(filter 1 yes true,$(QUICK)),--quick) $(foreach r,$(REFS),--refs $(r)) $(if $(SERVERS),--servers $(SERVERS))

# What students receive, and the Gradescope autograder (docs/instructor-guide.md)
PACKAGE := $(PY) tests/package.py
.PHONY: handout gradescope classroom classroom-result
classroom:
	$(NEEDS_SOLUTIONS)
	@$(PACKAGE) classroom $(foreach c,$(CHAPTER),--chapter $(c))
# (in the GitHub Classroom workflow) the points make check gave a chapter
classroom-result:
	@$(PACKAGE) classroom-result --chapter $(CHAPTER)
handout:
	$(NEEDS_SOLUTIONS)
	@$(PACKAGE) handout
gradescope:
	$(NEEDS_SOLUTIONS)
	@$(PACKAGE) gradescope $(foreach c,$(CHAPTER),--chapter $(c))
