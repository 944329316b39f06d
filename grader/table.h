/* table.h - what the student reads: one row per exercise, the score, then
 * for the first exercise short of full marks what failed and its first hint. */
#ifndef KIT_TABLE_H
#define KIT_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* results: the array of grade_exercise() outcomes, in course order. */
void table_print(FILE *out, json_t *results, bool color);

#endif /* KIT_TABLE_H */
