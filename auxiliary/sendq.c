/* The send queue: the one way a datagram leaves the auxiliary when it does not go out in
 * a batch (batch.c), and where a datagram waits when the kernel pushes back. A send is
 * tried at once (uv_udp_try_send, no copy, no allocation); only on EAGAIN is the datagram
 * copied into one of AUX_SEND_SLOTS reusable slots and queued with uv_udp_send, which
 * keeps the order behind what libuv already holds. A slot's buffer is allocated on first
 * use and kept until the process ends (sendq_release wipes it: it may hold plaintext).
 * A datagram "on the WAN" (&br->wan) leaves by the WAN socket of its destination's
 * family (wan_socket). A leaf: it calls nothing of the auxiliary's but counts its
 * failures. */
#include <stdlib.h>
#include <string.h>

#include "auxiliary.h"
#include "err.h"
#include "rand.h"

static void on_slot_sent(uv_udp_send_t *req, int status)
{
	struct aux_send_slot *slot = req->data;

	slot->busy = false;
	if (status < 0 && status != UV_ECANCELED)
		slot->bridge->wan_errors++;
}

static struct aux_send_slot *free_slot(struct bridge *br)
{
	for (size_t i = 0; i < AUX_SEND_SLOTS; i++) {
		struct aux_send_slot *slot = &br->slots[i];

		if (slot->busy)
			continue;
		if (!slot->data && !(slot->data = malloc(AUX_DGRAM_MAX)))
			return NULL;
		slot->bridge = br;
		slot->req.data = slot;
		return slot;
	}
	return NULL;
}

/* The kernel pushed back and every slot waits: the datagram is dropped here, and
 * counted on the LAN channel whose socket it was for, or on the WAN. */
static void count_queue_full(struct bridge *br, const uv_udp_t *sock)
{
	for (unsigned i = 0; i < br->n_lan; i++)
		if (sock == &br->lan[i].udp) {
			br->lan[i].drop_send_queue_full++;
			return;
		}
	br->send_queue_full++;
}

static int queue_send(struct bridge *br, uv_udp_t *sock, const struct sockaddr *dst,
		      const uint8_t *data, size_t len)
{
	struct aux_send_slot *slot = free_slot(br);
	uv_buf_t b;
	int rc;

	if (!slot) {
		count_queue_full(br, sock);
		return UV_ENOBUFS;
	}
	memcpy(slot->data, data, len);
	b = uv_buf_init((char *)slot->data, (unsigned)len);
	rc = uv_udp_send(&slot->req, sock, &b, 1, dst, on_slot_sent);
	if (rc == 0)
		slot->busy = true;
	return rc;
}

int sendq_send(struct bridge *br, uv_udp_t *sock, const struct ip_endpoint *dst,
	       const uint8_t *data, size_t len)
{
	struct sockaddr_storage ss;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	int rc;

	if (len > AUX_DGRAM_MAX)
		return INSEL_E_TOO_BIG;
	if (tcp_leg_owns(br, dst))  /* the TCP leg: into its stream */
		return tcp_leg_send(br, data, len) == INSEL_E_CLOSED ? UV_ENOTCONN : 0;
	if (sock == &br->wan)
		sock = wan_socket(br, dst);
	ip_endpoint_to_sockaddr(dst, &ss);
	rc = uv_udp_try_send(sock, &b, 1, (struct sockaddr *)&ss);
	if (rc >= 0)
		return 0;
	/* EAGAIN also means earlier datagrams are still queued: keep the order. */
	if (rc != UV_EAGAIN)
		return rc;
	return queue_send(br, sock, (struct sockaddr *)&ss, data, len);
}

void sendq_release(struct bridge *br)
{
	for (size_t i = 0; i < AUX_SEND_SLOTS; i++) {
		if (br->slots[i].data)
			secure_wipe(br->slots[i].data, AUX_DGRAM_MAX);
		free(br->slots[i].data);
		br->slots[i].data = NULL;
	}
}
