# Included by each chapters/<ch>/Makefile: `make check` (and hint, run,
# try, trace, watch, reset) from inside a chapter's folder. The workbook's
# Makefile two folders up does the work, for that chapter; EX=<exercise>
# without a chapter means one of that chapter's.

# this file and the chapter's Makefile are never targets to remake
$(MAKEFILE_LIST): ;
HERE := $(notdir $(patsubst %/,%,$(CURDIR)))
TOP := $(abspath $(CURDIR)/../..)
CHAPTER ?= $(HERE)
EX ?=
EX_HERE = $(if $(EX),EX=$(if $(findstring /,$(EX)),$(EX),$(HERE)/$(EX)))
SUB = $(MAKE) --no-print-directory -C $(TOP)

.DEFAULT_GOAL := check
.PHONY: check hint try trace watch run reset
check hint try trace watch:
	+@$(SUB) $@ CHAPTER=$(CHAPTER) $(EX_HERE)
run reset:
	+@$(SUB) $@ $(EX_HERE)
%:
	+@$(SUB) $@
