/*
 * ldg_strerror: the message table is generated from LDG_ERRORS in ledger.h, so a code and its
 * message can never drift apart. ldg_errno_code and ldg_is_disk_error: the disk errors that
 * the store and the node's files share.
 */
#include <errno.h>

#include "ledger/ledger.h"

const char *ldg_strerror(int err)
{
    switch (err) {
#define LDG_STR_(name, val, msg) \
    case name:                   \
        return msg;
        LDG_ERRORS(LDG_STR_)
#undef LDG_STR_
    default:
        return "unknown error";
    }
}

int ldg_errno_code(int errnum)
{
    switch (errnum) {
    case ENOSPC: return LDG_ENOSPC;
    case EDQUOT: return LDG_EDQUOT;
    case ENOMEM: return LDG_ENOMEM;
    default: return LDG_EIO;
    }
}

bool ldg_is_disk_error(int err)
{
    return err == LDG_ENOSPC || err == LDG_EDQUOT || err == LDG_EMAPFULL || err == LDG_EIO ||
           err == LDG_ESTORE;
}
