package io.orion.dedup.dedup;

import io.orion.dedup.config.AtomicFiles;
import io.orion.dedup.meta.MetadataBackup;
import io.orion.dedup.containers.DeviceProbe;
import io.orion.dedup.containers.DeviceSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a metadata backup ({@link DedupPool#backup}) back into a pool's metadata directory, the
 * server stopped (docs/administration.md, "Backup and restore").
 *
 * <p>Refuses, before writing anything: a backup of another pool than the devices' (a device whose
 * label or slot headers name another pool, or no device of the backup's pool at all), and a
 * metadata directory that already holds metadata unless {@code force} (the old {@code data.mdb} is
 * then kept beside it, renamed). Then checks: opens the pool (container bytes past the restored
 * committed ends are cut, containers the backup does not know are free) and reads every chunk the
 * backup references back, so chunks cleanup destroyed after the backup are found and counted, never
 * served as good data.
 */
public final class PoolRestore {
    private static final Logger LOG = LoggerFactory.getLogger(PoolRestore.class);

    private PoolRestore() {
    }

    /** A restore the pool's state refuses; nothing was written. */
    public static final class RestoreRefusedException extends IOException {
        private static final long serialVersionUID = 1L;

        RestoreRefusedException(String message) {
            super(message);
        }
    }

    /**
     * What a restore did.
     *
     * @param replaced where the metadata it replaced was kept, or null
     * @param open what opening the pool found (null without the check)
     * @param scrub every referenced chunk read back (null without the check)
     */
    public record Result(MetadataBackup.Header backup, Path replaced, OpenReport open, ScrubResult scrub,
                         int volumes) {
        /** True when the check ran and found every chunk the backup references intact. */
        public boolean intact() {
            return scrub != null && scrub.clean() && open.damage().isEmpty();
        }
    }

    public static Result restore(PoolOptions o, Path backup, boolean force, boolean check) throws IOException {
        MetadataBackup.Header h = MetadataBackup.readHeader(backup);
        List<Path> ours = new ArrayList<>();
        for (DeviceSpec d : o.devices()) {
            DeviceProbe.Found f = DeviceProbe.probe(d.path());
            if (f != null && f.pool() != null && !f.pool().equals(h.pool())) {
                throw new RestoreRefusedException("refusing to restore: " + backup + " is a backup of pool " + h.pool()
                        + ", but device " + d.path() + " belongs to pool " + f.pool() + " (" + f.what() + ")");
            }
            if (f != null && h.pool().equals(f.pool())) {
                ours.add(d.path());
            }
        }
        if (ours.isEmpty()) {
            throw new RestoreRefusedException("refusing to restore: " + backup + " is a backup of pool " + h.pool()
                    + ", but none of the configured devices " + o.devices().stream().map(DeviceSpec::path).toList()
                    + " belongs to it; check [pool] devices");
        }
        Path dir = o.metadataDir();
        Files.createDirectories(dir);
        Path mdb = dir.resolve("data.mdb");
        Path replaced = null;
        boolean present = Files.exists(mdb) && Files.size(mdb) > 0;
        if (present && !force) {
            throw new RestoreRefusedException("refusing to restore: " + dir + " already holds metadata ("
                    + mdb.getFileName() + ", " + Files.size(mdb) + " bytes); to replace it, run again with --force"
                    + " (the current file is kept as data.mdb.replaced-<time>)");
        }
        // the image is written and its CRC32C checked beside data.mdb first: a damaged backup leaves the
        // metadata directory as it was
        Path staged = Files.createTempFile(dir, ".data.mdb.restored-", "");
        try {
            MetadataBackup.extract(backup, staged);
            if (present) {
                replaced = dir.resolve("data.mdb.replaced-" + System.currentTimeMillis());
                Files.move(mdb, replaced, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.deleteIfExists(dir.resolve("lock.mdb"));
            // the flushed state saved for the file it replaces must never be applied to this one
            Files.deleteIfExists(dir.resolve(io.orion.dedup.meta.FlushedMeta.FILE));
            Files.move(staged, mdb, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(staged);
        }
        AtomicFiles.syncDirectory(dir);
        LOG.info("metadata of pool {} restored into {} from {} (taken {})", h.pool(), dir, backup, h.taken());
        if (!check) {
            return new Result(h, replaced, null, null, -1);
        }
        try (DedupPool pool = DedupPool.open(o)) {
            ScrubResult s = pool.verify();
            if (!s.clean()) {
                LOG.error("after the restore, {} chunk(s) the backup references fail their checks (destroyed by cleanup"
                        + " after the backup, or damaged): {}", s.crcErrors() + s.fingerprintMismatches(), s.problems());
            }
            return new Result(h, replaced, pool.openReport(), s, pool.volumes().size());
        }
    }
}
