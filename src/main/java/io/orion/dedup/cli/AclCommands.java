package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.IscsiName;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code acl add|remove|list}. */
@Command(name = "acl", description = "Allow initiators in (node ACLs), with mapped LUNs and write protection.",
        subcommands = {AclCommands.Add.class, AclCommands.Remove.class, AclCommands.ListAcls.class})
final class AclCommands extends GroupCommand {

    @Command(name = "add", description = "Add or replace the ACL of an initiator.")
    static final class Add extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "INITIATOR", description = "Initiator name, e.g. iqn.1994-05.com.redhat:host1.")
        String initiator;

        @Option(names = "--luns", paramLabel = "N[,N...]", split = ",", description = "LUNs it sees (default: all).")
        List<Integer> luns = new ArrayList<>();

        @Option(names = "--write-protect", description = "Its writes fail with DATA PROTECT.")
        boolean writeProtect;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            api.addAcl(iqn, new AclDefinition(IscsiName.normalize(initiator), luns, writeProtect, null));
            done("Added ACL for " + initiator + " to " + iqn
                    + (luns.isEmpty() ? " (all LUNs)" : " (LUNs " + luns + ")") + (writeProtect ? ", write-protected." : "."));
        }
    }

    @Command(name = "remove", description = "Remove the ACL of an initiator; its sessions on the target are dropped.")
    static final class Remove extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "INITIATOR")
        String initiator;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            api.removeAcl(iqn, initiator);
            done("Removed ACL for " + initiator + " from " + iqn + ".");
        }
    }

    @Command(name = "list", description = "List a target's ACLs (CHAP secrets masked).")
    static final class ListAcls extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            List<AclDefinition> acls = api.listAcls(iqn).stream().map(AclDefinition::masked).toList();
            if (json()) {
                printJson(acls);
            } else {
                Render.acls(out, acls);
            }
        }
    }
}
