/* tests/compile/other.c: a second unit that includes the header plainly, after a
 * system header (duplicate symbols or a broken declaration fail the link or the build). */
#include <string.h>
#include "llmcache.h"
int other(void);
int other(void) { char h[65]; llmcache_key k; memset(&k, 0, sizeof k); llmcache_key_hex(&k, h); return h[0] == 0x30 ? 0 : 1; }
