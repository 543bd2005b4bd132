/* insel-relay: the relay that insel-principal serve runs (docs/relay.md). One
 * subcommand: run. */
#include "cmd.h"
#include "relay.h"

static const struct command commands[] = {
	{"run", relay_run_main, "forward calls' frames (started by insel-principal; control "
				"on fd 3)"},
};

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-relay", "insel relay", commands,
			    sizeof commands / sizeof commands[0], argc, argv);
}
