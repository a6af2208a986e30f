/* bench_modbus.c - `make bench`, the wire: what a Modbus transaction with a drive costs
 * and how fast eccd can command one, against eccsim (the simulated rig) over
 *   1. Modbus TCP on loopback: one transaction (setpoint write, status read), median
 *      and p99, and the cycle rate sustained with one write and one read per cycle;
 *   2. Modbus RTU on a pseudo-terminal with eccsim pacing every byte at 19200 and at
 *      115200 baud (8E1, 11 bits a byte), as a real RS-485 wire does: the same figures,
 *      beside what the bytes alone take at that baud (docs/performance.md).
 * The master side is eccd's own link code (hal/modbus_link.c) with its pacing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hal/modbus_link.h"
#include "tests/bench.h"

#define N_TX 400
#define DELTA_SETPOINT 0x2001   /* delta-vfd: frequency setpoint, Hz x 100 */
#define DELTA_FREQ 0x2103       /* delta-vfd: output frequency, Hz x 100 */

/* Start eccsim on a config naming the delta-vfd profile, on a TCP port the kernel picks
 * (*port: the one its 'tcp on' line names); wait for its ready line. */
static pid_t sim_start(const char *eccsim, const char *dir, int *port, int baud, const char *tty)
{
    char cfg[512], out[512], line[256], set_baud[64];
    FILE *f;
    pid_t pid;

    snprintf(cfg, sizeof cfg, "%s/bench.ini", dir);
    snprintf(out, sizeof out, "%s/sim.out", dir);
    f = fopen(cfg, "w");
    if (!f)
        return -1;
    fprintf(f, "[drive]\nprofile = delta-vfd\nunit_id = 1\n[loadcell]\nunit_id = 2\n");
    fclose(f);
    unlink(out);
    snprintf(set_baud, sizeof set_baud, "drive.baud=%d", baud);
    fflush(stdout);             /* or the child's exit would print it again */
    pid = fork();
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execl(eccsim, eccsim, "-c", cfg, "-q", "--tcp-port", "auto", "--pty-link", tty,
              "--set", set_baud, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && pid > 0; i++) {
        f = fopen(out, "r");
        while (f && fgets(line, sizeof line, f)) {
            const char *colon = strrchr(line, ':');

            if (strncmp(line, "eccsim: tcp on ", 15) == 0 && colon)
                *port = atoi(colon + 1);
            if (strncmp(line, "eccsim: ready", 13) == 0) {
                fclose(f);
                return pid;
            }
        }
        if (f)
            fclose(f);
        usleep(100000);
    }
    kill(pid, SIGTERM);
    return -1;
}

static void sim_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* One cycle as the drive backend runs it: write the setpoint, read the output frequency. */
static int cycle(struct modbus_link *l, struct modbus_counters *c, double *t_write, double *t_read)
{
    uint16_t sp = 1800, freq[1];
    double t0 = bench_wall();

    if (modbus_link_write(l, 1, 6, DELTA_SETPOINT, 1, &sp, c) != 0)
        return -1;
    *t_write = bench_wall() - t0;
    t0 = bench_wall();
    if (modbus_link_read(l, 1, 3, DELTA_FREQ, 1, freq, c) != 0)
        return -1;
    *t_read = bench_wall() - t0;
    return 0;
}

/* Bytes of one cycle: write single (8 + 8) and read one register (8 + 7), 11 bits each
 * (8E1); and the 3.5-character silence that ends each of the four frames. */
static double bytes_ms(int baud)
{
    return (8 + 8 + 8 + 7) * 11.0 * 1000.0 / baud;
}

static double gaps_ms(int baud)
{
    return 4 * 3.5 * 11.0 * 1000.0 / baud;
}

static void measure(const char *label, const struct modbus_link_params *p, int baud)
{
    static double tx[2 * N_TX];
    struct modbus_counters c = {.healthy_after = 3};
    char err[256];
    struct modbus_link *l = modbus_link_open(p, err, sizeof err);
    double t0, elapsed;
    int n = 0, fails = 0;

    if (!l) {
        printf("%-22s cannot open the link: %s\n", label, err);
        return;
    }
    t0 = bench_wall();
    for (int i = 0; i < N_TX; i++) {
        double w, r;
        if (cycle(l, &c, &w, &r) != 0) {
            fails++;
            continue;
        }
        tx[n++] = w;
        tx[n++] = r;
    }
    elapsed = bench_wall() - t0;
    modbus_link_close(l);
    if (n == 0) {
        printf("%-22s no transaction succeeded\n", label);
        return;
    }
    bench_sort(tx, (size_t)n);
    printf("%-22s transaction median %7.3f ms  p99 %7.3f ms | %6.1f cycles/s (write+read)",
           label, tx[n / 2] * 1e3, tx[n * 99 / 100] * 1e3, (N_TX - fails) / elapsed);
    if (baud > 0)
        printf("\n%22s the cycle's 31 bytes take %.1f ms at this baud, %.1f ms with the 3.5-character"
               " gaps a real bus needs", "", bytes_ms(baud), bytes_ms(baud) + gaps_ms(baud));
    printf("%s\n", fails ? " (with failures)" : "");
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";
    char eccsim[512], dir[] = "/tmp/bench_modbus_XXXXXX", tty[64];
    static const int bauds[] = {19200, 115200};
    int port = 0;
    pid_t sim;

    snprintf(eccsim, sizeof eccsim, "%s/rel/eccsim", build);
    if (!mkdtemp(dir))
        return 1;
    snprintf(tty, sizeof tty, "%s/tty", dir);
    printf("Modbus against eccsim (delta-vfd; %d cycles of one setpoint write + one read)\n",
           N_TX);
    sim = sim_start(eccsim, dir, &port, 19200, tty);
    if (sim < 0) {
        fprintf(stderr, "bench: eccsim did not start\n");
        return 1;
    }
    measure("TCP loopback", &(struct modbus_link_params){
                .kind = MODBUS_LINK_TCP, .host = "127.0.0.1", .port = port,
                .min_gap_ms = 0, .timeout_ms = 200, .retries = 0}, 0);
    sim_stop(sim);
    for (int i = 0; i < 2; i++) {
        char label[64];
        struct modbus_link_params p = {.kind = MODBUS_LINK_RTU, .baud = bauds[i],
                                       .parity = 'E', .data_bits = 8, .stop_bits = 1,
                                       .min_gap_ms = 0, .timeout_ms = 200, .retries = 0};
        snprintf(p.device, sizeof p.device, "%s", tty);
        sim = sim_start(eccsim, dir, &port, bauds[i], tty);
        if (sim < 0)
            return 1;
        snprintf(label, sizeof label, "RTU %6d baud 8E1", bauds[i]);
        measure(label, &p, bauds[i]);
        sim_stop(sim);
    }
    rmdir(dir);
    return 0;
}
