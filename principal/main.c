/* insel-principal: the organisation's directory service and its operator CLI.
 * Each subcommand lives in its own file as <name>_main(). */
#include "cmd.h"
#include "principal.h"

static const struct command commands[] = {
	{"plan", plan_main, "show the addressing plan of a CIDR prefix"},
	{"pki", pki_main, "the organisation CA: init, issue and show certificates"},
};

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-principal", "insel directory service and operator CLI",
			    commands, sizeof commands / sizeof commands[0], argc, argv);
}
