# The C concurrency exercise kit.  `make help` lists the targets.
.DELETE_ON_ERROR:
.SUFFIXES:

BUILD      ?= build
SUBMISSION ?= exercises
SUBMISSIONS ?=
OUT        ?= $(BUILD)/batch-out
FORCE      ?=
CHECKS     ?=
FIRST      ?=
DIST       ?= $(BUILD)/handout.tar.gz
EX         ?=
RESULTS    ?=
JOBS       ?=
V          ?=

ifeq ($(V),)
Q = @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q =
say =
endif

KIT_CC   = gcc
PKGS     = cunit jansson libxml-2.0 libcrypto
# Evaluated when a recipe runs, after `deps` has installed pkg-config & co.
pkg_cflags = $(shell pkg-config --cflags $(PKGS))
pkg_libs   = $(shell pkg-config --libs $(PKGS))
test_libs  = $(shell pkg-config --libs cunit jansson)
WARN   = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
         -Wmissing-prototypes -Werror
KIT_CFLAGS = $(WARN) -pthread -g -O1 -MMD -MP $(pkg_cflags)

GRADER_SRC := $(filter-out grader/main.c,$(wildcard grader/*.c))
GRADER_OBJ := $(GRADER_SRC:%.c=$(BUILD)/obj/%.o)
RUNNER_SRC := $(wildcard grader/runner/*.c)
RUNNER_OBJ := $(RUNNER_SRC:%.c=$(BUILD)/obj/%.o)
COACH_SRC  := $(wildcard coach/*.c)
COACH_OBJ  := $(COACH_SRC:%.c=$(BUILD)/obj/%.o)
BATCH_SRC  := $(filter-out batch/main.c,$(wildcard batch/*.c))
BATCH_OBJ  := $(BATCH_SRC:%.c=$(BUILD)/obj/%.o)
KITTEST_SRC := $(wildcard tests/grader/test_*.c tests/batch/test_*.c)
KITTEST_OBJ := $(KITTEST_SRC:%.c=$(BUILD)/obj/%.o)

GRADER  := $(BUILD)/grader
RUNNER  := $(BUILD)/runner/libkitrunner.a
KITTEST := $(BUILD)/kit-unit-tests
BATCH   := $(BUILD)/batch
COACH   := $(BUILD)/coach
# The instructor's batch needs two more libraries than grading does.
batch_libs = $(shell pkg-config --libs libarchive)

grade_args = --kit . --submission $(SUBMISSION) --scratch $(BUILD)/grade $(if $(EX),--ex $(EX)) \
             $(if $(RESULTS),--results $(RESULTS)) $(if $(JOBS),--jobs $(JOBS)) \
             $(if $(CHECKS),--checks $(CHECKS)) $(if $(FORCE),--no-cache) \
             $(if $(FIRST),--first-failure)

.PHONY: all grade watch list hint reset test help clean deps deps-test deps-instructor batch dist gradescope autolab demo bench bench-batch stability robustness
all: $(GRADER) $(RUNNER) $(COACH)

## grade: grade exercises/ (EX=04, SUBMISSION=DIR, RESULTS=FILE, JOBS=N, CHECKS=unit|race, FIRST=1, FORCE=1)
# `make grade` must exit 0 with full marks, 1 when points are lost and 2 when
# the grader cannot run; but make exits 2 whenever a recipe fails. So the
# grading happens while this file is read, and lost points turn on question
# mode (-q), whose "not up to date" is make's exit status 1.
ifneq ($(filter grade,$(MAKECMDGOALS)),)
grade_built := $(shell $(MAKE) --no-print-directory -s BUILD=$(BUILD) deps all >&2 && echo ok)
ifneq ($(grade_built),ok)
$(error the grader could not be built (see above))
endif
grade_color := $(if $(and $(MAKE_TERMOUT),$(if $(NO_COLOR),,1)),always,never)
grade_out := $(shell mkdir -p $(BUILD)/grade && $(GRADER) $(grade_args) --color $(grade_color) \
                     >$(BUILD)/grade/table.txt)
grade_status := $(.SHELLSTATUS)
$(info $(file <$(BUILD)/grade/table.txt))
ifeq ($(grade_status),1)
MAKEFLAGS += -q
else ifneq ($(grade_status),0)
$(error the grader could not run (see above))
endif
endif
grade:
	@:

## test: the kit's own test suite (its last line: N passed, N failed)
ifneq ($(wildcard solutions/.),)
test: deps-test all $(KITTEST) $(BATCH)
	$(Q)tests/run-kit-tests $(KITTEST) $(GRADER)
else
test batch:
	@echo "make $@ checks or grades with the whole kit; this student copy leaves it out" >&2; exit 2
endif

## batch: grade every student folder or archive in SUBMISSIONS=DIR into OUT=DIR (JOBS=N, FORCE=1)
ifneq ($(wildcard batch/main.c),)
batch: deps-instructor all $(BATCH)
	$(if $(SUBMISSIONS),,$(error make batch needs SUBMISSIONS=DIR, a folder with one folder or archive per student))
	$(Q)$(BATCH) --kit . --submissions $(SUBMISSIONS) --out $(OUT) --grader $(GRADER) \
	    $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force)
endif

## list: the course map with each exercise's state and points, and what is next
list: deps all
	$(Q)$(COACH) list --submission $(SUBMISSION) --scratch $(BUILD)/grade --state $(BUILD)/coach-state

## watch: grade the current exercise (EX=04 to choose) again each time its file is saved
watch: deps all
	$(Q)$(COACH) watch $(EX) --submission $(SUBMISSION) --scratch $(BUILD)/grade --state $(BUILD)/coach-state

## hint: the next hint for an exercise (EX=04), gentle first
hint: deps all
	$(Q)$(COACH) hint $(EX) --submission $(SUBMISSION) --state $(BUILD)/coach-state

## reset: put an exercise's original stub back, keeping your file as a backup (EX=04, FORCE=1)
reset: deps all
	$(Q)$(COACH) reset $(EX) --submission $(SUBMISSION) $(if $(FORCE),--yes)

## dist: the student handout, without solutions or mutants (DIST=FILE)
dist: deps-instructor
	$(Q)sh platforms/handout.sh $(DIST)

## gradescope: the Gradescope autograder zip, build/gradescope/autograder.zip
gradescope: deps-instructor
	$(Q)sh platforms/gradescope/package.sh $(BUILD)/gradescope/autograder.zip

## autolab: Autolab's autograde-Makefile and autograde.tar, in build/autolab/
autolab: deps-instructor
	$(Q)sh platforms/autolab/package.sh $(BUILD)/autolab

## demo: build an exercise's demo program with your file and run it (EX=17, ARGS=...)
demo_src = $(firstword $(wildcard exercises/$(EX)*/demo/demo.c))
demo_id  = $(word 2,$(subst /, ,$(demo_src)))
demo: deps
	$(if $(and $(EX),$(demo_src)),,$(error make demo needs EX=ID of an exercise with a demo/demo.c, e.g. EX=17))
	$(call say,CC,$(BUILD)/demo-$(demo_id))mkdir -p $(BUILD) && $(KIT_CC) -std=c11 -D_GNU_SOURCE -O2 -g -pthread \
	    -Iexercises/$(demo_id) -o $(BUILD)/demo-$(demo_id) $(demo_src) $(wildcard $(SUBMISSION)/$(demo_id)/*.c)
	$(Q)$(BUILD)/demo-$(demo_id) $(ARGS)

## bench: time `make grade SUBMISSION=solutions`, then each exercise alone (median of RUNS=5)
bench: deps all
	$(Q)tests/bench $(GRADER) $(RUNS)

## bench-batch: time make batch on a generated class of STUDENTS=100 with JOBS=1 and JOBS=2
bench-batch: deps-instructor all $(BATCH)
	$(Q)tests/bench-batch $(BATCH) $(GRADER) $(STUDENTS)

## stability: grade the solutions COUNT=10, each mutant MUTANT_RUNS=0 and the stubs STUB_RUNS=0 times, other core busy (ALONE=1: one exercise at a time)
stability: deps all
	$(Q)tests/stability $(GRADER) "$(COUNT)" "$(MUTANT_RUNS)" "$(STUB_RUNS)"

## robustness: grade the hostile corpus (SANDBOX=auto|bwrap|reduced), one row per case
robustness: deps-test all
	$(Q)tests/robustness $(GRADER) --sandbox $(or $(SANDBOX),auto)

## help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## clean: remove build/
clean:
	rm -rf $(BUILD)

deps:
	$(Q)sh grader/setup-deps.sh grade
deps-test:
	$(Q)sh grader/setup-deps.sh test
deps-instructor:
	$(Q)sh grader/setup-deps.sh instructor

$(GRADER): $(GRADER_OBJ) $(BUILD)/obj/grader/main.o
	$(call say,LINK,$@)$(KIT_CC) -pthread -o $@ $^ $(pkg_libs) -lm

$(RUNNER): $(RUNNER_OBJ)
	$(call say,AR,$@)mkdir -p $(@D) && rm -f $@ && ar rcs $@ $^

$(KITTEST): $(KITTEST_OBJ) $(GRADER_OBJ) $(BATCH_OBJ)
	$(call say,LINK,$@)$(KIT_CC) -pthread -o $@ $^ $(pkg_libs) $(batch_libs) -lm

$(COACH): $(COACH_OBJ) $(GRADER_OBJ)
	$(call say,LINK,$@)$(KIT_CC) -pthread -o $@ $^ $(pkg_libs) -lm

$(BATCH): $(BATCH_OBJ) $(BUILD)/obj/batch/main.o $(GRADER_OBJ)
	$(call say,LINK,$@)$(KIT_CC) -pthread -o $@ $^ $(pkg_libs) $(batch_libs) -lm

$(BUILD)/obj/grader/build.o: KIT_DEFS = -DKIT_CC='"$(KIT_CC)"' -DKIT_TEST_LIBS='"$(test_libs)"'

$(BUILD)/obj/%.o: %.c | deps
	$(call say,CC,$<)mkdir -p $(@D) && $(KIT_CC) $(KIT_CFLAGS) $(KIT_DEFS) -Igrader -Igrader/runner -Ibatch -Icoach -c $< -o $@

-include $(GRADER_OBJ:.o=.d) $(RUNNER_OBJ:.o=.d) $(KITTEST_OBJ:.o=.d) $(BUILD)/obj/grader/main.d \
         $(BATCH_OBJ:.o=.d) $(BUILD)/obj/batch/main.d $(COACH_OBJ:.o=.d)
