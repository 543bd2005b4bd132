/* The ciphers, the compressions and the parameters of one negotiated channel. Apart from
 * chanparams.h (their JSON form for the auxiliary) because the installed Secsockets
 * header (secsock.h) shows them to applications: sec_export hands them over. */
#ifndef INSEL_CHANPARAMS_TYPES_H
#define INSEL_CHANPARAMS_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "addr_types.h"

enum sec_cipher {
	SEC_CIPHER_NONE = 0,  /* never negotiated: only marks "unset" */
	SEC_CIPHER_AES256GCM = 1,
	SEC_CIPHER_CHACHA20POLY1305 = 2,
};

enum sec_compress {
	SEC_COMPRESS_NONE = 0,
	SEC_COMPRESS_DEFLATE = 1,
};

#define SEC_KEY_LEN 32
#define SEC_MAX_CHANNELS 8

struct sec_channel_params {
	uint64_t call_id;
	uint8_t channel;              /* index within the call, 0..SEC_MAX_CHANNELS-1 */
	enum sec_cipher cipher;
	enum sec_compress compress;
	uint32_t local_session;       /* the id peers put in frames sent to us */
	uint32_t remote_session;      /* the id we put in frames sent to the peer */
	uint8_t send_key[SEC_KEY_LEN];
	uint8_t recv_key[SEC_KEY_LEN];
	struct ip_endpoint peer;      /* the peer auxiliary's UDP endpoint, as first known */
	uint16_t mtu;                 /* largest UDP payload to send, frame included */
	uint64_t rekey_after_frames;  /* 0: the default */
	uint32_t rekey_after_ms;      /* 0: the default */
	uint32_t keepalive_ms;        /* 0: the default */
	uint32_t dead_after_ms;       /* peer silent this long: the channel is dead; 0: default */
	bool external_rekey;          /* epochs after 0 come from channel_install_epoch (an
				       * ephemeral key exchange run by the parent, rekey.h),
				       * not from hashing the previous key */
};

const char *sec_cipher_name(enum sec_cipher c);       /* "aes-256-gcm", "chacha20-poly1305" */
enum sec_cipher sec_cipher_from_name(const char *name);  /* SEC_CIPHER_NONE if unknown */
const char *sec_compress_name(enum sec_compress c);   /* "none", "deflate" */
int sec_compress_from_name(const char *name, enum sec_compress *out);

#endif
