/* tests/compile/impl.c: the translation unit with the implementation, for `make
 * compile-test` (C99, C++11, C++17 and the compile-time options); with
 * tests/compile/other.c it makes a program of two units that both include the header. */
#define LLMCACHE_IMPLEMENTATION
#include "llmcache.h"
int other(void);
int main(void) { return other(); }
