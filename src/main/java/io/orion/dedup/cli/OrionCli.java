package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.ManagementCommand;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code orion-dedup}: the server ({@code serve}) and the targetcli-like admin commands, which
 * talk to a running server over {@code <data>/control.sock}.
 *
 * <p>Exit status: 0 success; 2 bad usage, including configuration errors (the message names
 * file, line and key); 1 failure, with a one-line reason on stderr (for example
 * {@code server not running: no control socket at data/control.sock}).
 */
@Command(name = "orion-dedup", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        versionProvider = OrionCli.Version.class,
        description = "Orion Dedup: an iSCSI target that deduplicates every block inline.",
        subcommands = {ServeCommand.class, TargetCommands.class, LunCommands.class, VolumeCommands.class, PortalCommands.class,
            AclCommands.class, ChapCommands.class, ServerCommands.Status.class, ServerCommands.SaveConfig.class,
            ServerCommands.Stats.class, ServerCommands.Scrub.class, EstimateCommand.class,
            BackupCommand.class, RestoreCommand.class, ReloadCommand.class, JobCommands.class, RecoverCommand.class,
            DedupCommands.class})
public final class OrionCli implements Callable<Integer> {

    /** Exit status of a failed command. */
    public static final int EXIT_FAILURE = 1;
    /** Exit status of bad usage and configuration errors. */
    public static final int EXIT_USAGE = 2;

    @Spec
    CommandSpec spec;

    private final PrintWriter out;
    private final PrintWriter err;
    private final Supplier<Optional<ServerLauncher>> launcher;
    private final Consumer<Runnable> termination;

    /** The real command line: System.out/err, the server of this build, real signals. */
    public OrionCli() {
        this(new PrintWriter(System.out, true), new PrintWriter(System.err, true), ServerLaunchers::find,
                Signals::onTermination);
    }

    /**
     * For tests and embedding.
     *
     * @param launcher finds the server for {@code serve}
     * @param termination registers what to run on SIGTERM/SIGINT
     */
    public OrionCli(PrintWriter out, PrintWriter err, Supplier<Optional<ServerLauncher>> launcher,
            Consumer<Runnable> termination) {
        this.out = out;
        this.err = err;
        this.launcher = launcher;
        this.termination = termination;
    }

    public static void main(String[] args) {
        System.exit(new OrionCli().execute(args));
    }

    /** Parses and runs one command line; returns the exit status. */
    public int execute(String... args) {
        return commandLine().execute(args);
    }

    /** The configured picocli command line (all subcommands, converters, error handling). */
    public CommandLine commandLine() {
        CommandLine cl = new CommandLine(this);
        for (ManagementCommand m : ManagementCommand.values()) {
            CommandLine sub = new CommandLine(new ServerCommands.Management(m));
            sub.getCommandSpec().usageMessage().description(m.description() + ".");
            cl.addSubcommand(m.command(), sub);
        }
        cl.registerConverter(HostPort.class, s -> {
            try {
                return HostPort.parse(s, HostPort.ISCSI_PORT);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        });
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler(this::usageError);
        cl.setExecutionExceptionHandler((ex, line, parsed) -> failure(ex, line));
        return cl;
    }

    Optional<ServerLauncher> launcher() {
        return launcher.get();
    }

    void onTermination(Runnable action) {
        termination.accept(action);
    }

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "missing command; see --help");
    }

    private int usageError(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter e = cl.getErr();
        e.println("orion-dedup: " + ex.getMessage());
        e.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for more information.");
        e.flush();
        return EXIT_USAGE;
    }

    private int failure(Exception ex, CommandLine line) {
        PrintWriter e = line.getErr();
        int status;
        if (ex instanceof ParameterException pe) {
            return usageError(pe, new String[0]);
        } else if (ex instanceof ConfigException) {
            e.println("orion-dedup: " + ex.getMessage());
            status = EXIT_USAGE;
        } else if (ex instanceof AdminException || ex instanceof IOException) {
            e.println("orion-dedup: " + oneLine(ex.getMessage()));
            status = EXIT_FAILURE;
        } else {
            e.println("orion-dedup: internal error: " + oneLine(String.valueOf(ex)));
            status = EXIT_FAILURE;
        }
        e.flush();
        return status;
    }

    private static String oneLine(String s) {
        return s == null ? "failed" : s.lines().findFirst().orElse("failed");
    }

    /** Version and git revision from the jar manifest ({@link io.orion.dedup.BuildInfo}). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"orion-dedup " + io.orion.dedup.BuildInfo.current().describe(),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name", "?") + ")"};
        }
    }
}
