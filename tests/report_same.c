/* report_same.c - two clinician's report documents compared field by field, and a summary
 * of one (tests/t_sync_report.sh).
 *
 *   report_same same A B [--ignore PATH]... [--drop-rig RIG]...
 *       exit 0 when the documents in files A and B are equal, else 1 and the first
 *       difference by its path. A file may hold eccd's report reply (the document is its
 *       "report") or the document itself. PATH is dotted, "*" standing for every element
 *       of an array ("generated", "patient.id", "sessions.*.rig_id"); the field is removed
 *       from both before they are compared. --drop-rig removes the entries of sessions,
 *       checkins and progression whose rig_id is RIG. Objects must have the same keys,
 *       arrays the same length, values the same JSON type; integers and strings must be
 *       equal, reals equal to 1e-11 of their size (two databases' averages may differ in
 *       the last bits).
 *   report_same summary DOC
 *       lines of NAME=VALUE: the counts of sessions, sets, check-ins, progression entries,
 *       the sums of reps and rejects, each reject reason's count, the sessions' rigs in
 *       order, whether the sessions are in time order, the patient's rigs, two thresholds
 *       and the programme's utc_offset_s; and a line per
 *       session: "session RIG/ID reps=.. rejects=.. sets=.. mean_n=.. max_pain=..".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static json_t *load(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &e), *doc;

    if (!j) {
        fprintf(stderr, "%s: %s (line %d)\n", path, e.text, e.line);
        exit(2);
    }
    doc = json_object_get(j, "report");
    if (json_is_object(doc)) {
        json_incref(doc);
        json_decref(j);
        return doc;
    }
    return j;
}

/* Remove the field at the dotted path p (a mutable copy) under j. */
static void drop_path(json_t *j, char *p)
{
    char *dot = strchr(p, '.');
    size_t i;
    json_t *el;

    if (dot)
        *dot = '\0';
    if (strcmp(p, "*") == 0) {
        if (json_is_array(j))
            json_array_foreach(j, i, el) {
                if (dot) {
                    char *rest = strdup(dot + 1);

                    drop_path(el, rest);
                    free(rest);
                }
            }
    } else if (json_is_object(j)) {
        if (dot)
            drop_path(json_object_get(j, p), dot + 1);
        else
            json_object_del(j, p);
    }
    if (dot)
        *dot = '.';
}

static void drop_rig(json_t *doc, const char *rig)
{
    static const char *const lists[] = {"sessions", "checkins", "progression"};

    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        json_t *a = json_object_get(doc, lists[l]);

        for (size_t i = json_array_size(a); i-- > 0;) {
            const char *r = json_string_value(json_object_get(json_array_get(a, i), "rig_id"));

            if (r && strcmp(r, rig) == 0)
                json_array_remove(a, i);
        }
    }
}

static int differ(const char *path, const json_t *a, const json_t *b)
{
    char *sa = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
    char *sb = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);

    printf("%s: %.200s | %.200s\n", path[0] ? path : "(top)", sa ? sa : "(none)",
           sb ? sb : "(none)");
    free(sa);
    free(sb);
    return 1;
}

static int compare(const char *path, const json_t *a, const json_t *b)
{
    char sub[512];
    const char *k;
    json_t *v;
    size_t i;

    if (!a || !b || json_typeof(a) != json_typeof(b))
        return differ(path, a, b);
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)a, k, v) {
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", k);
            if (compare(sub, v, json_object_get(b, k)))
                return 1;
        }
        json_object_foreach((json_t *)b, k, v)
            if (!json_object_get(a, k)) {
                snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", k);
                return differ(sub, NULL, v);
            }
        return 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b)) {
            printf("%s: %zu elements | %zu elements\n", path, json_array_size(a),
                   json_array_size(b));
            return 1;
        }
        json_array_foreach(a, i, v) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (compare(sub, v, json_array_get(b, i)))
                return 1;
        }
        return 0;
    case JSON_REAL: {
        double x = json_real_value(a), y = json_real_value(b);

        return fabs(x - y) <= 1e-11 * fmax(1.0, fmax(fabs(x), fabs(y))) ? 0 : differ(path, a, b);
    }
    default:
        return json_equal(a, b) ? 0 : differ(path, a, b);
    }
}

static int same(int argc, char **argv)
{
    json_t *a, *b;
    int rc;

    if (argc < 4)
        return 2;
    a = load(argv[2]);
    b = load(argv[3]);
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ignore") == 0) {
            char *p = strdup(argv[i + 1]);

            drop_path(a, p);
            drop_path(b, p);
            free(p);
        } else if (strcmp(argv[i], "--drop-rig") == 0) {
            drop_rig(a, argv[i + 1]);
            drop_rig(b, argv[i + 1]);
        } else {
            fprintf(stderr, "report_same: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    rc = compare("", a, b);
    if (rc == 0)
        printf("same: %zu sessions, %zu check-ins, %zu progression entries\n",
               json_array_size(json_object_get(a, "sessions")),
               json_array_size(json_object_get(a, "checkins")),
               json_array_size(json_object_get(a, "progression")));
    json_decref(a);
    json_decref(b);
    return rc;
}

static int summary(const char *path)
{
    json_t *doc = load(path), *sessions = json_object_get(doc, "sessions"), *s, *v;
    long long reps = 0, rejects = 0, sets = 0;
    double last = -INFINITY;
    int ordered = 1;
    const char *k;
    size_t i;

    printf("sessions=%zu\n", json_array_size(sessions));
    printf("order=");
    json_array_foreach(sessions, i, s) {
        const char *rig = json_string_value(json_object_get(s, "rig_id"));
        double t = json_number_value(json_object_get(s, "started"));

        printf("%s%s", i ? "," : "", rig ? rig : "-");
        ordered = ordered && t >= last;
        last = t;
        reps += json_integer_value(json_object_get(s, "reps"));
        rejects += json_integer_value(json_object_get(s, "rejects"));
        sets += (long long)json_array_size(json_object_get(s, "sets"));
    }
    printf("\ntime_ordered=%d\nsets=%lld\nreps=%lld\nrejects=%lld\n", ordered, sets, reps,
           rejects);
    printf("checkins=%zu\nprogression=%zu\n", json_array_size(json_object_get(doc, "checkins")),
           json_array_size(json_object_get(doc, "progression")));
    rejects = 0;
    json_object_foreach(json_object_get(doc, "rejects_by_reason"), k, v) {
        printf("reject.%s=%lld\n", k, (long long)json_integer_value(v));
        rejects += json_integer_value(v);
    }
    printf("rejects_by_reason=%lld\n", rejects);
    printf("up_in_band=%g\npain_stop=%g\nutc_offset_s=%lld\n",
           json_number_value(json_object_get(json_object_get(doc, "thresholds"), "up_in_band")),
           json_number_value(json_object_get(json_object_get(doc, "thresholds"), "pain_stop")),
           (long long)json_integer_value(json_object_get(json_object_get(doc, "programme"),
                                                         "utc_offset_s")));
    printf("rigs=");
    json_array_foreach(json_object_get(json_object_get(doc, "patient"), "rigs"), i, v)
        printf("%s%s", i ? "," : "", json_string_value(v));
    printf("\n");
    json_array_foreach(sessions, i, s) {
        const json_t *m = json_object_get(s, "mean_n"), *p = json_object_get(s, "max_pain");

        printf("session %s/%lld reps=%lld rejects=%lld sets=%zu mean_n=%.3f max_pain=%lld\n",
               json_string_value(json_object_get(s, "rig_id")),
               (long long)json_integer_value(json_object_get(s, "id")),
               (long long)json_integer_value(json_object_get(s, "reps")),
               (long long)json_integer_value(json_object_get(s, "rejects")),
               json_array_size(json_object_get(s, "sets")), json_is_number(m) ?
               json_number_value(m) : NAN, json_is_integer(p) ? (long long)json_integer_value(p) : -1);
    }
    json_decref(doc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "same") == 0)
        return same(argc, argv);
    if (argc == 3 && strcmp(argv[1], "summary") == 0)
        return summary(argv[2]);
    fputs("usage: report_same same A B [--ignore PATH]... [--drop-rig RIG]...\n"
          "       report_same summary DOC\n", stderr);
    return 2;
}
