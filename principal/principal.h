/* Private to insel-principal: the subcommands' entry points. */
#ifndef INSEL_PRINCIPAL_H
#define INSEL_PRINCIPAL_H

#include <stdbool.h>

int plan_main(int argc, char **argv);
int pki_main(int argc, char **argv);
/* pki requests|approve|reject (cmd_pki_requests.c), dispatched by pki_main. */
bool pki_request_verb(const char *name);
int pki_request_main(int argc, char **argv);
int lan_main(int argc, char **argv);
int secondary_main(int argc, char **argv);
int host_main(int argc, char **argv);
int user_main(int argc, char **argv);
int room_main(int argc, char **argv);
int call_main(int argc, char **argv);
int revoke_main(int argc, char **argv);
int status_main(int argc, char **argv);
int events_main(int argc, char **argv);
int migrate_main(int argc, char **argv);
int relays_main(int argc, char **argv);
int serve_main(int argc, char **argv);
/* cmd_link.c */
int links_main(int argc, char **argv);
int routes_main(int argc, char **argv);
int link_main(int argc, char **argv);

#endif
