package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.config.HostPort;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code portal add|remove}. */
@Command(name = "portal", description = "Add or remove portals of a target's portal group.",
        subcommands = {PortalCommands.Add.class, PortalCommands.Remove.class})
final class PortalCommands extends GroupCommand {

    abstract static class PortalCommand extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "HOST:PORT", description = "Portal address (port default 3260).")
        HostPort portal;

        @Option(names = "--tag", paramLabel = "N", defaultValue = "1", description = "Portal group tag (default: ${DEFAULT-VALUE}).")
        int tag;
    }

    @Command(name = "add", description = "Add a portal (the group is created when missing); the server listens on it at once.")
    static final class Add extends PortalCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            api.addPortal(iqn, tag, portal);
            done("Added portal " + portal + " to portal group " + tag + " of " + iqn + ".");
        }
    }

    @Command(name = "remove", description = "Remove a portal from a portal group; the server stops listening on it once "
            + "no target uses it (sessions already logged in through it stay).")
    static final class Remove extends PortalCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            api.removePortal(iqn, tag, portal);
            done("Removed portal " + portal + " from portal group " + tag + " of " + iqn + ".");
        }
    }
}
