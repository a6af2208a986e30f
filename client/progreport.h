/* progreport.h - the clinician's report on a patient's twelve-week programme.
 *
 * progreport_html renders eccd's report document (JSON, the contract in docs/report.md)
 * as one self-contained HTML5 file: inline CSS and inline SVG figures, no script, no font,
 * no link or reference to anything outside the file, laid out for A4 portrait so that a
 * browser prints it to PDF as it is.
 *
 * The fields the report reads are checked before anything is written (extra fields are
 * ignored); every string from the document is escaped.
 */
#ifndef ECC_PROGREPORT_H
#define ECC_PROGREPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Write the report of doc to out. Returns 0, or -1 with err saying what is wrong, by the
 * field's path ("sessions[3].started: not a number", "programme.start: missing"), or
 * that out could not be written. On a bad document nothing is written to out. */
int progreport_html(const json_t *doc, FILE *out, char *err, size_t errlen);

#endif
