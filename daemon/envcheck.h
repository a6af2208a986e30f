/* envcheck.h - what on this machine would stop eccd starting with a config: users and
 * groups, the directories and files it writes, GPIO chips, serial ports, PWM and IIO sysfs
 * paths (eccd --check-config; docs/configuration.md, "Checking the machine").
 *
 * Who is checked. eccd opens the hardware and its output files (rep log, trace, truth log)
 * as the user that starts it. Started as root with [daemon] user set, it then becomes that
 * user before it opens the history and the control socket, and it writes the load cell's
 * calibration file as that user. So:
 *  - the hardware and the output files are checked for the running process (faccessat with
 *    its own effective ids and groups, so ACLs and read-only mounts count too);
 *  - the history, the socket and the calibration file for the user eccd runs as from then
 *    on: the running process as well, or [daemon] user when this runs as root, judged from
 *    the mode bits, owner and group of each path and that user's groups as initgroups(3)
 *    gives them (ACLs are not read).
 * As root the running process may open anything, so only existence and kind are checked
 * for it; `sudo -u eccd eccd -c FILE --check-config` checks as the service's user.
 *
 * Each finding is one line on out, what, where, why and the fix:
 *     problem: [drive] device: /dev/ttyFOO: No such file or directory; fix: ...
 *     note: [drive] host: 192.168.1.5:502: a TCP link is not checked offline
 * A problem is what a start would fail on; a note is something not checked offline, or
 * what only eccd.service provides (its StateDirectory= and RuntimeDirectory=).
 *
 * Errors: -1 with errno. Nothing here allocates what the caller must free.
 */
#ifndef ECC_ENVCHECK_H
#define ECC_ENVCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "config/config.h"
#include "hal/hal_hw.h"

#define ENVCHECK_GROUPS_MAX 64
#define ENVCHECK_NAME_MAX 64

/* A user as the checks see it. */
struct envcheck_user {
    uid_t uid;
    gid_t gid;                          /* primary group */
    gid_t groups[ENVCHECK_GROUPS_MAX];  /* every group it is in, the primary one first */
    int ngroups;
    char name[ENVCHECK_NAME_MAX];       /* "uid N" when it has no name */
    bool self;                          /* the running process: faccessat() judges */
};

/* The running process (effective ids, its groups). 0, or -1 with errno. */
int envcheck_user_self(struct envcheck_user *u);
/* A user by name or number, with the groups initgroups(3) would give it. 0, or -1 with
 * errno ENOENT when there is no such user. */
int envcheck_user_named(const char *name, struct envcheck_user *u);

/* May u open path for mode (R_OK, W_OK, X_OK or'ed; F_OK: exists)? Every directory on
 * the way must let u search it. 0, or -1 with errno (EACCES, ENOENT, ENOTDIR, ...). */
int envcheck_access(const struct envcheck_user *u, const char *path, int mode);

struct envcheck_params {
    const char *rep_log;                /* --rep-log (NULL: log.rep_log) */
    const char *trace;                  /* --trace (NULL: none) */
    const char *truth_log;              /* --truth-log (NULL: sim.truth_log) */
    /* NULL-terminated: directories eccd.service makes itself when it starts (NULL: the
     * unit's /var/lib/eccd and /run/eccd). One of them missing is a note, not a problem. */
    const char *const *service_dirs;
};

/* Every check cfg calls for: a first line saying who is checked, a line per problem or
 * note, and a last line "environment: ready" or "environment: N problems ...". Returns
 * the number of problems (0: ready), or -1 with errno when it cannot check at all (the
 * running user cannot be looked up). */
int envcheck_run(const struct ecc_config *cfg, const struct envcheck_params *p, FILE *out);

/* After a part failed to open at start: the check --check-config makes of that part, for
 * the running process. 1 with the fix in fix ("plug in ...", "sudo usermod -aG ..."), 0
 * when that check finds nothing wrong (the failure had another cause). */
int envcheck_fix(const struct ecc_config *cfg, enum hal_hw_part part, char *fix, size_t len);

/* A start-up error of part (hal_hw_open_part): append "; fix: ...; eccd -c FILE
 * --check-config lists every such problem at once" to err when the check finds the cause. */
void envcheck_append_fix(const struct ecc_config *cfg, enum hal_hw_part part, char *err,
                         size_t errlen);

#endif
