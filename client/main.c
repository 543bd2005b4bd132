/* insel: the end user's command. It talks only to its own LAN's gateway (insel-secondary)
 * and never carries call traffic itself: applications send to the address it prints. */
#include <signal.h>

#include "client.h"
#include "cmd.h"

static const struct command commands[] = {
	{"call", call_main, "place a call: insel call USER@LAN|HOST [--udp PORT[,PORT]]"},
	{"listen", listen_main, "wait for calls and answer them"},
	{"calls", calls_main, "list your calls in progress"},
	{"hangup", hangup_main, "end a call: insel hangup CALL-ID"},
	{"status", status_main, "show the gateway's status"},
	{"room", room_main, "rooms (virtual LANs): insel room create|join|leave|... NAME"},
	{"rooms", rooms_main, "list your rooms and their members"},
	{"open", open_main, "open a named reliable connection: insel open NAME USER@LAN|HOST"},
	{"send", send_main, "send on a named connection: insel send NAME [FILE|-]"},
	{"recv", recv_main, "receive from a named connection: insel recv NAME [FILE|-]"},
	{"close", close_main, "close a named connection after delivering: insel close NAME"},
	{"abort", abort_main, "abort a named connection at once: insel abort NAME"},
	{"send-file", send_file_main, "send a file reliably: insel send-file USER@LAN|HOST FILE"},
};

int main(int argc, char **argv)
{
	/* A gateway that hangs up mid-write gives an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	return cmd_dispatch("insel", "place and answer secure calls", commands,
			    sizeof commands / sizeof commands[0], argc, argv);
}
