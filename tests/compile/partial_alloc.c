/* tests/compile/partial_alloc.c: must NOT compile: LLMCACHE_MALLOC without
 * LLMCACHE_REALLOC and LLMCACHE_FREE is refused (all or none). */
#define LLMCACHE_MALLOC(s) malloc(s)
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
