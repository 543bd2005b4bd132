/* insel-principal: the organisation's directory service and its operator CLI.
 * Each subcommand lives in its own file as <name>_main(). */
#include "cmd.h"
#include "principal.h"

static const struct command commands[] = {
	{"plan", plan_main, "show the addressing plan of a CIDR prefix"},
	{"pki", pki_main, "the organisation CA: init, issue, show; renewal requests"},
	{"lan", lan_main, "LANs and their prefixes: add, list, show, remove, ..."},
	{"secondary", secondary_main, "LAN gateways: add, list, show, remove, revoke"},
	{"host", host_main, "named hosts: add, list, show, remove"},
	{"user", user_main, "users: add, passwd, list, show, remove"},
	{"room", room_main, "rooms (virtual LANs): add, list, show, remove, join, ban, ..."},
	{"call", call_main, "call records: list, show, end"},
	{"revoke", revoke_main, "revoked certificates: add, list, remove"},
	{"status", status_main, "what the directory holds, at a glance"},
	{"relays", relays_main, "the relays the running principal knows, and their load"},
	{"links", links_main, "the overlay's measured links between gateways"},
	{"routes", routes_main, "the cheapest path between two gateways, hop by hop"},
	{"link", link_main, "the operator's weight and penalty on a link"},
	{"serve", serve_main, "run the directory's TLS API daemon"},
	{"events", events_main, "the event log: calls, gateways, failed logins, revocations"},
	{"migrate-to-postgresql", migrate_main,
	 "copy a SQLite directory into PostgreSQL, checking counts"},
};

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-principal", "insel directory service and operator CLI",
			    commands, sizeof commands / sizeof commands[0], argc, argv);
}
