/* insel-secondary: a LAN's gateway daemon (registration, client API, peer protocol, call
 * supervision). Its subcommands arrive with the calls issue; today it only identifies
 * itself so that packaging and the demo can already find it. */
#include "cmd.h"

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-secondary", "insel LAN gateway daemon", NULL, 0, argc, argv);
}
