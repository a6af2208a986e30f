/* progreport.h - the clinician's report on a patient's twelve-week programme.
 *
 * progreport_html renders eccd's report document (JSON, the contract in docs/report.md)
 * as one self-contained HTML5 file: inline CSS and inline SVG figures, no script, no font,
 * no link or reference to anything outside the file, laid out for A4 portrait so that a
 * browser prints it to PDF as it is. progreport_chromium has Debian's chromium, headless,
 * print such a file to PDF or take a PNG picture of it.
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

enum progreport_fmt {
    PROGREPORT_PDF,             /* A4 pages, no header or footer */
    PROGREPORT_PNG              /* one picture 1240 px wide and PROGREPORT_PNG_HEIGHT tall */
};

#define PROGREPORT_CHROMIUM "/usr/bin/chromium"
#define PROGREPORT_TIMEOUT_S 60.0
#define PROGREPORT_PNG_HEIGHT 4200

/* Have PROGREPORT_CHROMIUM render the HTML file html_path to out_path, in a fresh
 * profile that is removed afterwards, within PROGREPORT_TIMEOUT_S (after which its whole
 * process group is killed). out_path is replaced only when chromium wrote a non-empty file.
 * Returns 0, or -1 with the reason in err (no chromium: which package to install). */
int progreport_chromium(const char *html_path, const char *out_path, enum progreport_fmt fmt,
                        char *err, size_t errlen);

/* The same with another browser program and time limit (tests use a stand-in script). */
int progreport_chromium_with(const char *browser, double timeout_s, const char *html_path,
                             const char *out_path, enum progreport_fmt fmt, char *err,
                             size_t errlen);

#endif
