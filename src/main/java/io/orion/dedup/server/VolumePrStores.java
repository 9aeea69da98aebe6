package io.orion.dedup.server;

import io.orion.dedup.config.AtomicFiles;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.scsi.PrStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Where each kind of LUN keeps its persistent reservations (SPC-4 §5.14.5, APTPL), tied to the
 * volume, not to the LUN number: a dedup volume in the pool's metadata (LMDB {@code reservations},
 * by volume id), a file volume in {@code <data>/reservations/<volume>.pr} (written atomically and
 * fsynced), a RAM LUN nowhere ({@link PrStore#NONE}: PTPL_C 0, APTPL 1 refused).
 */
final class VolumePrStores {

    private VolumePrStores() {
    }

    /** The store of a dedup volume: its image in the pool's metadata, synced before returning. */
    static PrStore pool(DedupPool pool, DedupVolume volume) {
        return new PrStore() {
            @Override
            public boolean persistent() {
                return true;
            }

            @Override
            public byte[] load() throws IOException {
                return pool.reservationState(volume);
            }

            @Override
            public void save(byte[] image) throws IOException {
                pool.saveReservationState(volume, image);
            }
        };
    }

    /** The file that keeps a file volume's reservations. */
    static Path file(Path dataDir, String volume) {
        return dataDir.resolve("reservations").resolve(volume + ".pr");
    }

    /** The store of a file volume: one file, replaced atomically, removed when APTPL is turned off. */
    static PrStore file(Path file) {
        return new PrStore() {
            @Override
            public boolean persistent() {
                return true;
            }

            @Override
            public byte[] load() throws IOException {
                try {
                    return Files.readAllBytes(file);
                } catch (NoSuchFileException e) {
                    return null;
                }
            }

            @Override
            public void save(byte[] image) throws IOException {
                if (image != null) {
                    AtomicFiles.write(file, image);
                } else if (Files.deleteIfExists(file)) {
                    AtomicFiles.syncDirectory(file.getParent());
                }
            }
        };
    }
}
