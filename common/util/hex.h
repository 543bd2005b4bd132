/* Lowercase hexadecimal for keys, serials, fingerprints and ids in text formats. */
#ifndef INSEL_HEX_H
#define INSEL_HEX_H

#include <stddef.h>

/* Writes 2*n digits and a NUL into out (2*n + 1 bytes). */
void hex_encode(const void *in, size_t n, char *out);
/* Decodes exactly 2*n digits (either case) from the first textlen characters of text into
 * n bytes; 0 or INSEL_E_MALFORMED (out may then be partly written: wipe it if secret). */
int hex_decode(const char *text, size_t textlen, void *out, size_t n);

#endif
