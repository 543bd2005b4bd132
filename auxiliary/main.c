/* insel-auxiliary: the per-call bridge, started by insel-secondary on inherited
 * descriptors (control socket on fd 3; docs/auxiliary.md). One subcommand: run. */
#include "auxiliary.h"
#include "cmd.h"

static const struct command commands[] = {
	{"run", run_main, "bridge one call (started by insel-secondary; control on fd 3)"},
};

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-auxiliary", "insel per-call bridge", commands,
			    sizeof commands / sizeof commands[0], argc, argv);
}
