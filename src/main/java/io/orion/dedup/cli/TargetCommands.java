package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code target create|delete|list|show|set}. */
@Command(name = "target", description = "Create, delete, list, show and configure targets.",
        subcommands = {TargetCommands.Create.class, TargetCommands.Delete.class, TargetCommands.ListTargets.class,
            TargetCommands.Show.class, TargetCommands.Set.class})
final class TargetCommands extends GroupCommand {

    @Command(name = "create", description = "Create a target on portal group 1 (the server's portals), without LUNs.")
    static final class Create extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN", description = "Target name, e.g. iqn.2026-11.io.orion:db.")
        String iqn;

        @Option(names = "--alias", paramLabel = "TEXT", description = "TargetAlias shown to initiators.")
        String alias;

        @Option(names = "--demo-mode", description = "Open access: any initiator may log in (generated ACLs).")
        boolean demoMode;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            TargetDefinition t = api.createTarget(iqn, alias, demoMode);
            if (json()) {
                printJson(t.masked());
            } else {
                out.println("Created target " + t.iqn() + (demoMode ? " (open access)" : " (ACL only)") + ".");
            }
        }
    }

    @Command(name = "delete", description = {"Delete a target and its definition file.",
        "Its LUNs' volumes are kept, detached (volume list), unless --destroy."})
    static final class Delete extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Option(names = "--force", description = "Delete even while sessions are logged in (they are dropped).")
        boolean force;

        @Option(names = "--destroy", description = "Also destroy the LUNs' volumes.")
        boolean destroy;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            java.util.List<io.orion.dedup.admin.VolumeRelease> r = api.deleteTarget(iqn, force, destroy);
            if (json()) {
                printJson(r);
            } else {
                out.println("Deleted target " + iqn + ".");
                r.forEach(v -> out.println("  " + v.describe() + "."));
            }
        }
    }

    @Command(name = "list", description = "List targets.")
    static final class ListTargets extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            var targets = api.listTargets();
            if (json()) {
                printJson(targets);
            } else if (targets.isEmpty()) {
                out.println("No targets.");
            } else {
                Render.targets(out, targets);
            }
        }
    }

    @Command(name = "show", description = "Show a target: attributes, portal groups, LUNs, ACLs (secrets masked).")
    static final class Show extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            TargetDefinition t = api.showTarget(iqn).masked();
            if (json()) {
                printJson(t);
            } else {
                Render.target(out, t);
            }
        }
    }

    @Command(name = "set", description = "Change target attributes: authentication, demo mode, queue depth.")
    static final class Set extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Option(names = "--auth", paramLabel = "on|off", arity = "1", converter = OnOff.class,
                description = "Require CHAP at login.")
        Boolean auth;

        @Option(names = "--demo-mode", paramLabel = "on|off", arity = "1", converter = OnOff.class,
                description = "Open access (generated ACLs) or ACL only.")
        Boolean demoMode;

        @Option(names = "--queue-depth", paramLabel = "N",
                description = "Commands per session (CmdSN window) 1..1024 for sessions that log in from now on; "
                        + "0 = server default.")
        Integer queueDepth;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            if (auth == null && demoMode == null && queueDepth == null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "nothing to change: give --auth, --demo-mode or --queue-depth");
            }
            TargetAttributes a = api.showTarget(iqn).attributes();
            TargetAttributes changed = new TargetAttributes(auth != null ? auth : a.authentication(),
                    demoMode != null ? demoMode : a.demoMode(), queueDepth != null ? queueDepth : a.queueDepth());
            TargetDefinition t = api.setAttributes(iqn, changed);
            if (json()) {
                printJson(t.masked().attributes());
            } else {
                out.println("Target " + t.iqn() + ": authentication " + (changed.authentication() ? "on" : "off")
                        + ", demo mode " + (changed.demoMode() ? "on" : "off") + ", queue depth "
                        + (changed.queueDepth() == 0 ? "server default" : changed.queueDepth()) + ".");
            }
        }
    }

    /** Converts on/off, true/false, yes/no. */
    static final class OnOff implements picocli.CommandLine.ITypeConverter<Boolean> {
        @Override
        public Boolean convert(String value) {
            return switch (value.toLowerCase(java.util.Locale.ROOT)) {
                case "on", "true", "yes", "1" -> true;
                case "off", "false", "no", "0" -> false;
                default -> throw new picocli.CommandLine.TypeConversionException("expected on or off, not '" + value + "'");
            };
        }
    }
}
