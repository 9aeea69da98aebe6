package io.orion.dedup.scsi;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One version of a logical unit's persistent reservation state (SPC-4 §5.14): the registrations,
 * the reservation (holder and type), the PR generation and the APTPL flag. A published version is
 * never changed: a PERSISTENT RESERVE OUT works on a {@link #copy()}, saves it, and only then makes
 * it current, so a failed save leaves the state as it was.
 *
 * <p>The byte image ({@link #encode()} / {@link #decode(byte[])}) is what a {@link PrStore} keeps:
 * magic {@code ORPR}, version 1, then the fields, then a CRC32C of everything before it.
 */
final class PrState {

    /**
     * One registration: an I_T nexus, or a set of them, with its reservation key.
     * {@code isid} is -1 for an iSCSI TransportID of format 00b (the initiator device: every
     * initiator port of that name); {@code targetPort} is null for ALL_TG_PT = 1 (every target
     * port); {@code rtp} is the relative target port identifier it was registered through.
     */
    static final class Registration {
        final String initiatorName;
        final long isid;
        final String targetPort;
        final int rtp;
        long key;

        Registration(String initiatorName, long isid, String targetPort, int rtp, long key) {
            this.initiatorName = initiatorName;
            this.isid = isid;
            this.targetPort = targetPort;
            this.rtp = rtp;
            this.key = key;
        }

        /** The registration of exactly {@code n} (or, with {@code allTgPt}, of its initiator port). */
        static Registration of(Nexus n, boolean allTgPt, long key) {
            return new Registration(n.initiatorName(), n.isid(), allTgPt ? null : n.targetPort(),
                    n.relativeTargetPort(), key);
        }

        boolean allTargetPorts() {
            return targetPort == null;
        }

        /** True when this registration covers the I_T nexus {@code n}. */
        boolean matches(Nexus n) {
            return initiatorName.equalsIgnoreCase(n.initiatorName()) && (isid < 0 || isid == n.isid())
                    && (targetPort == null || targetPort.equalsIgnoreCase(n.targetPort()));
        }

        /** True when some I_T nexus is covered by both registrations. */
        boolean overlaps(Registration o) {
            return initiatorName.equalsIgnoreCase(o.initiatorName) && (isid < 0 || o.isid < 0 || isid == o.isid)
                    && (targetPort == null || o.targetPort == null || targetPort.equalsIgnoreCase(o.targetPort));
        }

        /** The initiator port name ({@code iqn,i,0xISID}), or the bare name for format 00b. */
        String initiatorPort() {
            return isid < 0 ? initiatorName : String.format(Locale.ROOT, "%s,i,0x%012x", initiatorName, isid);
        }

        Registration copy() {
            return new Registration(initiatorName, isid, targetPort, rtp, key);
        }
    }

    final List<Registration> registrations = new ArrayList<>();
    /** Holder of a reservation of a single-holder type; null for none and for all-registrants types. */
    Registration holder;
    /** Reservation type (SPC-4 Table 171), 0 when there is no reservation. */
    int type;
    int generation;
    /** Activate Persist Through Power Loss, as the last REGISTER-type service action set it. */
    boolean aptpl;

    PrState copy() {
        PrState c = new PrState();
        Map<Registration, Registration> map = new IdentityHashMap<>();
        for (Registration r : registrations) {
            Registration rc = r.copy();
            map.put(r, rc);
            c.registrations.add(rc);
        }
        c.holder = holder == null ? null : map.get(holder);
        c.type = type;
        c.generation = generation;
        c.aptpl = aptpl;
        return c;
    }

    List<Registration> view() {
        return Collections.unmodifiableList(registrations);
    }

    /** The registration covering {@code n}, or null when {@code n} is not registered. */
    Registration registrationOf(Nexus n) {
        for (Registration r : registrations) {
            if (r.matches(n)) {
                return r;
            }
        }
        return null;
    }

    boolean reserved() {
        return type != 0;
    }

    boolean allRegistrants() {
        return type == PersistentReservations.WRITE_EXCLUSIVE_AR || type == PersistentReservations.EXCLUSIVE_ACCESS_AR;
    }

    /** True if {@code r} holds the reservation (every registration, for all-registrants types). */
    boolean holds(Registration r) {
        return r != null && type != 0 && (allRegistrants() || r == holder);
    }

    // ---- the byte image ------------------------------------------------------------------------

    private static final int MAGIC = 0x4f525052; // "ORPR"
    private static final int VERSION = 1;

    byte[] encode() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(MAGIC);
            out.writeShort(VERSION);
            out.writeBoolean(aptpl);
            out.writeInt(generation);
            out.writeByte(type);
            out.writeInt(holder == null ? -1 : registrations.indexOf(holder));
            out.writeInt(registrations.size());
            for (Registration r : registrations) {
                out.writeUTF(r.initiatorName);
                out.writeLong(r.isid);
                out.writeBoolean(r.targetPort != null);
                out.writeUTF(r.targetPort == null ? "" : r.targetPort);
                out.writeShort(r.rtp);
                out.writeLong(r.key);
            }
            out.flush();
            CRC32C crc = new CRC32C();
            crc.update(bytes.toByteArray());
            out.writeInt((int) crc.getValue());
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e); // a byte array stream does not fail
        }
    }

    /** Decodes an image; {@link IOException} when it is damaged or of an unknown version. */
    static PrState decode(byte[] image) throws IOException {
        if (image.length < 10) {
            throw new IOException("persistent reservation image of " + image.length + " bytes is too short");
        }
        CRC32C crc = new CRC32C();
        crc.update(image, 0, image.length - 4);
        if ((int) crc.getValue() != ByteBuffer.wrap(image).getInt(image.length - 4)) {
            throw new IOException("persistent reservation image is damaged (CRC32C mismatch)");
        }
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(image, 0, image.length - 4));
        if (in.readInt() != MAGIC) {
            throw new IOException("not a persistent reservation image (bad magic)");
        }
        int version = in.readUnsignedShort();
        if (version != VERSION) {
            throw new IOException("persistent reservation image version " + version + " is not supported");
        }
        PrState s = new PrState();
        s.aptpl = in.readBoolean();
        s.generation = in.readInt();
        s.type = in.readUnsignedByte();
        int holderIndex = in.readInt();
        int n = in.readInt();
        if (n < 0 || n > 1 << 16) {
            throw new IOException("persistent reservation image names " + n + " registrations");
        }
        for (int i = 0; i < n; i++) {
            String name = in.readUTF();
            long isid = in.readLong();
            boolean hasPort = in.readBoolean();
            String port = in.readUTF();
            int rtp = in.readUnsignedShort();
            long key = in.readLong();
            s.registrations.add(new Registration(name, isid, hasPort ? port : null, rtp, key));
        }
        if (holderIndex >= n || holderIndex < -1 || (s.type != 0 && !PersistentReservations.validType(s.type))) {
            throw new IOException("persistent reservation image has an invalid reservation");
        }
        s.holder = holderIndex < 0 ? null : s.registrations.get(holderIndex);
        if (s.type != 0 && !s.allRegistrants() && s.holder == null) {
            throw new IOException("persistent reservation image has a reservation without holder");
        }
        return s;
    }
}
