/* wholefile.c - an output file written whole or not at all (see wholefile.h). */
#include "client/wholefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write, flush and sync f: 0, or the errno of the first failure (EIO when none is set). */
static int finish(FILE *f)
{
    int err = 0;

    errno = 0;
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err)
        err = errno ? errno : EIO;
    return err;
}

int wholefile_write(const char *path, wholefile_writer write, void *arg, wholefile_guard guard,
                    int *write_rc)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    char *tmp = malloc(strlen(path) + 16);
    mode_t mask = umask(0);
    FILE *f = NULL;
    int fd, err = 0;

    umask(mask);
    *write_rc = 0;
    if (!tmp)
        return -1;
    sprintf(tmp, "%.*s.%s.XXXXXX", (int)dirlen, path, path + dirlen);
    if ((fd = mkstemp(tmp)) < 0 || (guard && guard(tmp) != 0)) {
        err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        errno = err;
        return -1;
    }
    if (fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "w"))) {
        err = errno;
        close(fd);
    } else {
        *write_rc = write(arg, f);
        err = finish(f);
    }
    if (*write_rc == 0 && !err && rename(tmp, path) != 0)
        err = errno;
    if (*write_rc != 0 || err)
        unlink(tmp);
    if (guard)
        guard(NULL);
    free(tmp);
    errno = err;
    return *write_rc == 0 && !err ? 0 : -1;
}
