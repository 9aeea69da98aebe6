package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.VolumeRelease;
import io.orion.dedup.admin.VolumeSummary;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code volume list|delete}: the volumes behind LUNs, attached or kept detached. */
@Command(name = "volume", description = "List volumes (attached or detached) and destroy detached ones.",
        subcommands = {VolumeCommands.ListVolumes.class, VolumeCommands.Delete.class})
final class VolumeCommands extends GroupCommand {

    @Command(name = "list", description = "List every volume: size, used, stored, and the LUN it backs or 'detached'.")
    static final class ListVolumes extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            List<VolumeSummary> volumes = api.listVolumes();
            if (json()) {
                printJson(volumes);
            } else {
                Render.volumes(out, volumes);
            }
        }
    }

    @Command(name = "delete", description = {"Destroy a detached volume and its data (refused while a LUN uses it).",
        "A dedup volume's chunk references are dropped; dedup-reference-cleanup reclaims the space."})
    static final class Delete extends AdminCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            VolumeRelease r = api.deleteVolume(name);
            if (json()) {
                printJson(r);
            } else {
                String s = r.describe();
                out.println(Character.toUpperCase(s.charAt(0)) + s.substring(1) + ".");
            }
        }
    }
}
