/* pgtmp.h - a real, throwaway PostgreSQL 15 for a C test (docs/fleet.md, "The test
 * harness").
 *
 * pgtmp_start makes a fresh folder (mkdtemp in /tmp) and has tests/pgtmp.sh init it (initdb,
 * the settings, with tls a throwaway CA and a server certificate for localhost and
 * 127.0.0.1), then starts postgres on it: on its Unix socket in that folder and on
 * 127.0.0.1 at a free port. As root the cluster belongs to the user nobody and postgres
 * runs as nobody (initdb and postgres refuse root). The superuser "postgres" connects over
 * the socket without a password (pgtmp_admin_conninfo); over TCP every role needs a
 * password (scram-sha-256), and with tls only TLS is accepted.
 *
 * Processes: the postmaster is the test's child, told to shut down (SIGINT) if the test
 * dies first. pgtmp_kill and pgtmp_stop end it and then every process of the cluster (those
 * working in its data folder: a killed postmaster's children outlive it a moment), and wait
 * until none is left: nothing it started outlives the test (tests/leftovers.sh).
 *
 * Run from the source tree's top (tests/pgtmp.sh is found there, as config/ is by the
 * other tests). Errors: -1 after printing why (with the server's log) on stdout.
 */
#ifndef ECC_PGTMP_H
#define ECC_PGTMP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define PGTMP_BIN "/usr/lib/postgresql/15/bin"
#define PGTMP_MISSING "PostgreSQL 15 is not installed (apt-get install postgresql-15)"

struct pgtmp {
    char dir[64];               /* the folder: data/, the socket, postgres.log, certificates */
    char data[PATH_MAX];        /* dir/data, resolved: where every process of the cluster works */
    char ca[96];                /* with tls: dir/ca.pem, the CA the server's certificate is
                                   signed by; else "" */
    char admin[192];            /* pgtmp_admin_conninfo */
    int port;                   /* on 127.0.0.1 */
    bool tls;
    int pid;                    /* the postmaster; 0 when it is not running */
};

/* Is PostgreSQL 15 installed (PGTMP_BIN/initdb)? Else a test SKIPs with PGTMP_MISSING. */
bool pgtmp_installed(void);

/* A new cluster, started; waits (bounded) until it accepts connections: 0, or -1 with
 * nothing left behind. */
int pgtmp_start(struct pgtmp *p, bool tls);

/* The superuser over the socket, database postgres. */
const char *pgtmp_admin_conninfo(const struct pgtmp *p);

/* The conninfo of user with password to dbname over TCP on 127.0.0.1: with tls,
 * sslmode=verify-full against the CA for the host name localhost; without, sslmode=disable.
 * Values are quoted as conninfo wants. */
void pgtmp_tcp_conninfo(const struct pgtmp *p, const char *user, const char *password,
                        const char *dbname, char *out, size_t len);

/* Fast shutdown, then start again on the same port and wait until it accepts: 0 or -1. */
int pgtmp_restart(struct pgtmp *p);

/* SIGKILL the postmaster (a crash, for fault tests), then every process of the cluster;
 * returns when none is left: 0, or -1 when one would not go. */
int pgtmp_kill(struct pgtmp *p);

/* Start the cluster again after pgtmp_kill (crash recovery runs), same port: 0 or -1. */
int pgtmp_start_again(struct pgtmp *p);

/* Fast shutdown (SIGKILL after 10 s), every process of the cluster gone, the folder
 * removed. Safe on a struct whose start failed, and twice. */
void pgtmp_stop(struct pgtmp *p);

/* How many processes work in the cluster's data folder now (zombies not counted). */
int pgtmp_processes(const struct pgtmp *p);

#endif
