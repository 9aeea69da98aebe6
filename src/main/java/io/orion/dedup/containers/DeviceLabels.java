package io.orion.dedup.containers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Finds which backing device is which: by its label, never by its place in the configuration or
 * its {@code /dev/sdX} name (docs/on-disk-format.md, "Device label").
 *
 * <p>The label of a device is the slot header at byte 0 (slot 0): pool UUID, device index, format
 * version, CRC32C. When slot 0 holds a container, that container's header is the label; when it
 * holds none, a label-only header (container id 0) stands there ({@link BackingDevice#label}). A
 * device of a pool written before labels (format 1 without a label at byte 0) is recognised from
 * the headers of its containers, where the metadata says they are; it gets its label at open.
 *
 * <p>Read-only: nothing here writes a device, so a device that is refused is left byte-identical.
 */
public final class DeviceLabels {
    /** At most this many recorded slots are read to recognise an unlabelled device. */
    static final int MAX_PROBES = 4096;

    private DeviceLabels() {
    }

    /** A valid slot header read from a device. */
    public record Header(int containerId, int slot, int device, UUID pool) {
    }

    /** A container the metadata records: where it lives. */
    public record Placement(int containerId, int device, int slot) {
    }

    /** A device the pool cannot use as configured; the message names the device and what to do. */
    public static final class DeviceRefusedException extends IOException {
        private static final long serialVersionUID = 1L;

        public DeviceRefusedException(String message) {
            super(message);
        }
    }

    /** The configured devices arranged by device index (position {@code i} holds device #i). */
    public record Arrangement(List<DeviceSpec> byIndex, List<String> notes) {
    }

    /**
     * Arranges {@code configured} by their labels. {@code placements} are the containers the metadata
     * records (empty for a new pool). Devices that carry no label and no container of this pool take
     * the indices no labelled device holds, lowest first, in configuration order.
     *
     * @throws DeviceRefusedException a device labelled for another pool, two devices with the same
     *     label, a device whose containers name different indices, or a device the metadata needs
     *     (it records containers on it) that no configured device carries
     */
    public static Arrangement arrange(List<DeviceSpec> configured, UUID pool, long slotSize,
                                      List<Placement> placements) throws IOException {
        Map<Integer, List<Placement>> needed = new TreeMap<>();
        TreeSet<Integer> slots = new TreeSet<>();
        for (Placement p : placements) {
            needed.computeIfAbsent(p.device(), k -> new ArrayList<>()).add(p);
            slots.add(p.slot());
        }
        Map<Integer, DeviceSpec> claimed = new TreeMap<>();
        List<DeviceSpec> blank = new ArrayList<>();
        List<DeviceSpec> unreadable = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (DeviceSpec spec : configured) {
            Integer index = identify(spec.path(), pool, slotSize, slots, placements);
            if (index == null) {
                blank.add(spec);
                if (DeviceProbe.probe(spec.path()) != null) {
                    unreadable.add(spec); // holds data, but no readable label or container header
                }
                continue;
            }
            DeviceSpec other = claimed.putIfAbsent(index, spec);
            if (other != null) {
                throw new DeviceRefusedException("refusing to open the pool: devices " + other.path() + " and "
                        + spec.path() + " both carry the label of device #" + index + " of pool " + pool
                        + "; list each device of the pool once in [pool] devices (a copy of a device is not"
                        + " the device)");
            }
            if (configured.indexOf(spec) != index) {
                notes.add("device " + spec.path() + " is device #" + index + " of the pool (by its label), listed "
                        + "at position " + configured.indexOf(spec) + " in the configuration");
            }
        }
        List<Integer> unclaimed = new ArrayList<>();
        for (Integer i : needed.keySet()) {
            if (!claimed.containsKey(i)) {
                unclaimed.add(i);
            }
        }
        if (unclaimed.size() == 1 && unreadable.size() == 1
                && remnantOf(unreadable.get(0).path(), pool, slotSize, needed.get(unclaimed.get(0)))) {
            // unambiguous: the one device the metadata still needs, and the one device holding data
            // without a readable label whose slot headers still show this pool (a damaged header);
            // its containers' checks report the damage. A device without such a trace (another
            // disk that took the missing one's name) is never taken.
            DeviceSpec s = unreadable.get(0);
            claimed.put(unclaimed.get(0), s);
            blank.remove(s);
            notes.add("device " + s.path() + " carries no readable label; taken as device #" + unclaimed.get(0)
                    + ", the one device of the pool not found by its label");
        }
        List<String> missing = new ArrayList<>();
        for (Map.Entry<Integer, List<Placement>> e : needed.entrySet()) {
            if (!claimed.containsKey(e.getKey())) {
                missing.add("device #" + e.getKey() + " (holding " + e.getValue().size() + " container(s), the first "
                        + "in slot " + e.getValue().get(0).slot() + ")");
            }
        }
        if (!missing.isEmpty()) {
            StringBuilder unlabelled = new StringBuilder();
            for (DeviceSpec b : blank) {
                unlabelled.append(unlabelled.length() == 0 ? "" : ", ").append(b.path());
            }
            throw new DeviceRefusedException("refusing to open pool " + pool + ": " + String.join(", ", missing)
                    + (missing.size() == 1 ? " is" : " are") + " missing: no configured device carries "
                    + (missing.size() == 1 ? "its" : "their") + " label"
                    + (unlabelled.length() == 0 ? "" : " (devices without a label of this pool: " + unlabelled + ")")
                    + "; add the device to [pool] devices (in any position), or restore its contents");
        }
        int total = configured.size();
        List<DeviceSpec> byIndex = new ArrayList<>();
        int nextBlank = 0;
        for (int i = 0; i < total; i++) {
            DeviceSpec s = claimed.get(i);
            if (s == null) {
                if (nextBlank >= blank.size()) {
                    break;
                }
                s = blank.get(nextBlank++);
            }
            byIndex.add(s);
        }
        if (byIndex.size() < total) {
            // a labelled index beyond the devices the configuration lists: a gap no blank device fills
            List<Integer> gaps = new ArrayList<>();
            for (int i = 0; i <= claimed.keySet().stream().max(Integer::compare).orElse(0); i++) {
                if (!claimed.containsKey(i)) {
                    gaps.add(i);
                }
            }
            throw new DeviceRefusedException("refusing to open pool " + pool + ": device(s) " + gaps
                    + " missing (the configured devices carry the labels " + claimed.keySet()
                    + "); add the missing device to [pool] devices");
        }
        return new Arrangement(List.copyOf(byIndex), List.copyOf(notes));
    }

    /**
     * Whether {@code path} shows, at the slot of at least one of {@code placements}, a slot header of
     * {@code pool} whose CRC no longer matches: magic {@code ORCS} and the pool UUID in place. That
     * trace tells a device of this pool with damaged headers from any other disk holding data.
     */
    static boolean remnantOf(Path path, UUID pool, long slotSize, List<Placement> placements) throws IOException {
        if (placements == null || !Files.exists(path)) {
            return false;
        }
        boolean regular = Files.isRegularFile(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = regular ? ch.size() : Long.MAX_VALUE;
            int probes = 0;
            for (Placement p : placements) {
                long at = (long) p.slot() * slotSize;
                if (probes++ >= MAX_PROBES || at + SlotHeader.SIZE > size) {
                    continue;
                }
                ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE).order(ByteOrder.BIG_ENDIAN);
                while (b.hasRemaining() && ch.read(b, at + b.position()) > 0) {
                    // read the whole header
                }
                if (b.position() == SlotHeader.SIZE && b.getInt(0) == SlotHeader.MAGIC
                        && new UUID(b.getLong(20), b.getLong(28)).equals(pool)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The device index {@code path} carries for {@code pool}, or null when it carries none (absent,
     * empty or blank). A label of another pool is refused.
     */
    static Integer identify(Path path, UUID pool, long slotSize, TreeSet<Integer> slots, List<Placement> placements)
            throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        boolean regular = Files.isRegularFile(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = regular ? ch.size() : Long.MAX_VALUE;
            Header label = read(ch, 0, size);
            if (label != null) {
                if (!label.pool().equals(pool)) {
                    throw new DeviceRefusedException("refusing to open the pool: device " + path + " carries the "
                            + "label of device #" + label.device() + " of pool " + label.pool() + ", but the metadata "
                            + "belongs to pool " + pool + "; check [pool] devices and metadata_dir (each device "
                            + "belongs to one pool; the device was not written)");
                }
                return label.device();
            }
            // no label: a device of a pool written before labels; its containers' headers name it
            Map<Integer, Integer> votes = new LinkedHashMap<>();
            int probes = 0;
            for (int slot : slots) {
                if (probes++ >= MAX_PROBES || (long) slot * slotSize + SlotHeader.SIZE > size) {
                    break;
                }
                Header h = read(ch, (long) slot * slotSize, size);
                if (h == null || !h.pool().equals(pool)) {
                    continue;
                }
                for (Placement p : placements) {
                    if (p.containerId() == h.containerId() && p.slot() == slot && p.device() == h.device()) {
                        votes.merge(h.device(), 1, Integer::sum);
                    }
                }
            }
            if (votes.size() > 1) {
                throw new DeviceRefusedException("refusing to open the pool: device " + path + " holds containers "
                        + "of devices " + votes.keySet() + " of pool " + pool + " (no label); which device it is "
                        + "cannot be told");
            }
            return votes.isEmpty() ? null : votes.keySet().iterator().next();
        }
    }

    /** The valid slot header at {@code pos}, or null (none, short, bad magic or CRC). */
    public static Header read(FileChannel ch, long pos, long size) throws IOException {
        if (pos + SlotHeader.SIZE > size) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE).order(ByteOrder.BIG_ENDIAN);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n <= 0) {
                return null;
            }
        }
        if (b.getInt(0) != SlotHeader.MAGIC) {
            return null;
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 60);
        if ((int) crc.getValue() != b.getInt(60)) {
            return null;
        }
        return new Header(b.getInt(8), b.getInt(12), b.getInt(16), new UUID(b.getLong(20), b.getLong(28)));
    }

    /** The pool UUID a device's label names, or null when it has no label at byte 0. */
    public static Header label(Path path) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        boolean regular = Files.isRegularFile(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(ch, 0, regular ? ch.size() : Long.MAX_VALUE);
        }
    }
}
