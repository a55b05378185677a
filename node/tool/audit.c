/*
 * What operators run on a node's audit log (`audit verify`): the hash chain checked offline,
 * with the line format and the verifier of node/files (files.h). It needs no node.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/tool/tool.h"

static const char verify_usage[] =
    "usage: fwledger audit verify [--strict] [--json] FILE...\n"
    "\n"
    "Check the hash chain of a node's audit log (docs/operator.md, \"Audit log\"): every line\n"
    "must be an audit line in its canonical form, and each line's seq and prev must follow\n"
    "the line before it, so that an edited, dropped, moved or inserted line is found. Give\n"
    "rotated files oldest first, then the current one:\n"
    "\n"
    "    fwledger audit verify audit.log.3 audit.log.2 audit.log.1 audit.log\n"
    "\n"
    "The first line given may continue an earlier file (rotated away): that is reported, not\n"
    "an error, unless --strict. An incomplete line that the node followed with a chain_reset\n"
    "when it restarted (a crash while it wrote) is reported and skipped. Prints the hash of\n"
    "the last line: the chain cannot show lines cut off at the end, so compare it with a copy\n"
    "kept elsewhere (the node logs it when it stops).\n"
    "\n"
    "  --strict          the first line must start the chain (seq 1)\n"
    "  --json            print {\"intact\", \"lines\", \"first_seq\", \"last_seq\",\n"
    "                    \"from_start\", \"anchor\", \"head\", \"skipped\", \"note\"}, or\n"
    "                    {\"intact\": false, \"file\", \"line\", \"reason\"}\n"
    "\n"
    "Exit status: 0 the chain is intact, 1 it is broken, 2 bad usage or a file that cannot\n"
    "be read.\n";

enum { OPT_STRICT = TOOL_OPT_LOCAL };

static json_t *report_json(const node_audit_report *r)
{
    char h[NODE_AUDIT_HASH_STR];
    json_t *o = json_object();
    json_object_set_new(o, "intact", json_boolean(r->intact));
    if (!r->intact) {
        json_object_set_new(o, "file", tool_json_str(r->file));
        json_object_set_new(o, "line", json_integer((json_int_t)r->line));
        json_object_set_new(o, "reason", tool_json_str(r->why));
        return o;
    }
    json_object_set_new(o, "lines", json_integer((json_int_t)r->lines));
    json_object_set_new(o, "first_seq", json_integer((json_int_t)r->first_seq));
    json_object_set_new(o, "last_seq", json_integer((json_int_t)r->last_seq));
    json_object_set_new(o, "from_start", json_boolean(r->from_start));
    node_audit_hash_str(r->anchor, h);
    json_object_set_new(o, "anchor", json_string(h));
    node_audit_hash_str(r->head, h);
    json_object_set_new(o, "head", json_string(h));
    json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
    json_object_set_new(o, "note", tool_json_str(r->note));
    return o;
}

static void report_text(const node_audit_report *r)
{
    char h[NODE_AUDIT_HASH_STR];
    if (!r->intact) {
        printf("%s line %" PRIu64 ": %s\nchain broken\n", r->file, r->line, r->why);
        return;
    }
    if (!r->lines) {
        printf("0 lines (nothing to verify)\n");
        return;
    }
    printf("%" PRIu64 " lines, chain intact: seq %" PRIu64 " to %" PRIu64 "\n", r->lines,
           r->first_seq, r->last_seq);
    node_audit_hash_str(r->anchor, h);
    if (r->from_start)
        printf("from the start of the chain\n");
    else
        printf("the first line continues an earlier file whose last line hashed to\n  %s "
               "(not checked: give the older files first, or --strict)\n", h);
    if (r->skipped)
        printf("%" PRIu64 " line(s) skipped: %s\n", r->skipped, r->note);
    node_audit_hash_str(r->head, h);
    printf("last line %s\n", h);
}

static int verify_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"strict", no_argument, NULL, OPT_STRICT}, TOOL_OPTS_JSON, TOOL_OPTS_HELP, {0}};
    tool_opts o;
    bool strict = false;
    int c;
    tool_opts_init(&o, verify_usage);
    while ((c = tool_getopt(argc, argv, opts)) != -1) {
        if (c == OPT_STRICT)
            strict = true;
        else
            tool_common_opt(&o, NULL, c, argv);
    }
    if (optind == argc)
        tool_usage_error("expected one or more audit log files");
    node_audit_report r;
    int rc = node_audit_verify((const char *const *)argv + optind, (size_t)(argc - optind),
                               strict, &r);
    if (rc == LDG_EIO) {
        fprintf(stderr, "%s: %s: %s\n", tool_prog, r.file, r.why);
        return TOOL_EXIT_USAGE;
    }
    if (rc)
        tool_die_rc(rc, "verify", "");
    if (o.json)
        tool_json_print(report_json(&r));
    else
        report_text(&r);
    return r.intact ? TOOL_EXIT_OK : TOOL_EXIT_RUNTIME;
}

int audit_main(int argc, char **argv)
{
    static char prog[64];
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: fwledger audit verify [options] FILE...   (fwledger audit verify "
               "--help)\n\nThe node's audit log of security events (docs/operator.md).\n\n"
               "verbs:\n  verify   check the hash chain of audit log files\n");
        return TOOL_EXIT_OK;
    }
    if (argc < 2)
        tool_usage_error("expected verify");
    if (strcmp(argv[1], "verify"))
        tool_usage_error("unknown verb '%s' (verify)", argv[1]);
    snprintf(prog, sizeof prog, "fwledger audit verify");
    tool_prog = prog;
    return verify_main(argc - 1, argv + 1);
}
