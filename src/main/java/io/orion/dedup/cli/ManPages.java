package io.orion.dedup.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes the man pages (troff, man(7) macros) and the bash completion script of {@code orion-dedup}
 * from the picocli model of this build — every command, option and description as {@code --help} shows
 * them — so they cannot drift from the code. Run at package time:
 * {@code java -cp orion-dedup.jar io.orion.dedup.cli.ManPages OUTDIR}; writes {@code OUTDIR/man1/*.1}
 * (one page for {@code orion-dedup}, one per command, {@code orion-dedup-lun-create.1} style as git
 * does) and {@code OUTDIR/bash-completion/orion-dedup} (picocli's {@link AutoComplete}).
 */
public final class ManPages {

    private ManPages() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: ManPages OUTDIR");
            System.exit(2);
        }
        List<Path> written = write(Path.of(args[0]));
        System.out.println("wrote " + written.size() + " files to " + args[0]);
    }

    /** Writes every page and the completion script; returns the files written. */
    static List<Path> write(Path out) throws IOException {
        CommandLine root = new OrionCli().commandLine();
        Path man = Files.createDirectories(out.resolve("man1"));
        List<Path> written = new ArrayList<>();
        String date = LocalDate.now(ZoneOffset.UTC).toString();
        String version = io.orion.dedup.BuildInfo.current().version();
        page(root, man, date, version, written);
        Path completion = Files.createDirectories(out.resolve("bash-completion")).resolve("orion-dedup");
        Files.writeString(completion, AutoComplete.bash("orion-dedup", root), StandardCharsets.UTF_8);
        written.add(completion);
        return written;
    }

    private static void page(CommandLine cl, Path dir, String date, String version, List<Path> written) throws IOException {
        CommandSpec spec = cl.getCommandSpec();
        if (spec.usageMessage().hidden()) {
            return;
        }
        String name = spec.qualifiedName("-");
        Path file = dir.resolve(name + ".1");
        Files.writeString(file, render(cl, date, version), StandardCharsets.UTF_8);
        written.add(file);
        for (CommandLine sub : cl.getSubcommands().values().stream().distinct().toList()) {
            page(sub, dir, date, version, written);
        }
    }

    /** One man page. */
    static String render(CommandLine cl, String date, String version) {
        CommandSpec spec = cl.getCommandSpec();
        String name = spec.qualifiedName("-");
        StringBuilder b = new StringBuilder();
        b.append(".\\\" Generated from the picocli model of orion-dedup ").append(version).append("; do not edit.\n");
        b.append(".TH ").append(quote(name.toUpperCase(java.util.Locale.ROOT))).append(" 1 ").append(quote(date))
                .append(' ').append(quote("orion-dedup " + version)).append(' ').append(quote("Orion Dedup Manual")).append('\n');
        b.append(".SH NAME\n").append(esc(name)).append(" \\- ").append(esc(firstLine(spec))).append('\n');
        b.append(".SH SYNOPSIS\n");
        b.append(".nf\n").append(esc(stripAnsi(cl.getHelp().synopsis(0)).strip())).append("\n.fi\n");
        b.append(".SH DESCRIPTION\n");
        for (String d : spec.usageMessage().description()) {
            b.append(".PP\n").append(esc(format(d))).append('\n');
        }
        List<PositionalParamSpec> params = spec.positionalParameters().stream().filter(p -> !p.hidden()).toList();
        if (!params.isEmpty()) {
            b.append(".SH ARGUMENTS\n");
            for (PositionalParamSpec p : params) {
                b.append(".TP\n.I ").append(esc(p.paramLabel())).append('\n')
                        .append(esc(format(String.join(" ", p.description()), p.defaultValueString()))).append('\n');
            }
        }
        List<OptionSpec> options = spec.options().stream().filter(o -> !o.hidden()).toList();
        if (!options.isEmpty()) {
            b.append(".SH OPTIONS\n");
            for (OptionSpec o : options) {
                b.append(".TP\n.B ").append(esc(String.join(", ", o.names())));
                if (o.arity().max() > 0 && !o.paramLabel().isEmpty()) {
                    b.append(" \\fI").append(esc(o.paramLabel())).append("\\fR");
                }
                b.append('\n').append(esc(format(String.join(" ", o.description()), o.defaultValueString()))).append('\n');
            }
        }
        List<CommandLine> subs = cl.getSubcommands().values().stream().distinct()
                .filter(s -> !s.getCommandSpec().usageMessage().hidden()).toList();
        if (!subs.isEmpty()) {
            b.append(".SH COMMANDS\n");
            for (CommandLine s : subs) {
                b.append(".TP\n.B ").append(esc(s.getCommandName())).append('\n').append(esc(firstLine(s.getCommandSpec())))
                        .append(" See \\fB").append(esc(s.getCommandSpec().qualifiedName("-"))).append("\\fR(1).\n");
            }
        }
        b.append(".SH EXIT STATUS\n0 on success; 1 on failure, with a one-line reason on standard error; 2 on bad usage"
                + " or a configuration error (the message names the file, line and key).\n");
        b.append(".SH FILES\n.TP\n.I /etc/orion-dedup/dedup.toml\nServer configuration of the installed service.\n"
                + ".TP\n.I /etc/orion-dedup/targets/\nTarget definitions, one file per target; live changes are saved"
                + " here; \\fBorion-dedup reload\\fR reads them again.\n"
                + ".TP\n.I /var/lib/orion-dedup/\nData directory: metadata (LMDB), chunk store.\n"
                + ".TP\n.I /run/orion-dedup/control.sock\nControl socket of the installed service; admin commands use it"
                + " when \\fI./data/control.sock\\fR does not exist.\n");
        b.append(".SH SEE ALSO\n");
        Optional<CommandLine> parent = Optional.ofNullable(cl.getParent());
        List<String> see = new ArrayList<>();
        parent.ifPresent(p -> see.add("\\fB" + esc(p.getCommandSpec().qualifiedName("-")) + "\\fR(1)"));
        see.add("\\fBsystemctl\\fR(1)");
        see.add("\\fBiscsiadm\\fR(8)");
        b.append(String.join(", ", see)).append('\n');
        return b.toString();
    }

    private static String firstLine(CommandSpec spec) {
        String[] d = spec.usageMessage().description();
        return d.length == 0 ? spec.name() : format(d[0]);
    }

    /** Expands picocli's %n and %% and ${DEFAULT-VALUE}. */
    private static String format(String s) {
        return format(s, null);
    }

    private static String format(String s, String defaultValue) {
        String t = s.replace("${DEFAULT-VALUE}", defaultValue == null ? "" : defaultValue);
        try {
            return String.format(t.replace("%n", "\n"));
        } catch (java.util.IllegalFormatException e) {
            return t.replace("%%", "%");
        }
    }

    private static String stripAnsi(String s) {
        return s.replaceAll("\u001B\\[[;\\d]*m", "");
    }

    private static String quote(String s) {
        return '"' + s.replace("\"", "") + '"';
    }

    /** Escapes text for troff: backslashes, leading dots and quotes, hyphens of options. */
    static String esc(String s) {
        StringWriter w = new StringWriter();
        PrintWriter p = new PrintWriter(w);
        String[] lines = s.replace("\\", "\\e").replace("-", "\\-").split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i];
            if (l.startsWith(".") || l.startsWith("'")) {
                l = "\\&" + l;
            }
            p.print(l);
            if (i < lines.length - 1) {
                p.print('\n');
            }
        }
        p.flush();
        return w.toString();
    }
}
