/*
 * fwledger: the command-line tool for a firmware-release ledger. A table of subcommands,
 * each in a file of node/tool/ by what it acts on; see node/tool/tool.h for the conventions
 * they share (exit codes 0 / 1 runtime error / 2 bad usage, --help on every subcommand,
 * --json output).
 */
#include <stdio.h>
#include <string.h>

#include "node/tool/tool.h"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"keygen", keygen_main, "generate a signing key file"},
    {"init", init_main, "create a development chain directory (keys, genesis, node config)"},
    {"publish", publish_main, "register a firmware release"},
    {"revoke", revoke_main, "revoke a release"},
    {"author", author_main, "add or remove an author key for a product (admins)"},
    {"releases", releases_main, "list releases, by product and/or hardware model"},
    {"release", release_main, "show one release by its file hash"},
    {"block", block_main, "show a block and its transactions"},
    {"status", status_main, "show the node's chain and tip"},
    {"contract", contract_main, "deploy, bind, show or check an eligibility contract"},
    {"tracker", tracker_main, "add or remove a status tracker key (admins)"},
    {"report", report_main, "report install outcomes of releases (trackers)"},
    {"eligible", eligible_main, "ask what devices may install (trackers)"},
    {"audit", audit_main, "verify the hash chain of a node's audit log (operators)"},
    {"log", log_main, "checkpoint the release log, verify a node's log extends it (monitors)"},
};

static void usage(void)
{
    printf("usage: fwledger COMMAND [options]   (fwledger COMMAND --help for details)\n\n"
           "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\nNetworked commands take --node HOST:PORT (default 127.0.0.1:7400) or\n"
           "--config NODE.json, and --timeout MS. Exit status: 0 success, 1 error,\n"
           "2 bad usage.\n");
}

static int run(int argc, char **argv)
{
    static char prog[64];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[0], commands[i].name))
            continue;
        snprintf(prog, sizeof prog, "fwledger %s", commands[i].name);
        tool_prog = prog;
        return commands[i].main(argc, argv);
    }
    fprintf(stderr, "fwledger: unknown command '%s' (see 'fwledger --help')\n", argv[0]);
    return TOOL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "fwledger: expected a command (see 'fwledger --help')\n");
        return TOOL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") && argc == 3) { /* "fwledger help publish" */
        char *sub[] = {argv[2], "--help", NULL};
        return run(2, sub);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage();
        return TOOL_EXIT_OK;
    }
    return run(argc - 1, argv + 1);
}
