/* tests/compile/big_value.c: must NOT compile, with an error that names
 * max_value_fits_the_format: a LLMCACHE_MAX_VALUE over the format's 32-bit lengths. */
#define LLMCACHE_IMPLEMENTATION
#define LLMCACHE_MAX_VALUE 5000000000ull
#include "llmcache.h"
