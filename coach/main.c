/* coach - the student's loop around the grader.
 *
 *   coach list                  the course map: state and points of each exercise
 *   coach hint ID               the next hint for an exercise
 *   coach reset ID [--yes]      the original stub back (the student's file kept)
 *   coach watch [ID]            grade, and grade again at each save; then the next
 *
 * Options: --kit DIR (.), --submission DIR (exercises), --scratch DIR (the
 * grader's, build/grade), --state DIR (build/coach-state). The grader and its
 * runner library are found beside this program. */
#define _GNU_SOURCE
#include "coach.h"

#include "manifest.h"
#include "util.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: coach list | hint ID | reset ID [--yes] | watch [ID]\n"
                    "             [--kit DIR] [--submission DIR] [--scratch DIR] [--state DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct coach_opts o = { .kit = ".", .submission = "exercises", .scratch = "build/grade",
                            .state = "build/coach-state" };
    static const struct option longs[] = {
        { "kit", required_argument, NULL, 'k' },     { "submission", required_argument, NULL, 's' },
        { "scratch", required_argument, NULL, 'b' }, { "state", required_argument, NULL, 't' },
        { "yes", no_argument, NULL, 'y' },           { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'k': o.kit = optarg; break;
        case 's': o.submission = optarg; break;
        case 'b': o.scratch = optarg; break;
        case 't': o.state = optarg; break;
        case 'y': o.yes = true; break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *cmd = argv[optind], *wanted = optind + 1 < argc ? argv[optind + 1] : NULL;
    char *kit = realpath(o.kit, NULL);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (!kit || n <= 0) {
        fprintf(stderr, "coach: cannot find the kit at %s\n", o.kit);
        return 2;
    }
    exe[n] = '\0';
    char *bin = dirname(exe);
    char *grader = xasprintf("%s/grader", bin), *lib = xasprintf("%s/runner/libkitrunner.a", bin);
    o.kit = kit;
    o.grader = grader;
    o.runner_lib = lib;
    if (strcmp(cmd, "list") == 0 && !wanted)
        return coach_list(&o);
    if (strcmp(cmd, "watch") == 0 && !wanted)
        return coach_watch(&o, NULL);
    if (strcmp(cmd, "hint") != 0 && strcmp(cmd, "reset") != 0 && strcmp(cmd, "watch") != 0)
        usage();
    char **ids = catalogue_ids(kit);
    char *id = wanted ? catalogue_find(ids, wanted) : NULL;
    if (!id) {
        fprintf(stderr, "coach: make %s needs EX=ID, one of:", cmd);
        for (char **i = ids; i && *i; i++)
            fprintf(stderr, " %s", *i);
        fprintf(stderr, "\n");
        return 2;
    }
    if (strcmp(cmd, "watch") == 0)
        return coach_watch(&o, id);
    return strcmp(cmd, "hint") == 0 ? coach_hint(&o, id) : coach_reset(&o, id);
}
