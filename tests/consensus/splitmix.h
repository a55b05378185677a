/*
 * splitmix64: a 64-bit generator of one word of state, for test data and for seeding
 * (the simulator seeds its xoshiro256** with it). Deterministic: the same state gives the
 * same sequence on every machine.
 */
#ifndef FWL_TESTS_CONSENSUS_SPLITMIX_H
#define FWL_TESTS_CONSENSUS_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
