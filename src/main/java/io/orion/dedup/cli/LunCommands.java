package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.LunInfo;
import io.orion.dedup.admin.VolumeRelease;
import io.orion.dedup.admin.VolumeSummary;
import io.orion.dedup.config.ByteSize;
import io.orion.dedup.config.LunBacking;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetDefinition;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** {@code lun create|delete|resize|list|clone|snapshot|rollback}. */
@Command(name = "lun", description = "Create, delete, resize, list, clone, snapshot and roll back LUNs.",
        subcommands = {LunCommands.Create.class, LunCommands.Delete.class, LunCommands.Resize.class,
            LunCommands.ListLuns.class, LunCommands.CloneLun.class, LunCommands.Snapshot.class,
            LunCommands.Rollback.class})
final class LunCommands extends GroupCommand {

    /** Backing choices as typed. */
    enum Backing { dedup, file, ram }

    @Command(name = "create", description = "Add a LUN to a target; initiators see it without restart.")
    static final class Create extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Option(names = "--size", paramLabel = "SIZE", converter = SizeArg.Converter.class,
                description = "Capacity, e.g. 16GiB, 512M (required for a new volume; with --attach: default the"
                        + " volume's size, larger grows it, smaller is refused).")
        SizeArg size;

        @Option(names = "--lun", paramLabel = "N", description = "LUN number (default: the lowest free one).")
        Integer lun;

        @Option(names = "--volume", paramLabel = "NAME", description = {
            "Name of the new volume; refused if a volume of that name exists, unless --attach.",
            "Default: a fresh name no volume has, <target-suffix>-<lun>[-N]."})
        String volume;

        @Option(names = "--attach", description = "Give the LUN the existing, detached volume --volume NAME, with its data.")
        boolean attach;

        @Option(names = "--block-size", paramLabel = "512|4096",
                description = "Logical block size (default: 512, or the attached volume's).")
        Integer blockSize;

        @Option(names = "--dedup-block-size", paramLabel = "SIZE", converter = SizeArg.Converter.class,
                description = "Chunk size of a dedup volume, 4KiB..64KiB (default: hash_block_size).")
        SizeArg dedupBlockSize;

        @Option(names = "--backing", paramLabel = "dedup|file|ram", defaultValue = "dedup",
                description = "What stores the blocks (default: ${DEFAULT-VALUE}).")
        Backing backing;

        @Option(names = "--path", paramLabel = "FILE", description = "Backing file of a --backing file LUN.")
        Path path;

        @Option(names = "--thick", description = "Fully allocate a --backing file LUN (dedup volumes are always thin).")
        boolean thick;

        @Option(names = "--read-only", description = "Write-protect the LUN for everyone.")
        boolean readOnly;

        @Option(names = "--dedup", paramLabel = "inline|post|off", description = {
            "How a dedup LUN deduplicates: inline (as blocks are written), post (stored at once, deduplicated",
            "later by the post-process pass) or off (never; for data that does not dedup, such as encrypted",
            "pages). Default: real_time_deduplication (true: inline, false: post)."})
        String dedup;

        @Override
        void validate() {
            if (dedup != null && io.orion.dedup.dedup.DedupMode.parse(dedup) == null) {
                throw new ParameterException(spec.commandLine(),
                        "--dedup must be inline, post or off, not '" + dedup + "'");
            }
            if (dedup != null && backing != Backing.dedup) {
                throw new ParameterException(spec.commandLine(),
                        "--dedup applies to a --backing dedup LUN only, not --backing " + backing);
            }
            if (attach && volume == null) {
                throw new ParameterException(spec.commandLine(), "--attach needs --volume NAME (the volume to attach)");
            }
            if (!attach && size == null) {
                throw new ParameterException(spec.commandLine(), "Missing required option: '--size=SIZE'");
            }
        }

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            int id;
            if (lun != null) {
                id = lun;
            } else {
                TargetDefinition t = api.showTarget(iqn);
                id = 0;
                while (t.lun(id).isPresent()) {
                    id++;
                }
            }
            LunDefinition d = new LunDefinition(id, volume, size == null ? 0 : size.bytes(),
                    blockSize == null ? 0 : blockSize,
                    dedupBlockSize == null ? 0 : (int) Math.min(Integer.MAX_VALUE, dedupBlockSize.bytes()), readOnly,
                    !thick, LunBacking.fromToml(backing.name()), path, io.orion.dedup.dedup.DedupMode.parse(dedup));
            LunInfo info = api.createLun(iqn, d, attach);
            if (json()) {
                printJson(info);
            } else {
                out.println("Created LUN " + info.lun() + " (" + (attach ? "attached volume " : "new volume ")
                        + info.volume() + ", " + ByteSize.format(info.sizeBytes()) + ", " + info.blockSize()
                        + "-byte blocks) in " + info.target() + ".");
            }
        }
    }

    @Command(name = "delete", description = {"Remove a LUN; refused while a session uses it unless --force.",
        "Its volume is kept, detached (volume list), unless --destroy."})
    static final class Delete extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Option(names = "--force", description = "Remove even while sessions use it.")
        boolean force;

        @Option(names = "--destroy", description = "Also destroy its volume (its data is gone; cleanup reclaims the space).")
        boolean destroy;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            VolumeRelease r = api.deleteLun(iqn, lun, force, destroy);
            if (json()) {
                printJson(r);
            } else {
                out.println("Deleted LUN " + lun + " from " + iqn + "; " + r.describe() + ".");
            }
        }
    }

    @Command(name = "resize", description = "Change a LUN's capacity; initiators get CAPACITY DATA HAS CHANGED.")
    static final class Resize extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Parameters(index = "2", paramLabel = "SIZE", converter = SizeArg.Converter.class,
                description = "New capacity, e.g. 32GiB.")
        SizeArg size;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            LunInfo info = api.resizeLun(iqn, lun, size.bytes());
            if (json()) {
                printJson(info);
            } else {
                out.println("Resized LUN " + info.lun() + " of " + info.target() + " to " + ByteSize.format(info.sizeBytes())
                        + ".");
            }
        }
    }

    @Command(name = "clone", description = {"Copy a dedup LUN to a new LUN, instantly and without using space.",
        "The new volume references the source's chunks (no bytes copied; stored bytes do not grow)."})
    static final class CloneLun extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN", description = "Target of the source LUN.")
        String iqn;

        @Parameters(index = "1", paramLabel = "LUN", description = "The source LUN.")
        int lun;

        @Option(names = "--to", required = true, paramLabel = "IQN2", description = "Target that gets the new LUN.")
        String to;

        @Option(names = "--lun", paramLabel = "N", description = "LUN number in IQN2 (default: the lowest free one).")
        Integer toLun;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            LunInfo info = api.cloneLun(iqn, lun, to, toLun);
            if (json()) {
                printJson(info);
            } else {
                out.println("Cloned LUN " + lun + " of " + iqn + " to LUN " + info.lun() + " of " + info.target()
                        + " (volume " + info.volume() + ", " + ByteSize.format(info.sizeBytes()) + ", origin "
                        + info.originText() + ").");
            }
        }
    }

    @Command(name = "snapshot", description = {"Take a read-only, space-free copy of a dedup LUN's volume.",
        "It is a detached volume (volume list); lun rollback returns the LUN to it."})
    static final class Snapshot extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Option(names = "--name", paramLabel = "NAME",
                description = "Snapshot volume name (default: <volume>.snap-<UTC yyyyMMdd-HHmmss>).")
        String name;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            VolumeSummary v = api.snapshotLun(iqn, lun, name);
            if (json()) {
                printJson(v);
            } else {
                out.println("Snapshot " + v.volume() + " of LUN " + lun + " of " + iqn + " taken ("
                        + ByteSize.format(v.sizeBytes()) + ", read-only, origin " + v.origin() + " @ " + v.originTime()
                        + ").");
            }
        }
    }

    @Command(name = "rollback", description = {"Replace a dedup LUN's contents by a snapshot of it (and its size).",
        "Refused while a session uses the LUN unless --force; initiators get a unit attention."})
    static final class Rollback extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN")
        String iqn;

        @Parameters(index = "1", paramLabel = "LUN")
        int lun;

        @Option(names = "--to", required = true, paramLabel = "SNAPSHOT", description = "Snapshot volume name.")
        String snapshot;

        @Option(names = "--force", description = "Roll back even while sessions use the LUN.")
        boolean force;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            LunInfo info = api.rollbackLun(iqn, lun, snapshot, force);
            if (json()) {
                printJson(info);
            } else {
                out.println("Rolled LUN " + info.lun() + " of " + info.target() + " back to " + snapshot + " ("
                        + ByteSize.format(info.sizeBytes()) + ").");
            }
        }
    }

    @Command(name = "list", description = "List the LUNs of one target, or of all targets.")
    static final class ListLuns extends AdminCommand {
        @Parameters(index = "0", paramLabel = "IQN", arity = "0..1", description = "Target (default: all).")
        String iqn;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            List<LunInfo> luns = api.listLuns(iqn);
            if (json()) {
                printJson(luns);
            } else {
                Render.luns(out, luns);
            }
        }
    }
}
