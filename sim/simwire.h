/* simwire.h - eccsim's RS-485 wire: a pseudo-terminal carrying Modbus RTU frames (or the
 * Huanyang HY's, see frame_length below) at the pace of the configured baud rate.
 *
 * eccd (or mbpoll) opens the pty's slave side as its serial port. The wire thread holds
 * the master side: it cuts the incoming bytes into request frames (by their function
 * code's length; bytes it cannot frame are dropped after a silence, as a slave resyncs),
 * hands each frame, once its bytes would have crossed the wire, to the unit it names
 * (one socketpair per unit, each served by libmodbus; frames for other units are ignored,
 * as on a bus; broadcast goes to all), and sends the units' replies back byte by byte at
 * the baud's pace. A reply from a unit the corrupt() callback names gets a bad CRC.
 */
#ifndef ECC_SIMWIRE_H
#define ECC_SIMWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define SIMWIRE_PORTS 2
#define SIMWIRE_FRAME_MAX 256        /* bytes, the longest RTU frame */

/* Bits one byte takes on the wire: start + data + parity + stop (8E1 and 8N2: 11, 8N1: 10). */
int simwire_bits_per_byte(int data_bits, enum cfg_parity parity, int stop_bits);
/* s per byte at baud. */
double simwire_byte_s(int baud, int bits_per_byte);

/* Length (with CRC) of the RTU request starting at buf[0] (unit id, function, ...):
 * > 0 once known, 0 if more bytes are needed to tell, -1 for a function it cannot frame. */
int simwire_request_length(const uint8_t *buf, size_t n);

/* Modbus CRC-16 (poly 0xA001, init 0xFFFF), as sent low byte first. */
uint16_t simwire_crc16(const uint8_t *buf, size_t n);

/* Create a pty pair: returns the master fd (non-blocking), the slave's path, and an
 * open slave fd in raw mode (keep it open: the master then never sees a hang-up while
 * eccd reconnects). -1 with a message in err. */
int simwire_open_pty(char *path, size_t pathlen, int *slave_fd, char *err, size_t errlen);

struct simwire_port {
    int fd;                      /* the wire's end of a unit server's socketpair */
    int unit;                    /* Modbus unit id it answers */
};

struct simwire_opts {
    int master;                  /* pty master */
    int stop_fd;                 /* readable: shut down */
    double byte_s;               /* s per byte */
    bool pace;                   /* false: bytes pass at once */
    struct simwire_port port[SIMWIRE_PORTS];
    int nports;
    bool (*corrupt)(void *ctx, int unit);   /* give this unit's next reply a bad CRC? */
    void *ctx;
    /* How requests are cut into frames (as simwire_request_length says); NULL: Modbus
     * RTU. The Huanyang HY's framing: hy_frame_length (hal/hy_frame.h). */
    int (*frame_length)(const uint8_t *buf, size_t n);
};

/* The wire thread's body (arg: struct simwire_opts *); returns when stop_fd turns readable. */
void *simwire_thread(void *arg);

#endif
