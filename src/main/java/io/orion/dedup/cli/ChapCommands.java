package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.ChapScope;
import io.orion.dedup.config.ChapCredentials;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** {@code chap set|clear}: one-way and mutual CHAP (RFC 7143 §12.1.3) per ACL, target-wide or for discovery. */
@Command(name = "chap", description = "Set or clear CHAP credentials (per ACL, target-wide, or for discovery).",
        subcommands = {ChapCommands.Set.class, ChapCommands.Clear.class})
final class ChapCommands extends GroupCommand {

    /** Exactly one of --initiator, --target-wide, --discovery. */
    static final class Scope {
        @Option(names = "--initiator", paramLabel = "INITIATOR", description = "CHAP of this initiator's ACL.")
        String initiator;

        @Option(names = "--target-wide", description = "Target-wide CHAP (demo mode, and ACLs without their own).")
        boolean targetWide;

        @Option(names = "--discovery", description = "CHAP a discovery session must pass to see this target.")
        boolean discovery;

        ChapScope scope() {
            return initiator != null ? ChapScope.ACL : targetWide ? ChapScope.TARGET : ChapScope.DISCOVERY;
        }

        String describe(String iqn) {
            return switch (scope()) {
                case ACL -> "ACL " + initiator + " of " + iqn;
                case TARGET -> "target " + iqn;
                case DISCOVERY -> "discovery of " + iqn;
            };
        }
    }

    @Command(name = "set", description = {
        "Set CHAP credentials. Secrets are 12 to 255 characters (Windows: 12 to 16).",
        "Prefer --secret-file over --secret: command lines are visible to other local users."})
    static final class Set extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Scope scope;

        @Option(names = "--user", required = true, paramLabel = "NAME", description = "CHAP name the initiator sends.")
        String user;

        @Option(names = "--secret", paramLabel = "SECRET", description = "The initiator's secret.")
        String secret;

        @Option(names = "--secret-file", paramLabel = "FILE", description = "Read the initiator's secret from the first line of FILE.")
        Path secretFile;

        @Option(names = "--mutual-user", paramLabel = "NAME", description = "Mutual CHAP: the name the target answers with.")
        String mutualUser;

        @Option(names = "--mutual-secret", paramLabel = "SECRET", description = "Mutual CHAP: the target's secret.")
        String mutualSecret;

        @Option(names = "--mutual-secret-file", paramLabel = "FILE", description = "Read the target's secret from FILE.")
        Path mutualSecretFile;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            String s = pick(secret, secretFile, "--secret", true);
            String ms = pick(mutualSecret, mutualSecretFile, "--mutual-secret", false);
            if ((mutualUser == null) != (ms == null)) {
                throw new ParameterException(spec.commandLine(), "mutual CHAP needs both --mutual-user and --mutual-secret");
            }
            api.setChap(iqn, scope.scope(), scope.initiator, new ChapCredentials(user, s, mutualUser, ms));
            done("Set " + (mutualUser != null ? "mutual" : "one-way") + " CHAP for " + scope.describe(iqn) + ".");
        }

        private String pick(String value, Path file, String name, boolean required) throws IOException {
            if (value != null && file != null) {
                throw new ParameterException(spec.commandLine(), name + " and " + name + "-file are exclusive");
            }
            if (file != null) {
                String first = Files.readAllLines(file, StandardCharsets.UTF_8).stream().findFirst().orElse("");
                return first.strip();
            }
            if (value == null && required) {
                throw new ParameterException(spec.commandLine(), "missing " + name + " or " + name + "-file");
            }
            return value;
        }
    }

    @Command(name = "clear", description = "Clear CHAP credentials.")
    static final class Clear extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Scope scope;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            api.clearChap(iqn, scope.scope(), scope.initiator);
            done("Cleared CHAP for " + scope.describe(iqn) + ".");
        }
    }
}
