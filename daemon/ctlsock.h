/* ctlsock.h - eccd's control socket: a Unix stream socket that eccctl talks to.
 *
 * ctlsock owns the socket and one server thread. The thread accepts connections, checks
 * each peer (SO_PEERCRED), splits what it reads into lines of at most REQ_LINE_MAX bytes,
 * hands each line to the handler and writes back the reply with a newline. It never
 * touches the controller: the handler decides what a line means.
 *
 * Access: the socket file is created mode 0660, owned by owner:group (set before listen(),
 * so nobody connects earlier). A peer is accepted when its uid is 0 or the daemon's, or
 * its uid is owner, or group is its gid or one of its supplementary groups (SO_PEERCRED
 * and SO_PEERGROUPS: the groups the peer process had when it connected, as the kernel
 * judged the file's mode; before Linux 4.13, getgrouplist() of its user); anyone else
 * (who would need the file's mode loosened to get this far) gets a "permission" error
 * reply and is disconnected.
 * Streamed replies: a reply of any length (history, export) is not built whole. The handler
 * returns its beginning and a struct ctlsock_stream; ctlsock reads the rest from it a part
 * of at most CTLSOCK_CHUNK bytes at a time, each only once the client has taken all but
 * CTLSOCK_CHUNK of what waits, and ends the line with the newline. Other clients are served
 * between the parts. The client's next requests wait until the streamed reply is complete.
 * Memory: a client holds at most CTLSOCK_OUT_HIGH + one reply (at most CTLSOCK_OUT_MAX)
 * of unsent replies: past CTLSOCK_OUT_HIGH its requests are not read (they wait in the
 * kernel) until it reads its replies.
 * Robustness: a line longer than REQ_LINE_MAX gets a "too_long" reply and is skipped up
 * to its newline; a reply longer than CTLSOCK_OUT_MAX that does not stream drops the
 * client; a client whose replies have not moved for stall_s is dropped; a client that
 * sends nothing for idle_s is dropped; at most max_clients at once and per_user of them
 * from one uid. Past those, one more connection is taken into a reserve slot: the handler
 * sees peer->reserved, answers its first request (eccd answers status there and nothing
 * else) and the connection is closed after that reply, so a full house never locks the
 * operator out of status; with the reserve slot taken too, the next is told "busy" and
 * closed. Each drop is logged with its reason and counted.
 * An unterminated line at EOF is dropped. Replies to a client come in the order of its
 * requests. None of this can stall or crash the daemon.
 *
 * Errors: NULL / -1 with errno and a message in err. Ownership: the caller frees with
 * ctlsock_close, which stops the thread, closes every connection and unlinks the socket.
 */
#ifndef ECC_CTLSOCK_H
#define ECC_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CTLSOCK_CLIENTS_DEFAULT 8
#define CTLSOCK_OUT_MAX (1u << 20)      /* bytes of one reply (a longer one streams) */
#define CTLSOCK_OUT_HIGH (64u << 10)    /* more than this unsent: the client's further
                                           requests wait in the kernel until it reads */
#define CTLSOCK_CHUNK (32u << 10)       /* a streamed reply is read in parts of this */

struct ctlsock_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    bool reserved;              /* in the reserve slot: one request, then closed */
};

/* The rest of a streamed reply (see above). */
struct ctlsock_stream {
    /* The reply's next part (no newline) into buf, at most size bytes: its length (> 0),
     * 0 once the reply is complete, -1 with errno EAGAIN when it has nothing yet (it is
     * asked again within 20 ms), -1 otherwise when it cannot go on (the client is
     * dropped).
     * On the server thread. A stream that waits is not a stalled reader. */
    ssize_t (*read)(void *arg, char *buf, size_t size);
    /* Called exactly once, on the server thread: after read gave 0 or -1, when the client
     * goes, or from ctlsock_close. It frees what arg holds. */
    void (*close)(void *arg);
    void *arg;
    /* false: the head and the parts are one line, ended by ctlsock once read gives 0
     * (history, export). true: the head is a line of its own (ctlsock ends it at once)
     * and read gives whole lines, newlines included (watch: each line goes out as soon as
     * it is made). */
    bool lines;
};

struct ctlsock_params {
    const char *path;           /* the socket file; its directory must exist */
    uid_t owner;                /* (uid_t)-1: the daemon's */
    gid_t group;                /* (gid_t)-1: the daemon's */
    int max_clients;            /* 0: CTLSOCK_CLIENTS_DEFAULT */
    int per_user;               /* connections one uid may hold (0: max_clients) */
    double idle_s;              /* drop a client silent this long with nothing owed (0: never) */
    double stall_s;             /* drop a client whose replies have not moved this long (0:
                                   never) */
    /* The clock for idle_s and stall_s (s, monotonic); NULL: CLOCK_MONOTONIC. Tests inject
     * one and call ctlsock_kick after moving it. */
    double (*now)(void *arg);
    void *now_arg;
    /* On the server thread, for each request line (NUL-terminated, no newline; len counts
     * up to the newline, so a NUL inside shows as len > strlen(line)): returns the reply
     * line (no newline) in malloc'd memory that ctlsock frees; NULL, or a reply with a
     * newline in it: ctlsock replies "internal". To stream a long reply, it fills *stream
     * (zeroed before the call) and returns the reply's beginning. It must not call
     * ctlsock_close. */
    char *(*handle)(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                    struct ctlsock_stream *stream);
    void *arg;
};

struct ctlsock;

/* Create the socket (a stale socket file nobody listens on is replaced; one that answers
 * is an error: "another eccd is running on PATH", errno EADDRINUSE; a file that is not a
 * socket is left alone: EEXIST), set its owner, group and mode, start the thread (with
 * every signal blocked). NULL with errno and err on failure. */
struct ctlsock *ctlsock_open(const struct ctlsock_params *p, char *err, size_t errlen);
void ctlsock_close(struct ctlsock *s);  /* NULL: no-op. Unlinks the file only if it is
                                           still the socket this ctlsock made. */

struct ctlsock_stats {
    long accepted, refused;     /* connections */
    long requests, too_long;    /* lines handled, lines refused for length */
    long dropped;               /* clients dropped (not reading, or busy) */
    long dropped_idle;          /* ... of them: silent for idle_s */
    long dropped_stalled;       /* ... of them: replies not moving for stall_s */
    long dropped_share;         /* ... of them: over their user's share (turned away) */
    long reserved;              /* connections served in the reserve slot */
    long bytes_in;              /* bytes read from clients and handled (lines split off) */
    long out_peak;              /* the most bytes of replies one client has had waiting */
    int clients;                /* connected now */
};
void ctlsock_stats(struct ctlsock *s, struct ctlsock_stats *st);
/* Make the server thread look at its clients' deadlines now (after a test moved the
 * injected clock). */
void ctlsock_kick(struct ctlsock *s);

/* Resolve a user or group name (or a number) for ctlsock_params; "" or NULL gives
 * (uid_t)-1 / (gid_t)-1. A string of digits is taken as the number without a lookup.
 * 0 or -1 with errno ENOENT. */
int ctlsock_user(const char *name, uid_t *uid);
int ctlsock_group(const char *name, gid_t *gid);

#endif
