/* The daemon's log and clock (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "node/daemon/log.h"

uint64_t node__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void node__log(const char *fmt, ...)
{
    va_list ap;
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(stderr, "%s fwledgerd: ", ts);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
