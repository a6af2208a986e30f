/* hy_frame.h - the Huanyang HY series' serial framing, and the vendor's facts about it.
 *
 * The HY drives (HY01D523B, HY02D223B, ...: the cheap VFDs home builders buy) talk over
 * RS-485 in a framing that looks like Modbus RTU and is not: libmodbus cannot speak it.
 * Pure data and arithmetic here (no I/O): eccd's HY backend (hal/drive_hy.c, the master)
 * and eccsim's simulated HY (sim/simhy.c, the slave) both frame with it. The facts are from
 * the HY series manual's communication chapter, cross-checked against frames captured from
 * an HY01D523B; what could not be confirmed is said so.
 *
 * A frame, in both directions:
 *     address  function  length  data (length bytes)  CRC low  CRC high
 *   address   the drive's PD163 (1..247 here; 0 is not used)
 *   length    the number of data bytes that follow (1 to 3)
 *   CRC       CRC-16 as Modbus RTU: polynomial 0xA001 (reflected 0x8005), start 0xFFFF,
 *             over address..data, sent low byte first
 * So a frame is length + 5 bytes long.
 *
 * Functions (request data -> reply data):
 *   0x01 read function data    PD 00 00       -> PD value (2 bytes; 1 byte, length 2, for
 *                                                 parameters that hold a single byte)
 *   0x02 write function data   PD hi lo       -> the same, echoed
 *   0x03 write control data    CNTR           -> CNST (the control status byte)
 *   0x04 read control status   index 00 00    -> index hi lo
 *   0x05 write frequency data  hi lo          -> the same, echoed (Hz x 100)
 * A drive that refuses a request may answer Modbus style: address, function | 0x80, one
 * code byte, CRC (seen from HY-type drives, not in the manual): counted as a refusal.
 *
 * Quirks written down:
 *   - The 0x04 request is sent here as index 00 00 (length 3), the layout of 0x01; some
 *     masters (LinuxCNC's hy_vfd) send the index alone (length 1): both are in use.
 *   - One-byte parameters (PD001, PD163, ...) come back with length 2; two-byte ones with
 *     length 3. Status values (0x04) come back with length 3.
 *   - The control status in the reply to 0x03 may show the state before the command was
 *     taken: read it over several writes, not one.
 *   - The HY has no fault code to read over the link, and no fault-reset command.
 */
#ifndef ECC_HY_FRAME_H
#define ECC_HY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HY_FRAME_MAX 8               /* bytes: the longest frame (3 data bytes) */
#define HY_DATA_MAX 3                /* data bytes in a frame */
#define HY_ADDR_MAX 247              /* addresses used here: 1..247 */

enum hy_fn {
    HY_FN_READ_PARAM = 0x01,         /* read function data (a PDxxx parameter) */
    HY_FN_WRITE_PARAM = 0x02,        /* write function data */
    HY_FN_CONTROL = 0x03,            /* write control data: run, stop, ... */
    HY_FN_STATUS = 0x04,             /* read control status: the display values by index */
    HY_FN_FREQUENCY = 0x05,          /* write frequency data, Hz x 100 */
};
#define HY_FN_REFUSED 0x80           /* bit 7 of the function: a refusal */

/* Control data (CNTR, function 0x03): one bit per command. eccd sends only RUN (the drive
 * runs in its forward direction) and STOP (it stops as PD026 says: ramp or free run);
 * never the reverse or jog bits (a treadmill must not run backwards). */
#define HY_CTL_RUN 0x01
#define HY_CTL_FORWARD 0x02
#define HY_CTL_REVERSE 0x04
#define HY_CTL_STOP 0x08
#define HY_CTL_REV_FWD 0x10              /* toggle the direction */
#define HY_CTL_JOG 0x20
#define HY_CTL_JOG_FORWARD 0x40
#define HY_CTL_JOG_REVERSE 0x80
#define HY_CMD_RUN_FORWARD HY_CTL_RUN    /* 0x01, what every working master sends */
#define HY_CMD_STOP HY_CTL_STOP          /* 0x08 */

/* Control status (CNST, the reply to 0x03). */
#define HY_ST_RUN 0x01               /* a run command is in force */
#define HY_ST_JOG 0x02
#define HY_ST_REV_CMD 0x04           /* the direction commanded (reverse/forward) */
#define HY_ST_RUNNING 0x08           /* the output is on */
#define HY_ST_JOGGING 0x10
#define HY_ST_REV_RUNNING 0x20       /* the direction it runs in */
#define HY_ST_BRAKING 0x40
#define HY_ST_TRACK_START 0x80

/* Control status indexes (function 0x04) and their units. */
enum hy_status_index {
    HY_STATUS_SET_HZ = 0,            /* the set frequency, Hz x 100 */
    HY_STATUS_OUT_HZ = 1,            /* the output frequency, Hz x 100 */
    HY_STATUS_OUT_A = 2,             /* the output current, A x 10 */
    HY_STATUS_RPM = 3,               /* the motor speed, rpm (from PD144) */
    HY_STATUS_DC_V = 4,              /* the DC bus voltage (unit not confirmed) */
    HY_STATUS_AC_V = 5,              /* the output voltage (unit not confirmed) */
    HY_STATUS_COUNTER = 6,           /* the counter */
    HY_STATUS_TEMP = 7,              /* the heat sink temperature (unit not confirmed) */
};
#define HY_STATUS_INDEXES 8
#define HY_HZ_SCALE 100.0            /* raw per Hz: frequencies are in 0.01 Hz */
#define HY_AMP_SCALE 10.0            /* raw per A: currents are in 0.1 A */

/* The parameters a rig needs set on the drive's keypad (docs/drives.md). */
#define HY_PD_RUN_SOURCE 1           /* PD001 source of run commands: 2 = communication port */
#define HY_PD_FREQ_SOURCE 2          /* PD002 source of the frequency: 2 = communication port */
#define HY_PD_MAX_HZ 5               /* PD005 max operating frequency, Hz x 100 */
#define HY_PD_ACCEL 14               /* PD014 acceleration time 1, s x 10 */
#define HY_PD_DECEL 15               /* PD015 deceleration time 1, s x 10 */
#define HY_PD_STOP_MODE 26           /* PD026 stopping mode: 0 ramp, 1 free run (coast) */
#define HY_PD_ADDRESS 163            /* PD163 communication address */
#define HY_PD_BAUD 164               /* PD164 baud: 0 4800, 1 9600, 2 19200, 3 38400 */
#define HY_PD_FORMAT 165             /* PD165 data format: 3 8N1 RTU, 4 8E1 RTU, 5 8O1 RTU
                                        (0..2: the ASCII forms, not spoken here) */
#define HY_SOURCE_COMM 2             /* PD001 / PD002 value: the communication port */

/* A request, or a request as the slave reads it. */
struct hy_request {
    uint8_t addr;
    uint8_t fn;                      /* enum hy_fn */
    uint8_t index;                   /* 0x01/0x02: the PD number; 0x04: the status index */
    uint16_t value;                  /* 0x02: the value; 0x03: CNTR; 0x05: Hz x 100 */
};

/* What a reply said. */
struct hy_reply {
    uint8_t fn;                      /* the function answered (bit 7 clear) */
    uint8_t index;                   /* 0x01/0x02/0x04: the PD number or index echoed */
    uint16_t value;                  /* the value; 0x03: CNST */
    uint8_t refusal;                 /* HY_REFUSED: the drive's code */
};

/* What is wrong with a reply (or a request, on the slave's side). */
enum hy_check {
    HY_OK = 0,
    HY_SHORT,                        /* fewer bytes than a frame needs */
    HY_BAD_CRC,
    HY_BAD_LENGTH,                   /* a length the function does not have, or extra bytes */
    HY_WRONG_ADDR,                   /* another drive's answer */
    HY_WRONG_FUNCTION,               /* an answer to another function (or an unknown one) */
    HY_WRONG_INDEX,                  /* an answer about another parameter or index */
    HY_REFUSED,                      /* a refusal (function | 0x80 and a code) */
};

/* CRC-16 as Modbus RTU over b[0..n): the frame carries it low byte first. */
uint16_t hy_crc16(const uint8_t *b, size_t n);

/* A frame from its parts: out gets len + 5 bytes (CRC appended). len 1..HY_DATA_MAX;
 * returns the frame's length, 0 for a bad len. */
size_t hy_encode(uint8_t addr, uint8_t fn, const uint8_t *data, size_t len, uint8_t *out);

/* A request frame in the shape of its function (see the table above). Returns its length
 * (6 to 8), 0 for an unknown function. */
size_t hy_encode_request(const struct hy_request *rq, uint8_t *out);

/* The normal reply to rq with value (0x01/0x04: the value read; 0x02/0x05: echoed as
 * rq says; 0x03: CNST). Returns its length, 0 for an unknown function. */
size_t hy_encode_reply(const struct hy_request *rq, uint16_t value, uint8_t *out);

/* A refusal of function fn with code. Returns 5. */
size_t hy_encode_refusal(uint8_t addr, uint8_t fn, uint8_t code, uint8_t *out);

/* How long the frame starting at b[0] is, with its CRC: > 0 once known, 0 if more bytes
 * are needed to tell, -1 if it cannot be a frame (an unknown function, a bad length). */
int hy_frame_length(const uint8_t *b, size_t n);

/* Check the reply b[0..n) to the request rq: all of it (length, CRC, address, function,
 * the echoed index). HY_OK fills *rp; HY_REFUSED fills rp->fn and rp->refusal. */
enum hy_check hy_check_reply(const struct hy_request *rq, const uint8_t *b, size_t n,
                             struct hy_reply *rp);

/* The slave's side: read the request b[0..n) (length, CRC, a known function). */
enum hy_check hy_parse_request(const uint8_t *b, size_t n, struct hy_request *rq);

/* "bad CRC", "timeout"-style words for a check result. */
const char *hy_check_name(enum hy_check c);

#endif
