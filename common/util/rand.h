/* Random bytes and identifiers from GnuTLS's RNG. */
#ifndef INSEL_RAND_H
#define INSEL_RAND_H

#include <stddef.h>
#include <stdint.h>

#define ID_STRLEN 17  /* 16 hex digits and NUL */

/* Unpredictable bytes for keys and nonces; aborts if the RNG fails (nothing is safe then). */
void rand_key(void *out, size_t len);
/* Unpredictable but not secret: call ids, session ids. */
void rand_nonce(void *out, size_t len);
/* A non-zero 64-bit identifier (zero is kept for "none" on the wire). */
uint64_t rand_id64(void);
/* A non-zero 32-bit identifier. */
uint32_t rand_id32(void);
/* Exponential back-off with jitter, so that many peers do not retry in lock-step: doubles
 * *backoff_ms (starting at first_ms, capped at max_ms) and returns a delay drawn from its
 * upper half. Reset *backoff_ms to 0 after a success. */
uint64_t rand_backoff_ms(uint64_t *backoff_ms, uint64_t first_ms, uint64_t max_ms);
/* 16 lowercase hex digits. */
char *id_format(uint64_t id, char out[ID_STRLEN]);
/* Parses exactly 16 hex digits; 0 or INSEL_E_MALFORMED. */
int id_parse(const char *text, uint64_t *out);

#endif
