/* Private to insel-principal: the subcommands' entry points. */
#ifndef INSEL_PRINCIPAL_H
#define INSEL_PRINCIPAL_H

int plan_main(int argc, char **argv);
int pki_main(int argc, char **argv);

#endif
