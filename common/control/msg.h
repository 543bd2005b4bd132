/* Control messages, all of them: used on every control path (principal API, peer
 * protocol, client API and parent<->auxiliary). Three parts, each with its own header for
 * code that needs only one:
 *
 *   msg_codec.h   frames and the request/reply envelope (no I/O)
 *   msg_get.h     validating getters for a message's fields
 *   msg_stream.h  framed JSON over a libuv stream
 */
#ifndef INSEL_MSG_H
#define INSEL_MSG_H

#include "msg_codec.h"
#include "msg_get.h"
#include "msg_stream.h"

#endif
