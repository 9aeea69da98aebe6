package io.orion.dedup.scsi;

import java.io.IOException;

/**
 * Where a logical unit's persistent reservation state is kept across restarts (SPC-4 §5.14.5,
 * "Persist Through Power Loss"). The scsi layer hands over an opaque, self-checking byte image
 * ({@link PrState#encode()}); the store knows only how to keep it durably, tied to the volume
 * behind the LUN (not to the LUN number): a dedup volume keeps it in the pool's metadata, a file
 * volume in a file of the data directory. RAM LUNs have no store ({@link #NONE}): they report
 * PTPL_C = 0 and refuse APTPL = 1.
 */
public interface PrStore {

    /** True when the state can survive a restart: PTPL_C in REPORT CAPABILITIES. */
    boolean persistent();

    /** The saved image, or null when none was saved. */
    byte[] load() throws IOException;

    /**
     * Durably replaces the saved image ({@code null}: removes it). Returns only once the new image
     * would survive a power loss; on failure the old image is still the saved one.
     */
    void save(byte[] image) throws IOException;

    /** No persistence: memory only. */
    PrStore NONE = new PrStore() {
        @Override
        public boolean persistent() {
            return false;
        }

        @Override
        public byte[] load() {
            return null;
        }

        @Override
        public void save(byte[] image) throws IOException {
            throw new IOException("this logical unit cannot persist reservations");
        }
    };
}
