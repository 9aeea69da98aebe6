package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Base of every command that talks to a running server over its control socket: connects
 * (a missing server is a one-line failure, exit 1), runs, prints a table or {@code --json}.
 */
abstract class AdminCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ConnectionOptions connection;

    @Override
    public final Integer call() throws Exception {
        checkArguments();
        validate();
        try (AdminClient client = AdminClient.connect(connection.socketPath())) {
            run(client, out());
            return 0;
        } catch (AdminException e) {
            ParameterException named = naming(e);
            if (named != null) {
                throw named;
            }
            throw e;
        }
    }

    /**
     * Checks what every command's arguments must be before connecting, so bad input exits 2 with
     * a message that names the option: an iSCSI name ({@code IQN}, {@code IQN2},
     * {@code INITIATOR}) must be valid; a size ({@code --size}, {@code --dedup-block-size}) greater
     * than 0; a number ({@code --lun}, {@code LUN}, {@code --tag}, ...) not negative; an option whose
     * label lists its values ({@code --block-size=512|4096}) one of them.
     */
    void checkArguments() {
        for (ArgSpec a : spec.args()) {
            Object v = a.getValue();
            if (v == null) {
                continue;
            }
            String name = a instanceof OptionSpec o ? o.longestName() : a.paramLabel();
            String label = a.paramLabel();
            if (v instanceof String text && ISCSI_NAME_LABELS.contains(label)) {
                String problem = IscsiName.problem(IscsiName.normalize(text));
                if (problem != null) {
                    throw new ParameterException(spec.commandLine(), name + ": '" + text + "' is " + problem);
                }
            } else if (v instanceof SizeArg size && size.bytes() <= 0) {
                throw new ParameterException(spec.commandLine(), name + ": must be greater than 0, not " + size.bytes());
            } else if (v instanceof SizeArg size && size.bytes() > LunDefinition.MAX_SIZE) {
                throw new ParameterException(spec.commandLine(), name + ": at most 1 PiB, not " + size.bytes() + " bytes");
            } else if ((v instanceof Integer || v instanceof Long) && ((Number) v).longValue() < 0) {
                throw new ParameterException(spec.commandLine(), name + ": must be 0 or more, not " + v);
            } else if (v instanceof List<?> list) {
                for (Object x : list) {
                    if ((x instanceof Integer || x instanceof Long) && ((Number) x).longValue() < 0) {
                        throw new ParameterException(spec.commandLine(), name + ": must be 0 or more, not " + x);
                    }
                }
            }
            if ((v instanceof Integer || v instanceof Long) && label != null && label.matches("\\d+(\\|\\d+)+")
                    && !List.of(label.split("\\|")).contains(v.toString())) {
                throw new ParameterException(spec.commandLine(), name + ": must be " + label.replace("|", " or ") + ", not " + v);
            }
            if ((v instanceof Integer || v instanceof Long) && (name.equals("--lun") || name.equals("LUN"))
                    && ((Number) v).longValue() > LunDefinition.MAX_ID) {
                throw new ParameterException(spec.commandLine(), name + ": must be 0.." + LunDefinition.MAX_ID + ", not " + v);
            }
        }
    }

    /** Labels of the arguments that are iSCSI names. */
    private static final java.util.Set<String> ISCSI_NAME_LABELS = java.util.Set.of("IQN", "IQN2", "INITIATOR");

    /**
     * The server refuses a definition with the key of the field at fault ({@code lun[1].size: ...});
     * the user gave an option, so that option is named instead: {@code --size: ...}. Null when the
     * refusal is not about a field an option sets.
     */
    ParameterException naming(AdminException e) {
        java.util.regex.Matcher m = REFUSAL.matcher(String.valueOf(e.getMessage()));
        if (!m.matches()) {
            return null;
        }
        String option = OPTION_OF_FIELD.get(m.group(1).replaceAll("\\[\\d+]", "[]"));
        return option == null ? null : new ParameterException(spec.commandLine(), option + ": " + m.group(2));
    }

    private static final java.util.regex.Pattern REFUSAL = java.util.regex.Pattern.compile(
            "([a-z_]+(?:\\[\\d+])?(?:\\.[a-z_]+)*): (.*)", java.util.regex.Pattern.DOTALL);

    /** The option that sets each field of a target definition. */
    private static final Map<String, String> OPTION_OF_FIELD = Map.ofEntries(
            Map.entry("iqn", "IQN"),
            Map.entry("lun[].id", "--lun"),
            Map.entry("lun[].volume", "--volume"),
            Map.entry("lun[].size", "--size"),
            Map.entry("lun[].block_size", "--block-size"),
            Map.entry("lun[].dedup_block_size", "--dedup-block-size"),
            Map.entry("lun[].backing", "--backing"),
            Map.entry("lun[].thin", "--thick"),
            Map.entry("lun[].path", "--path"),
            Map.entry("lun[].dedup", "--dedup"),
            Map.entry("acl[].initiator", "INITIATOR"),
            Map.entry("acl[].mapped_luns", "--luns"),
            Map.entry("queue_depth", "--queue-depth"),
            Map.entry("portal_group[].tag", "--tag"));

    /** Checks the options together before connecting; a bad combination is a ParameterException (exit 2). */
    void validate() {}

    /** Does the work; refusals are AdminExceptions, transport failures IOExceptions. */
    abstract void run(AdminApi api, PrintWriter out) throws Exception;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    boolean json() {
        return connection.json;
    }

    /**
     * Prints {@code value} as pretty JSON in the output conventions ({@link AdminJson#output}):
     * snake_case keys, lowercase enums, null for unknown sizes.
     */
    void printJson(Object value) throws Exception {
        PrintWriter out = out();
        out.println(AdminJson.outputMapper().writerWithDefaultPrettyPrinter().writeValueAsString(AdminJson.output(value)));
        out.flush();
    }

    /** {@code value} as a JSON tree, with the names and forms {@link #printJson} prints. */
    com.fasterxml.jackson.databind.node.ObjectNode jsonTree(Object value) {
        return (com.fasterxml.jackson.databind.node.ObjectNode) AdminJson.output(value);
    }

    /** {@code value} (a list) as a JSON array, with the names and forms {@link #printJson} prints. */
    com.fasterxml.jackson.databind.JsonNode jsonTree(java.util.List<?> value) {
        return AdminJson.output(value);
    }

    /** Prints {@code value} as JSON on one line (a stream of reports: one object a line). */
    void printJsonLine(Object value) throws Exception {
        PrintWriter out = out();
        out.println(AdminJson.outputMapper().writeValueAsString(AdminJson.output(value)));
        out.flush();
    }

    /** Prints a one-line confirmation, or {@code {"ok": true, ...}} with --json. */
    void done(String message) throws Exception {
        if (json()) {
            printJson(java.util.Map.of("ok", true, "message", message));
        } else {
            out().println(message);
            out().flush();
        }
    }
}
