/* outq.c - lines written by a thread of their own (see outq.h). */
#include "daemon/outq.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct outq {
    FILE *f;
    enum outq_full full;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* the writer: lines queued, or stop */
    pthread_cond_t room;        /* OUTQ_WAIT producers and outq_sync: slots freed, written */
    pthread_t thread;
    char *slots;                /* nslots x OUTQ_LINE_MAX */
    size_t *lens;
    int nslots, head, count;    /* the ring: oldest at head */
    bool stop;
    struct outq_stats st;
};

/* A mutex with priority inheritance where the system has it: the loop may run SCHED_FIFO,
 * the writer does not. */
static int mutex_init_pi(pthread_mutex_t *mu)
{
    pthread_mutexattr_t a;
    int rc;

    pthread_mutexattr_init(&a);
#ifdef _POSIX_THREAD_PRIO_INHERIT
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
#endif
    rc = pthread_mutex_init(mu, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

/* Write the lines from head, count of them, outside the mutex: the producer only fills
 * slots past them. */
static void write_batch(struct outq *q, int head, int count)
{
    int err = 0;

    for (int i = 0; i < count; i++) {
        int k = (head + i) % q->nslots;
        if (fwrite(q->slots + (size_t)k * OUTQ_LINE_MAX, 1, q->lens[k], q->f) != q->lens[k])
            err = errno ? errno : EIO;
    }
    if (fflush(q->f) != 0)
        err = errno ? errno : EIO;
    pthread_mutex_lock(&q->mu);
    q->head = (q->head + count) % q->nslots;
    q->count -= count;
    q->st.written += count;
    if (err)
        q->st.write_errors = err;
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->mu);
}

static void *writer(void *arg)
{
    struct outq *q = arg;

    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->count == 0 && !q->stop)
            pthread_cond_wait(&q->wake, &q->mu);
        if (q->count == 0)
            break;              /* stopping, and everything is written */
        int head = q->head, count = q->count;
        pthread_mutex_unlock(&q->mu);
        write_batch(q, head, count);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void free_queue(struct outq *q)
{
    free(q->slots);
    free(q->lens);
    free(q);
}

struct outq *outq_open(FILE *f, int slots, enum outq_full full, char *err, size_t errlen)
{
    struct outq *q = calloc(1, sizeof *q);
    int rc;

    if (!f || slots < 0) {
        free(q);
        errno = EINVAL;
        snprintf(err, errlen, "output queue: no file, or a negative size");
        return NULL;
    }
    if (q) {
        q->nslots = slots ? slots : OUTQ_SLOTS_DEFAULT;
        q->slots = malloc((size_t)q->nslots * OUTQ_LINE_MAX);
        q->lens = calloc((size_t)q->nslots, sizeof *q->lens);
    }
    if (!q || !q->slots || !q->lens) {
        if (q)
            free_queue(q);
        errno = ENOMEM;
        snprintf(err, errlen, "output queue: %s", strerror(errno));
        return NULL;
    }
    q->f = f;
    q->full = full;
    mutex_init_pi(&q->mu);
    pthread_cond_init(&q->wake, NULL);
    pthread_cond_init(&q->room, NULL);
    rc = pthread_create(&q->thread, NULL, writer, q);
    if (rc != 0) {
        pthread_cond_destroy(&q->room);
        pthread_cond_destroy(&q->wake);
        pthread_mutex_destroy(&q->mu);
        free_queue(q);
        errno = rc;
        snprintf(err, errlen, "output queue: cannot start its thread: %s", strerror(rc));
        return NULL;
    }
    return q;
}

void outq_close(struct outq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->mu);
    free_queue(q);
}

int outq_put(struct outq *q, const char *line, size_t len)
{
    bool cut = len > OUTQ_LINE_MAX - 1;
    int k;

    if (cut)
        len = OUTQ_LINE_MAX - 1;
    pthread_mutex_lock(&q->mu);
    while (q->count == q->nslots && q->full == OUTQ_WAIT)
        pthread_cond_wait(&q->room, &q->mu);
    if (q->count == q->nslots) {
        q->st.dropped++;
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    k = (q->head + q->count) % q->nslots;
    memcpy(q->slots + (size_t)k * OUTQ_LINE_MAX, line, len);
    q->slots[(size_t)k * OUTQ_LINE_MAX + len] = '\n';
    q->lens[k] = len + 1;
    q->count++;
    q->st.pushed++;
    q->st.cut += cut;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int outq_printf(struct outq *q, const char *fmt, ...)
{
    char line[OUTQ_LINE_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    return outq_put(q, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
}

void outq_sync(struct outq *q)
{
    pthread_mutex_lock(&q->mu);
    long target = q->st.pushed;
    while (q->st.written < target)
        pthread_cond_wait(&q->room, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void outq_stats(struct outq *q, struct outq_stats *st)
{
    pthread_mutex_lock(&q->mu);
    *st = q->st;
    pthread_mutex_unlock(&q->mu);
}
