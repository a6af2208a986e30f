/* test_service.c - eccctl's commands through the service against a running loop thread:
 * nothing starts the belt while the load cell calibrates. */
#include "daemon/service.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "tests/test.h"

#define CHECK_STR_NOT_CONTAINS(hay, needle) CHECK((hay) && !strstr((hay), (needle)))

/* A load cell whose calibration is pending while the test says so. */
static atomic_bool pending;

static int fake_read(void *ctx, double *t, double *n, int max)
{
    (void)ctx;
    (void)t;
    (void)n;
    (void)max;
    return 0;
}

static int fake_cal_status(void *ctx, struct hal_cal_status *cs)
{
    (void)ctx;
    cs->pending = atomic_load(&pending);
    cs->tares = cs->pending ? 0 : 1;
    return 0;
}

struct looper {
    struct service *svc;
    struct ctl *ctl;
    struct hal *hal;
    atomic_bool stop;
};

/* The loop's side: the service's hook once a millisecond. */
static void *loop_thread(void *arg)
{
    struct looper *l = arg;
    struct loop_stats st = {0};
    struct timespec ms = {0, 1000000};

    while (!atomic_load(&l->stop)) {
        service_on_service(l->svc, l->ctl, l->hal, &st);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static char *ask(struct service *svc, const char *line)
{
    struct ctlsock_peer peer = {.pid = 1, .uid = 0, .gid = 0};
    struct ctlsock_stream stream = {0};
    char *reply = service_handle(svc, line, strlen(line), &peer, &stream);

    CHECK(stream.read == NULL);     /* the commands asked here answer in one piece */
    return reply;
}

TEST(start_and_next_set_wait_for_a_tare_or_span)
{
    static struct ctl ctl;
    struct ecc_config cfg;
    struct hal hal;
    struct service_params vp = {.cfg = &cfg};
    struct looper l = {.ctl = &ctl, .hal = &hal};
    pthread_t thr;
    char *reply;

    log_set_level(LOG_LVL_ERROR);
    config_defaults(&cfg);
    memset(&hal, 0, sizeof hal);
    hal.force = (struct hal_force){.read = fake_read, .cal_status = fake_cal_status};
    ctl_init(&ctl, &cfg);
    l.svc = service_open(&vp);
    REQUIRE(l.svc != NULL);
    REQUIRE(pthread_create(&thr, NULL, loop_thread, &l) == 0);

    atomic_store(&pending, true);
    reply = ask(l.svc, "{\"v\":1,\"cmd\":\"start\"}");
    CHECK_STR_CONTAINS(reply, "\"refused_state\"");
    CHECK_STR_CONTAINS(reply, "the load cell is calibrating");
    free(reply);
    reply = ask(l.svc, "{\"v\":1,\"cmd\":\"next-set\"}");
    CHECK_STR_CONTAINS(reply, "the load cell is calibrating");
    free(reply);
    reply = ask(l.svc, "{\"v\":1,\"cmd\":\"stop\"}");   /* stopping is never held back */
    CHECK_STR_NOT_CONTAINS(reply, "calibrating");
    free(reply);

    atomic_store(&pending, false);
    reply = ask(l.svc, "{\"v\":1,\"cmd\":\"start\"}");   /* may be refused, but not for that */
    CHECK_STR_NOT_CONTAINS(reply, "calibrating");
    free(reply);

    atomic_store(&l.stop, true);
    pthread_join(thr, NULL);
    service_close(l.svc);
}

TESTS(T(start_and_next_set_wait_for_a_tare_or_span));
TEST_MAIN("test_service")
