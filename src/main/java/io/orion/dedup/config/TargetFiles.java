package io.orion.dedup.config;

import io.orion.dedup.dedup.DedupMode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads and writes one target definition file ({@code targets/<name>.toml}). The layout:
 *
 * <pre>
 * iqn = "iqn.2026-11.io.orion:default"
 * alias = "Orion default"
 * [attributes]        authentication, demo_mode, queue_depth
 * [chap]              user, secret, mutual_user, mutual_secret   (optional, target-wide)
 * [discovery_chap]    same keys (optional)
 * [[portal_group]]    tag, portals = ["host:port", ...]
 * [[lun]]             id, volume, size, block_size, dedup_block_size, read_only, thin, backing, path, dedup
 * [[acl]]             initiator, mapped_luns, write_protect, [acl.chap]
 * </pre>
 */
public final class TargetFiles {

    private TargetFiles() {}

    /** Reads and validates one target file. */
    public static TargetDefinition read(Path file) throws ConfigException, IOException {
        return read(TomlSection.read(file));
    }

    /** Validates TOML text as if read from {@code file}. */
    public static TargetDefinition parse(Path file, String text) throws ConfigException {
        return read(TomlSection.parse(file, text));
    }

    private static TargetDefinition read(TomlSection root) throws ConfigException {
        String iqnRaw = root.string("iqn", null);
        if (iqnRaw == null) {
            throw new ConfigException(root.file(), 1, "iqn", null, "every target file needs iqn = \"iqn....\"");
        }
        String iqn = IscsiName.normalize(iqnRaw);
        String alias = root.string("alias", null);

        TomlSection a = root.table("attributes");
        TargetAttributes attributes = new TargetAttributes(a.bool("authentication", false),
                a.bool("demo_mode", false), (int) a.integer("queue_depth", 0, 0, 1024));
        a.finish();

        List<PortalGroup> groups = new ArrayList<>();
        for (TomlSection g : root.tables("portal_group")) {
            int tag = (int) g.integer("tag", 1, 1, 65535);
            List<HostPort> portals = new ArrayList<>();
            for (String p : g.strings("portals", List.of())) {
                try {
                    portals.add(HostPort.parse(p, HostPort.ISCSI_PORT));
                } catch (IllegalArgumentException e) {
                    throw g.error("portals", e.getMessage());
                }
            }
            g.finish();
            groups.add(new PortalGroup(tag, portals));
        }
        if (groups.isEmpty()) {
            groups.add(PortalGroup.serverDefault());
        }

        List<LunDefinition> luns = new ArrayList<>();
        for (TomlSection l : root.tables("lun")) {
            if (!l.has("id")) {
                throw l.error("every [[lun]] needs an id");
            }
            int id = (int) l.integer("id", 0, 0, LunDefinition.MAX_ID);
            String volume = l.string("volume", defaultVolumeName(iqn, id));
            if (!l.has("size")) {
                throw l.error("every [[lun]] needs a size, such as size = \"16GiB\"");
            }
            long size = l.size("size", 0, 1, LunDefinition.MAX_SIZE);
            int blockSize = (int) l.integer("block_size", 512, 512, 4096);
            int dedupBlock = (int) l.size("dedup_block_size", 0, 0, DedupSettings.MAX_BLOCK);
            boolean readOnly = l.bool("read_only", false);
            boolean thin = l.bool("thin", true);
            String backingName = l.choice("backing", "dedup", "dedup", "file", "ram");
            String path = l.string("path", null);
            String dedup = l.choice("dedup", null, "inline", "post", "off");
            l.finish();
            luns.add(new LunDefinition(id, volume, size, blockSize, dedupBlock, readOnly, thin,
                    LunBacking.fromToml(backingName), path == null ? null : ServerSettings.nonEmptyPath(l, "path", path),
                    DedupMode.parse(dedup)));
        }

        List<AclDefinition> acls = new ArrayList<>();
        for (TomlSection c : root.tables("acl")) {
            String initiator = c.string("initiator", null);
            if (initiator == null) {
                throw c.error("every [[acl]] needs initiator = \"iqn....\"");
            }
            List<Integer> mapped = c.integers("mapped_luns", List.of(), 0, LunDefinition.MAX_ID)
                    .stream().map(Long::intValue).toList();
            boolean wp = c.bool("write_protect", false);
            ChapCredentials chap = chap(c, "chap");
            c.finish();
            acls.add(new AclDefinition(IscsiName.normalize(initiator), mapped, wp, chap));
        }
        ChapCredentials chap = chap(root, "chap");
        ChapCredentials discovery = chap(root, "discovery_chap");
        root.finish();

        TargetDefinition t = new TargetDefinition(iqn, alias, groups, luns, acls, chap, discovery, attributes);
        List<TargetDefinition.Problem> problems = t.problems();
        if (!problems.isEmpty()) {
            TargetDefinition.Problem p = problems.get(0);
            throw new ConfigException(root.file(), root.line(p.key()), p.key(), null, p.message());
        }
        return t;
    }

    private static ChapCredentials chap(TomlSection parent, String key) throws ConfigException {
        if (!parent.has(key)) {
            return null;
        }
        TomlSection s = parent.table(key);
        ChapCredentials c = new ChapCredentials(s.string("user", null), s.string("secret", null),
                s.string("mutual_user", null), s.string("mutual_secret", null));
        s.finish();
        return c;
    }

    /** The volume name used when a [[lun]] has none: {@code <target-suffix>-<id>}. */
    public static String defaultVolumeName(String iqn, int id) {
        return baseName(iqn) + "-" + id;
    }

    /** A file-system-safe short name of a target: the part after ':' (or the whole name). */
    public static String baseName(String iqn) {
        String n = iqn.toLowerCase(Locale.ROOT);
        int colon = n.indexOf(':');
        String s = colon >= 0 && colon < n.length() - 1 ? n.substring(colon + 1) : n;
        s = s.replaceAll("[^a-z0-9._-]", "_");
        while (s.startsWith(".")) {
            s = s.substring(1);
        }
        return s.isEmpty() ? "target" : s;
    }

    /** Renders a definition as TOML (what {@link #write} stores). Secrets are written in clear. */
    public static String render(TargetDefinition t) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Orion Dedup target definition, written by saveconfig.\n");
        sb.append("iqn = ").append(q(t.iqn())).append('\n');
        if (t.alias() != null) {
            sb.append("alias = ").append(q(t.alias())).append('\n');
        }
        sb.append("\n[attributes]\n");
        sb.append("authentication = ").append(t.attributes().authentication()).append('\n');
        sb.append("demo_mode = ").append(t.attributes().demoMode()).append('\n');
        sb.append("queue_depth = ").append(t.attributes().queueDepth()).append('\n');
        if (t.chap() != null) {
            sb.append("\n[chap]\n");
            chapBody(sb, t.chap());
        }
        if (t.discoveryChap() != null) {
            sb.append("\n[discovery_chap]\n");
            chapBody(sb, t.discoveryChap());
        }
        for (PortalGroup g : t.portalGroups()) {
            sb.append("\n[[portal_group]]\n");
            sb.append("tag = ").append(g.tag()).append('\n');
            sb.append("portals = [");
            for (int i = 0; i < g.portals().size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(q(g.portals().get(i).toString()));
            }
            sb.append("]\n");
        }
        for (LunDefinition l : t.luns()) {
            sb.append("\n[[lun]]\n");
            sb.append("id = ").append(l.id()).append('\n');
            sb.append("volume = ").append(q(l.volume())).append('\n');
            sb.append("size = ").append(q(ByteSize.formatExact(l.size()))).append('\n');
            sb.append("block_size = ").append(l.blockSize()).append('\n');
            if (l.dedupBlockSize() != 0) {
                sb.append("dedup_block_size = ").append(l.dedupBlockSize()).append('\n');
            }
            sb.append("read_only = ").append(l.readOnly()).append('\n');
            sb.append("thin = ").append(l.thin()).append('\n');
            sb.append("backing = ").append(q(l.backing().tomlName())).append('\n');
            if (l.path() != null) {
                sb.append("path = ").append(q(l.path().toString())).append('\n');
            }
            if (l.dedup() != null) {
                sb.append("dedup = ").append(q(l.dedup().label())).append('\n');
            }
        }
        for (AclDefinition a : t.acls()) {
            sb.append("\n[[acl]]\n");
            sb.append("initiator = ").append(q(a.initiator())).append('\n');
            sb.append("mapped_luns = ").append(a.mappedLuns()).append('\n');
            sb.append("write_protect = ").append(a.writeProtect()).append('\n');
            if (a.chap() != null) {
                sb.append("[acl.chap]\n");
                chapBody(sb, a.chap());
            }
        }
        return sb.toString();
    }

    private static void chapBody(StringBuilder sb, ChapCredentials c) {
        sb.append("user = ").append(q(c.user())).append('\n');
        sb.append("secret = ").append(q(c.secret())).append('\n');
        if (c.mutual()) {
            sb.append("mutual_user = ").append(q(c.mutualUser())).append('\n');
            sb.append("mutual_secret = ").append(q(c.mutualSecret())).append('\n');
        }
    }

    /** A TOML basic string. */
    static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\u%04X", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    /**
     * Atomically writes a definition (temp file, fsync, rename, directory fsync).
     *
     * @throws IllegalArgumentException when the definition is invalid
     */
    public static void write(Path file, TargetDefinition t) throws IOException {
        List<TargetDefinition.Problem> problems = t.problems();
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(t.iqn() + ": " + problems.get(0));
        }
        AtomicFiles.write(file, render(t));
    }
}
