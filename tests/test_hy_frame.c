/* test_hy_frame.c - the Huanyang HY framing (hal/hy_frame.h) checked against frames built
 * here by hand from the HY manual's layout: address, function, length, data, CRC low, CRC
 * high. The CRC of a hand-built frame comes from this file's own CRC-16/MODBUS (bit by bit,
 * checked against the catalogue's check value), never from eccd's function. A few frames
 * are taken whole, CRC and all, as published from real drives (an HY01D523B at address 4
 * reading its communication parameters; run, stop and 25 Hz at address 1): they check this
 * file's CRC as much as eccd's framing.
 */
#include "hal/hy_frame.h"
#include "tests/test.h"

#include <stdint.h>

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test's own CRC and frame builder ------------------------------------------ */

/* CRC-16/MODBUS: reflected polynomial 0x8005 (0xA001), initial 0xFFFF, no final xor. */
static uint16_t test_crc(const uint8_t *b, size_t n)
{
    unsigned reg = 0xFFFFu;

    for (size_t i = 0; i < n; i++) {
        reg ^= b[i];
        for (int k = 0; k < 8; k++) {
            unsigned lsb = reg & 1u;
            reg >>= 1;
            if (lsb)
                reg ^= 0xA001u;
        }
    }
    return (uint16_t)reg;
}

/* Append the CRC, low byte first, to the n bytes in f; returns the new length. */
static size_t with_crc(uint8_t *f, size_t n)
{
    uint16_t c = test_crc(f, n);
    f[n] = (uint8_t)(c & 0xFF);
    f[n + 1] = (uint8_t)(c >> 8);
    return n + 2;
}

static bool same(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    if (na != nb) {
        printf("  lengths %zu and %zu\n", na, nb);
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (a[i] != b[i]) {
            printf("  byte %zu: 0x%02x, want 0x%02x\n", i, a[i], b[i]);
            return false;
        }
    }
    return true;
}

/* ---- the CRC ------------------------------------------------------------------------ */

TEST(the_tests_crc_has_the_catalogue_check_value)
{
    const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};

    CHECK_INT(test_crc(check, LEN(check)), 0x4B37);     /* CRC-16/MODBUS check value */
    CHECK_INT(hy_crc16(check, LEN(check)), 0x4B37);
}

TEST(published_frames_carry_the_tests_crc)
{
    /* Whole frames as published, CRC from the wire. */
    static const uint8_t frames[][8] = {
        {0x04, 0x01, 0x03, 0x01, 0x00, 0x00, 0x6D, 0xDB},   /* read PD001, address 4 */
        {0x04, 0x01, 0x03, 0xA3, 0x00, 0x00, 0xCC, 0x39},   /* read PD163 */
        {0x04, 0x01, 0x03, 0x05, 0x17, 0x70, 0x22, 0x0E},   /* PD005 = 60.00 Hz */
    };
    static const uint8_t stop[] = {0x01, 0x03, 0x01, 0x08, 0xF1, 0x8E};
    static const uint8_t hz25[] = {0x01, 0x05, 0x02, 0x09, 0xC4, 0xBF, 0x0F};

    for (size_t i = 0; i < LEN(frames); i++)
        CHECK_INT(test_crc(frames[i], 6), frames[i][6] | frames[i][7] << 8);
    CHECK_INT(test_crc(stop, 4), stop[4] | stop[5] << 8);
    CHECK_INT(test_crc(hz25, 5), hz25[5] | hz25[6] << 8);
}

/* ---- requests: what eccd sends ------------------------------------------------------ */

static void check_request(uint8_t addr, uint8_t fn, uint8_t index, uint16_t value,
                          const uint8_t *want, size_t nwant)
{
    const struct hy_request rq = {.addr = addr, .fn = fn, .index = index, .value = value};
    uint8_t out[HY_FRAME_MAX + 4];
    size_t n = hy_encode_request(&rq, out);

    CHECK(same(out, n, want, nwant));
}

TEST(control_and_frequency_requests_are_the_published_frames)
{
    static const uint8_t run[] = {0x01, 0x03, 0x01, 0x01, 0x31, 0x88};
    static const uint8_t stop[] = {0x01, 0x03, 0x01, 0x08, 0xF1, 0x8E};
    static const uint8_t hz25[] = {0x01, 0x05, 0x02, 0x09, 0xC4, 0xBF, 0x0F};

    check_request(1, HY_FN_CONTROL, 0, HY_CMD_RUN_FORWARD, run, LEN(run));
    check_request(1, HY_FN_CONTROL, 0, HY_CMD_STOP, stop, LEN(stop));
    check_request(1, HY_FN_FREQUENCY, 0, 2500, hz25, LEN(hz25));
    CHECK_INT(HY_CMD_RUN_FORWARD, 0x01);
    CHECK_INT(HY_CMD_STOP, 0x08);
}

TEST(parameter_requests_are_the_captured_frames)
{
    static const uint8_t pd001[] = {0x04, 0x01, 0x03, 0x01, 0x00, 0x00, 0x6D, 0xDB};
    static const uint8_t pd165[] = {0x04, 0x01, 0x03, 0xA5, 0x00, 0x00, 0x2C, 0x38};

    check_request(4, HY_FN_READ_PARAM, HY_PD_RUN_SOURCE, 0, pd001, LEN(pd001));
    check_request(4, HY_FN_READ_PARAM, HY_PD_FORMAT, 0, pd165, LEN(pd165));
}

TEST(requests_built_by_hand_from_the_manual_layout)
{
    /* 0x04 read control status, index 1 (output frequency), address 1: 01 04 03 01 00 00 */
    uint8_t status[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x00, 0x00};
    size_t ns = with_crc(status, 6);
    /* 0x04 index 2 (output current), address 17 */
    uint8_t current[HY_FRAME_MAX] = {0x11, 0x04, 0x03, 0x02, 0x00, 0x00};
    size_t nc = with_crc(current, 6);
    /* 0x05 frequency 12.34 Hz = 1234 = 0x04D2, address 2 */
    uint8_t freq[HY_FRAME_MAX] = {0x02, 0x05, 0x02, 0x04, 0xD2};
    size_t nf = with_crc(freq, 5);
    /* 0x02 write PD005 = 50.00 Hz = 5000 = 0x1388, address 1 */
    uint8_t pd005[HY_FRAME_MAX] = {0x01, 0x02, 0x03, 0x05, 0x13, 0x88};
    size_t np = with_crc(pd005, 6);

    check_request(1, HY_FN_STATUS, HY_STATUS_OUT_HZ, 0, status, ns);
    check_request(17, HY_FN_STATUS, HY_STATUS_OUT_A, 0, current, nc);
    check_request(2, HY_FN_FREQUENCY, 0, 1234, freq, nf);
    check_request(1, HY_FN_WRITE_PARAM, HY_PD_MAX_HZ, 5000, pd005, np);
}

TEST(an_unknown_function_builds_nothing)
{
    const struct hy_request rq = {.addr = 1, .fn = 0x06};
    uint8_t out[HY_FRAME_MAX];

    CHECK_INT(hy_encode_request(&rq, out), 0);
}

/* ---- replies: what eccd accepts ----------------------------------------------------- */

static enum hy_check check_of(uint8_t addr, uint8_t fn, uint8_t index, const uint8_t *b,
                              size_t n, struct hy_reply *rp)
{
    const struct hy_request rq = {.addr = addr, .fn = fn, .index = index};
    return hy_check_reply(&rq, b, n, rp);
}

TEST(good_replies_give_their_values)
{
    /* captured: PD001 is one byte (length 2), value 2 (communication port) */
    static const uint8_t pd001[] = {0x04, 0x01, 0x02, 0x01, 0x02, 0xF5, 0xAD};
    /* captured: PD005 is two bytes, 0x1770 = 6000 = 60.00 Hz */
    static const uint8_t pd005[] = {0x04, 0x01, 0x03, 0x05, 0x17, 0x70, 0x22, 0x0E};
    /* published: the reply to a control write, CNST 0x09 (run in force, output on) */
    static const uint8_t cnst[] = {0x01, 0x03, 0x01, 0x09, 0x30, 0x4E};
    /* by hand: output frequency 45.67 Hz = 4567 = 0x11D7 */
    uint8_t outf[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t no = with_crc(outf, 6);
    /* by hand: output current 3.2 A = 32 = 0x0020 */
    uint8_t outa[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x02, 0x00, 0x20};
    size_t na = with_crc(outa, 6);
    static const uint8_t hz25[] = {0x01, 0x05, 0x02, 0x09, 0xC4, 0xBF, 0x0F};
    struct hy_reply rp;

    CHECK_INT(check_of(4, HY_FN_READ_PARAM, 1, pd001, LEN(pd001), &rp), HY_OK);
    CHECK_INT(rp.value, 2);
    CHECK_INT(check_of(4, HY_FN_READ_PARAM, 5, pd005, LEN(pd005), &rp), HY_OK);
    CHECK_INT(rp.value, 6000);
    CHECK_INT(check_of(1, HY_FN_CONTROL, 0, cnst, LEN(cnst), &rp), HY_OK);
    CHECK_INT(rp.value, HY_ST_RUN | HY_ST_RUNNING);
    CHECK_INT(check_of(1, HY_FN_STATUS, HY_STATUS_OUT_HZ, outf, no, &rp), HY_OK);
    CHECK_INT(rp.value, 4567);
    CHECK_INT(rp.index, HY_STATUS_OUT_HZ);
    CHECK_INT(check_of(1, HY_FN_STATUS, HY_STATUS_OUT_A, outa, na, &rp), HY_OK);
    CHECK_INT(rp.value, 32);
    CHECK_INT(check_of(1, HY_FN_FREQUENCY, 0, hz25, LEN(hz25), &rp), HY_OK);
    CHECK_INT(rp.value, 2500);
}

TEST(a_bad_crc_is_refused)
{
    uint8_t outf[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t n = with_crc(outf, 6);
    struct hy_reply rp;

    outf[n - 1] ^= 0x01;         /* CRC high byte */
    CHECK_INT(check_of(1, HY_FN_STATUS, 1, outf, n, &rp), HY_BAD_CRC);
    outf[n - 1] ^= 0x01;
    outf[4] ^= 0x80;             /* a data bit flipped on the wire */
    CHECK_INT(check_of(1, HY_FN_STATUS, 1, outf, n, &rp), HY_BAD_CRC);
    static const uint8_t swapped[] = {0x01, 0x03, 0x01, 0x08, 0x8E, 0xF1};  /* CRC high first */
    CHECK_INT(check_of(1, HY_FN_CONTROL, 0, swapped, LEN(swapped), &rp), HY_BAD_CRC);
}

TEST(another_drives_answer_is_refused)
{
    /* a valid frame from address 2, to a request for address 1 */
    uint8_t outf[HY_FRAME_MAX] = {0x02, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t n = with_crc(outf, 6);
    struct hy_reply rp;

    CHECK_INT(check_of(1, HY_FN_STATUS, 1, outf, n, &rp), HY_WRONG_ADDR);
    CHECK_INT(check_of(2, HY_FN_STATUS, 1, outf, n, &rp), HY_OK);
}

TEST(a_short_frame_is_refused)
{
    uint8_t outf[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t n = with_crc(outf, 6);
    struct hy_reply rp;

    for (size_t k = 0; k < n; k++)
        CHECK_INT(check_of(1, HY_FN_STATUS, 1, outf, k, &rp), HY_SHORT);
    /* a frame whose length byte says 2 where the function needs 3 bytes is not short: it
     * is the wrong length */
    uint8_t two[HY_FRAME_MAX] = {0x01, 0x05, 0x03, 0x09, 0xC4, 0x00};
    size_t n2 = with_crc(two, 6);
    CHECK_INT(check_of(1, HY_FN_FREQUENCY, 0, two, n2, &rp), HY_BAD_LENGTH);
}

TEST(wrong_function_index_and_lengths_are_refused)
{
    uint8_t outf[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t n = with_crc(outf, 6);
    uint8_t longer[HY_FRAME_MAX + 1];
    struct hy_reply rp;

    CHECK_INT(check_of(1, HY_FN_READ_PARAM, 1, outf, n, &rp), HY_WRONG_FUNCTION);
    CHECK_INT(check_of(1, HY_FN_STATUS, HY_STATUS_OUT_A, outf, n, &rp), HY_WRONG_INDEX);
    memcpy(longer, outf, n);
    longer[n] = 0x00;            /* a byte past the frame */
    CHECK_INT(check_of(1, HY_FN_STATUS, 1, longer, n + 1, &rp), HY_BAD_LENGTH);
    /* a control reply with two data bytes: the function has one */
    uint8_t ctl2[HY_FRAME_MAX] = {0x01, 0x03, 0x02, 0x09, 0x00};
    size_t nc = with_crc(ctl2, 5);
    CHECK_INT(check_of(1, HY_FN_CONTROL, 0, ctl2, nc, &rp), HY_BAD_LENGTH);
    /* function 0x06 does not exist */
    uint8_t f6[HY_FRAME_MAX] = {0x01, 0x06, 0x01, 0x00};
    size_t n6 = with_crc(f6, 4);
    CHECK_INT(check_of(1, HY_FN_CONTROL, 0, f6, n6, &rp), HY_WRONG_FUNCTION);
}

TEST(a_refusal_is_told_apart)
{
    /* Modbus style: address, function | 0x80, code, CRC */
    uint8_t ref[HY_FRAME_MAX] = {0x01, 0x84, 0x02};
    size_t n = with_crc(ref, 3);
    struct hy_reply rp;

    CHECK_INT(check_of(1, HY_FN_STATUS, 9, ref, n, &rp), HY_REFUSED);
    CHECK_INT(rp.refusal, 2);
    CHECK_INT(rp.fn, HY_FN_STATUS);
    /* a refusal of another function is not this request's answer */
    CHECK_INT(check_of(1, HY_FN_CONTROL, 0, ref, n, &rp), HY_WRONG_FUNCTION);
    ref[n - 2] ^= 0xFF;
    CHECK_INT(check_of(1, HY_FN_STATUS, 9, ref, n, &rp), HY_BAD_CRC);
}

/* ---- lengths, and the slave's side (eccsim) ----------------------------------------- */

TEST(frame_length_is_known_from_the_third_byte)
{
    static const uint8_t hz25[] = {0x01, 0x05, 0x02, 0x09, 0xC4, 0xBF, 0x0F};
    static const uint8_t ref[] = {0x01, 0x83, 0x04};
    static const uint8_t bad_fn[] = {0x01, 0x09, 0x01};
    static const uint8_t bad_len[] = {0x01, 0x04, 0x04};
    static const uint8_t zero_len[] = {0x01, 0x03, 0x00};

    CHECK_INT(hy_frame_length(hz25, 0), 0);
    CHECK_INT(hy_frame_length(hz25, 1), 0);
    CHECK_INT(hy_frame_length(hz25, 2), 0);
    CHECK_INT(hy_frame_length(hz25, 3), 7);
    CHECK_INT(hy_frame_length(ref, 2), 5);
    CHECK_INT(hy_frame_length(bad_fn, 2), -1);
    CHECK_INT(hy_frame_length(bad_len, 3), -1);
    CHECK_INT(hy_frame_length(zero_len, 3), -1);
}

TEST(the_slave_reads_requests_and_builds_replies)
{
    static const uint8_t run[] = {0x01, 0x03, 0x01, 0x01, 0x31, 0x88};
    /* LinuxCNC's form of a status read: the index alone, length 1 */
    uint8_t short_status[HY_FRAME_MAX] = {0x01, 0x04, 0x01, 0x01};
    size_t ns = with_crc(short_status, 4);
    uint8_t outf[HY_FRAME_MAX] = {0x01, 0x04, 0x03, 0x01, 0x11, 0xD7};
    size_t no = with_crc(outf, 6);
    static const uint8_t cnst[] = {0x01, 0x03, 0x01, 0x09, 0x30, 0x4E};
    uint8_t out[HY_FRAME_MAX], bad[LEN(run)];
    struct hy_request rq;

    CHECK_INT(hy_parse_request(run, LEN(run), &rq), HY_OK);
    CHECK_INT(rq.fn, HY_FN_CONTROL);
    CHECK_INT(rq.value, HY_CMD_RUN_FORWARD);
    CHECK(same(out, hy_encode_reply(&rq, HY_ST_RUN | HY_ST_RUNNING, out), cnst, LEN(cnst)));
    CHECK_INT(hy_parse_request(short_status, ns, &rq), HY_OK);
    CHECK_INT(rq.fn, HY_FN_STATUS);
    CHECK_INT(rq.index, HY_STATUS_OUT_HZ);
    CHECK(same(out, hy_encode_reply(&rq, 4567, out), outf, no));
    memcpy(bad, run, sizeof bad);
    bad[4] ^= 0x10;
    CHECK_INT(hy_parse_request(bad, LEN(bad), &rq), HY_BAD_CRC);
    uint8_t ref[HY_FRAME_MAX];
    CHECK_INT(hy_encode_refusal(1, HY_FN_STATUS, 2, ref), 5);
    CHECK_INT(hy_parse_request(ref, 5, &rq), HY_WRONG_FUNCTION);
    uint8_t want_ref[HY_FRAME_MAX] = {0x01, 0x84, 0x02};
    CHECK(same(ref, 5, want_ref, with_crc(want_ref, 3)));
}

TESTS(T(the_tests_crc_has_the_catalogue_check_value), T(published_frames_carry_the_tests_crc),
      T(control_and_frequency_requests_are_the_published_frames),
      T(parameter_requests_are_the_captured_frames),
      T(requests_built_by_hand_from_the_manual_layout), T(an_unknown_function_builds_nothing),
      T(good_replies_give_their_values), T(a_bad_crc_is_refused),
      T(another_drives_answer_is_refused), T(a_short_frame_is_refused),
      T(wrong_function_index_and_lengths_are_refused), T(a_refusal_is_told_apart),
      T(frame_length_is_known_from_the_third_byte),
      T(the_slave_reads_requests_and_builds_replies));

TEST_MAIN("test_hy_frame")
