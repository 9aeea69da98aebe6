package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.admin.AdminJson;
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
        validate();
        try (AdminClient client = AdminClient.connect(connection.socketPath())) {
            run(client, out());
            return 0;
        }
    }

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

    /** Prints {@code value} as pretty JSON. */
    void printJson(Object value) throws Exception {
        PrintWriter out = out();
        out.println(AdminJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(value));
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
