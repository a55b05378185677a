/* node/daemon: the log and the clock every component of fwledgerd uses (log.c). */
#ifndef FWL_NODE_DAEMON_LOG_H
#define FWL_NODE_DAEMON_LOG_H

#include <stdint.h>

/* One line on stderr: "<UTC time> fwledgerd: <message>". */
void node__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Wall-clock time in ms since the Unix epoch. */
uint64_t node__wall_ms(void);

#endif
