/* test_ntfsfs.c - PLACEHOLDER, being written. */
#include <config.h>
#include "tap.h"

int main(void)
{
	return 0;
}
