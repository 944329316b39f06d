/* results.h - the graded exercises together, and Gradescope's results.json
 * (CONTRACT section 3): top-level score, execution_time and tests. */
#ifndef KIT_RESULTS_H
#define KIT_RESULTS_H

#include <jansson.h>
#include <stdbool.h>

/* Reads scratch/ID/result.json for each ID: an array, or NULL if one is missing. */
json_t *results_load(const char *scratch, char **ids);

/* The results.json document for these exercise results. */
json_t *results_gradescope(json_t *results, double elapsed_s);

int results_write(const char *path, json_t *results, double elapsed_s);

bool results_full_marks(json_t *results);

/* True if one exercise's result (score, max_score) is at full marks. */
bool result_full_marks(json_t *exercise_result);

#endif /* KIT_RESULTS_H */
