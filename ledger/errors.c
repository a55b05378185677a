/*
 * ldg_strerror: the message table is generated from LDG_ERRORS in ledger.h, so a code and its
 * message can never drift apart.
 */
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
