/* hy_frame.c - the Huanyang HY series' serial framing (see hy_frame.h). */
#include "hal/hy_frame.h"

#include <string.h>

uint16_t hy_crc16(const uint8_t *b, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

size_t hy_encode(uint8_t addr, uint8_t fn, const uint8_t *data, size_t len, uint8_t *out)
{
    if (len < 1 || len > HY_DATA_MAX)
        return 0;
    out[0] = addr;
    out[1] = fn;
    out[2] = (uint8_t)len;
    memcpy(out + 3, data, len);
    uint16_t crc = hy_crc16(out, 3 + len);
    out[3 + len] = (uint8_t)(crc & 0xFF);
    out[4 + len] = (uint8_t)(crc >> 8);
    return len + 5;
}

size_t hy_encode_refusal(uint8_t addr, uint8_t fn, uint8_t code, uint8_t *out)
{
    out[0] = addr;
    out[1] = (uint8_t)(fn | HY_FN_REFUSED);
    out[2] = code;
    uint16_t crc = hy_crc16(out, 3);
    out[3] = (uint8_t)(crc & 0xFF);
    out[4] = (uint8_t)(crc >> 8);
    return 5;
}

/* ---- requests and replies by function ------------------------------------------------ */

static uint8_t hi(uint16_t v)
{
    return (uint8_t)(v >> 8);
}

static uint8_t lo(uint16_t v)
{
    return (uint8_t)(v & 0xFF);
}

size_t hy_encode_request(const struct hy_request *rq, uint8_t *out)
{
    uint8_t d[HY_DATA_MAX];

    switch (rq->fn) {
    case HY_FN_READ_PARAM:
    case HY_FN_STATUS:
        d[0] = rq->index;
        d[1] = d[2] = 0;             /* place holders */
        return hy_encode(rq->addr, rq->fn, d, 3, out);
    case HY_FN_WRITE_PARAM:
        d[0] = rq->index;
        d[1] = hi(rq->value);
        d[2] = lo(rq->value);
        return hy_encode(rq->addr, rq->fn, d, 3, out);
    case HY_FN_CONTROL:
        d[0] = lo(rq->value);
        return hy_encode(rq->addr, rq->fn, d, 1, out);
    case HY_FN_FREQUENCY:
        d[0] = hi(rq->value);
        d[1] = lo(rq->value);
        return hy_encode(rq->addr, rq->fn, d, 2, out);
    default:
        return 0;
    }
}

size_t hy_encode_reply(const struct hy_request *rq, uint16_t value, uint8_t *out)
{
    struct hy_request echo = *rq;

    if (rq->fn == HY_FN_READ_PARAM || rq->fn == HY_FN_STATUS) {
        uint8_t d[3] = {rq->index, hi(value), lo(value)};
        return hy_encode(rq->addr, rq->fn, d, 3, out);
    }
    echo.value = value;          /* 0x02, 0x05: the value echoed; 0x03: CNST in CNTR's place */
    return hy_encode_request(&echo, out);
}

/* ---- lengths and checks -------------------------------------------------------------- */

static bool known_fn(uint8_t fn)
{
    return fn >= HY_FN_READ_PARAM && fn <= HY_FN_FREQUENCY;
}

int hy_frame_length(const uint8_t *b, size_t n)
{
    if (n < 2)
        return 0;
    if (b[1] & HY_FN_REFUSED)
        return known_fn((uint8_t)(b[1] & ~HY_FN_REFUSED)) ? 5 : -1;
    if (!known_fn(b[1]))
        return -1;
    if (n < 3)
        return 0;
    if (b[2] < 1 || b[2] > HY_DATA_MAX)
        return -1;
    return b[2] + 5;
}

static bool crc_ok(const uint8_t *b, size_t n)
{
    uint16_t crc = hy_crc16(b, n - 2);
    return b[n - 2] == lo(crc) && b[n - 1] == hi(crc);
}

/* The data lengths a reply to fn may have. */
static bool reply_len_ok(uint8_t fn, uint8_t len)
{
    switch (fn) {
    case HY_FN_READ_PARAM:
    case HY_FN_WRITE_PARAM:
        return len == 2 || len == 3;     /* a one-byte or a two-byte parameter */
    case HY_FN_STATUS:
        return len == 2 || len == 3;
    case HY_FN_CONTROL:
        return len == 1;
    case HY_FN_FREQUENCY:
        return len == 2;
    default:
        return false;
    }
}

/* Length and CRC of a whole frame b[0..n); the function is left to the caller. */
static enum hy_check frame_ok(const uint8_t *b, size_t n)
{
    int want = hy_frame_length(b, n);

    if (want == 0)
        return HY_SHORT;
    if (want < 0)
        return (b[1] & HY_FN_REFUSED) || !known_fn(b[1]) ? HY_WRONG_FUNCTION : HY_BAD_LENGTH;
    if (n < (size_t)want)
        return HY_SHORT;
    if (n > (size_t)want)
        return HY_BAD_LENGTH;
    return crc_ok(b, n) ? HY_OK : HY_BAD_CRC;
}

static uint16_t value_of(const uint8_t *data, uint8_t len)
{
    return len == 1 ? data[0] : (uint16_t)(data[len - 2] << 8 | data[len - 1]);
}

static enum hy_check reply_fields(const struct hy_request *rq, const uint8_t *b,
                                  struct hy_reply *rp)
{
    uint8_t len = b[2];
    const uint8_t *d = b + 3;

    if (!reply_len_ok(rq->fn, len))
        return HY_BAD_LENGTH;
    rp->fn = b[1];
    rp->refusal = 0;
    rp->index = 0;
    if (rq->fn == HY_FN_READ_PARAM || rq->fn == HY_FN_WRITE_PARAM || rq->fn == HY_FN_STATUS) {
        rp->index = d[0];
        if (d[0] != rq->index)
            return HY_WRONG_INDEX;
        rp->value = value_of(d + 1, (uint8_t)(len - 1));
    } else {
        rp->value = value_of(d, len);
    }
    return HY_OK;
}

enum hy_check hy_check_reply(const struct hy_request *rq, const uint8_t *b, size_t n,
                             struct hy_reply *rp)
{
    enum hy_check c = frame_ok(b, n);

    if (c != HY_OK)
        return c;
    if (b[0] != rq->addr)
        return HY_WRONG_ADDR;
    if (b[1] == (rq->fn | HY_FN_REFUSED)) {
        rp->fn = rq->fn;
        rp->refusal = b[2];
        return HY_REFUSED;
    }
    if (b[1] != rq->fn)
        return HY_WRONG_FUNCTION;
    return reply_fields(rq, b, rp);
}

/* The data lengths a request for fn may have (the index alone for 0x01/0x04 too). */
static bool request_len_ok(uint8_t fn, uint8_t len)
{
    switch (fn) {
    case HY_FN_READ_PARAM:
    case HY_FN_STATUS:
        return len == 1 || len == 3;
    case HY_FN_WRITE_PARAM:
        return len == 2 || len == 3;
    case HY_FN_CONTROL:
        return len == 1;
    case HY_FN_FREQUENCY:
        return len == 2;
    default:
        return false;
    }
}

enum hy_check hy_parse_request(const uint8_t *b, size_t n, struct hy_request *rq)
{
    enum hy_check c = frame_ok(b, n);

    if (c != HY_OK)
        return c;
    if (!known_fn(b[1]))
        return HY_WRONG_FUNCTION;
    if (!request_len_ok(b[1], b[2]))
        return HY_BAD_LENGTH;
    memset(rq, 0, sizeof *rq);
    rq->addr = b[0];
    rq->fn = b[1];
    if (b[1] == HY_FN_READ_PARAM || b[1] == HY_FN_STATUS) {
        rq->index = b[3];
    } else if (b[1] == HY_FN_WRITE_PARAM) {
        rq->index = b[3];
        rq->value = value_of(b + 4, (uint8_t)(b[2] - 1));
    } else {
        rq->value = value_of(b + 3, b[2]);
    }
    return HY_OK;
}

const char *hy_check_name(enum hy_check c)
{
    static const char *const names[] = {"ok", "short frame", "bad CRC", "bad length",
                                        "wrong address", "wrong function", "wrong index",
                                        "refused"};

    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "?";
}
