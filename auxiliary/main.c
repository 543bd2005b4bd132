/* insel-auxiliary: the per-call bridge, started by insel-secondary on inherited
 * descriptors. Its relay arrives with the calls issue. */
#include "cmd.h"

int main(int argc, char **argv)
{
	return cmd_dispatch("insel-auxiliary", "insel per-call bridge", NULL, 0, argc, argv);
}
