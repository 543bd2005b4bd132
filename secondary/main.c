/* insel-secondary: a LAN's gateway daemon. It registers the LAN with the principal and
 * keeps a heartbeat; call negotiation and supervision of auxiliaries build on it. */
#include "cmd.h"
#include "secondary.h"

static const struct command commands[] = {
	{"run", run_main, "run the gateway daemon (--config FILE)"},
	{"check-config", check_config_main, "validate a configuration file"},
};

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-secondary", "insel LAN gateway daemon", commands,
			    sizeof commands / sizeof commands[0], argc, argv);
}
