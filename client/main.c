/* insel: the end user's command (call, listen, calls, hangup, status). Its subcommands
 * arrive with the calls issue. */
#include "cmd.h"

int main(int argc, char **argv)
{
	return cmd_dispatch("insel", "place and answer secure calls", NULL, 0, argc, argv);
}
