package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The one service API of a running Orion Dedup server: everything an administrator can do. The
 * server implements it; {@link ControlServer} exposes it on the control socket; {@link AdminClient}
 * implements it on the CLI side by calling over that socket. Every result is a record, list or map
 * that Jackson serialises to JSON.
 *
 * <p>Changes to targets apply live (new LUNs appear to initiators without restart) and are saved
 * to {@code targets/} at once, atomically (the {@code saveconfig} model). A refused request throws
 * {@link AdminException} with a one-line reason; an I/O failure throws {@link IOException}.
 *
 * <p>Secrets: the implementation may return definitions with secrets; {@link ControlServer} masks
 * every {@link ChapCredentials} before a result leaves the server.
 *
 * <p>The management commands ({@code hash*}, {@code reference*}, {@code cache*},
 * {@code compression*}, {@code performanceStats}, {@code optimizationStats}) return ordered maps
 * of named figures ({@code snake_case} keys; byte counts end in {@code _bytes}, ratios in
 * {@code _ratio}, percentages in {@code _percent}, durations in {@code _seconds} /
 * {@code _micros}). They do real work on the live engine and report real numbers.
 */
public interface AdminApi {

    // --- targets ------------------------------------------------------------------------------

    /** All targets. */
    List<TargetSummary> listTargets() throws AdminException, IOException;

    /** One target's full definition. */
    TargetDefinition showTarget(String iqn) throws AdminException, IOException;

    /** Creates an empty target on portal group 1 (the server's portals). */
    TargetDefinition createTarget(String iqn, String alias, boolean demoMode) throws AdminException, IOException;

    /** Changes authentication / demo mode / queue depth of a target. */
    TargetDefinition setAttributes(String iqn, TargetAttributes attributes) throws AdminException, IOException;

    /**
     * Deletes a target and its definition file. Refused while sessions are logged in unless
     * {@code force} (then they are dropped). The LUNs' volumes are kept, detached, unless
     * {@code destroy}; returns what became of each.
     */
    List<VolumeRelease> deleteTarget(String iqn, boolean force, boolean destroy) throws AdminException, IOException;

    /** {@link #deleteTarget(String, boolean, boolean)} keeping the volumes. */
    default void deleteTarget(String iqn, boolean force) throws AdminException, IOException {
        deleteTarget(iqn, force, false);
    }

    // --- LUNs ---------------------------------------------------------------------------------

    /**
     * Adds a LUN; initiators see it without restart. Without {@code attach} the LUN gets a new,
     * empty volume: {@code lun.volume()} null picks a fresh name no volume has, and a name that
     * exists is refused. With {@code attach} the named volume must exist and not back another
     * LUN; its data is kept; {@code size} 0 (or {@code blockSize}/{@code dedupBlockSize} 0) take
     * the volume's, a smaller size is refused, a larger one grows it.
     */
    LunInfo createLun(String iqn, LunDefinition lun, boolean attach) throws AdminException, IOException;

    /** {@link #createLun(String, LunDefinition, boolean)} with a new volume. */
    default LunInfo createLun(String iqn, LunDefinition lun) throws AdminException, IOException {
        return createLun(iqn, lun, false);
    }

    /**
     * Removes a LUN from a target. Refused while a session can reach it unless {@code force}.
     * Its volume is kept, detached ({@code volume list} shows it, {@code volume delete} destroys
     * it), unless {@code destroy}.
     */
    VolumeRelease deleteLun(String iqn, int lun, boolean force, boolean destroy) throws AdminException, IOException;

    /** {@link #deleteLun(String, int, boolean, boolean)} keeping the volume. */
    default void deleteLun(String iqn, int lun, boolean force) throws AdminException, IOException {
        deleteLun(iqn, lun, force, false);
    }

    /** Changes a LUN's capacity; raises CAPACITY DATA HAS CHANGED (SPC-4 §7.9) for its nexuses. */
    LunInfo resizeLun(String iqn, int lun, long newSizeBytes) throws AdminException, IOException;

    /** The LUNs of one target, or of all targets when {@code iqn} is null. */
    List<LunInfo> listLuns(String iqn) throws AdminException, IOException;

    /**
     * Clones a dedup LUN: a new LUN {@code toLun} (null: the lowest free number) of target
     * {@code toIqn} on a new volume that references the source volume's chunks (instant, no bytes
     * copied, stored bytes do not grow; the volume records its origin). The source may be in use
     * (the clone is crash-consistent: the source's state at one commit). File and RAM LUNs are
     * refused. Initiators of {@code toIqn} see the new LUN without restart.
     */
    default LunInfo cloneLun(String iqn, int lun, String toIqn, Integer toLun) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot clone LUNs");
    }

    /**
     * Snapshots a dedup LUN: a read-only clone of its volume, detached, named {@code name} (null:
     * {@code <volume>.snap-<UTC time>}); {@code volume list} shows it; it can be attached to a LUN
     * (writes get DATA PROTECT) or used by {@link #rollbackLun}.
     */
    default VolumeSummary snapshotLun(String iqn, int lun, String name) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot snapshot LUNs");
    }

    /**
     * Replaces a dedup LUN's contents by those of {@code snapshot}, a snapshot of its volume, in
     * one metadata transaction while no write to it is in flight; the LUN takes the snapshot's
     * size. Initiators get NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (and CAPACITY DATA HAS
     * CHANGED when the size changed). Refused while a session uses the LUN unless {@code force}.
     */
    default LunInfo rollbackLun(String iqn, int lun, String snapshot, boolean force) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot roll LUNs back");
    }

    // --- volumes ------------------------------------------------------------------------------

    /** Every volume: attached ones with their LUN, detached ones (kept data) too. */
    List<VolumeSummary> listVolumes() throws AdminException, IOException;

    /**
     * Destroys a detached volume: a dedup volume's chunk references are dropped (reference
     * cleanup then reclaims the bytes no other volume shares), an image file is removed. Refused
     * for a volume a LUN uses. Persistent.
     */
    VolumeRelease deleteVolume(String name) throws AdminException, IOException;

    // --- portals, ACLs, CHAP ------------------------------------------------------------------

    /** Adds a portal to a portal group (created when missing) and starts listening on it. */
    void addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException;

    /** Removes a portal from a portal group. */
    void removePortal(String iqn, int tag, HostPort portal) throws AdminException, IOException;

    /**
     * Adds or replaces the node ACL of {@code acl.initiator()}. When it replaces one and
     * {@code acl.chap()} is null, the existing ACL's CHAP credentials are kept (change them with
     * {@link #setChap}/{@link #clearChap}).
     */
    void addAcl(String iqn, AclDefinition acl) throws AdminException, IOException;

    /** Removes a node ACL (sessions of that initiator are dropped unless demo mode lets them in). */
    void removeAcl(String iqn, String initiator) throws AdminException, IOException;

    /** The node ACLs of a target. */
    List<AclDefinition> listAcls(String iqn) throws AdminException, IOException;

    /** Sets CHAP credentials; {@code initiator} names the ACL for {@link ChapScope#ACL}, else null. */
    void setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap) throws AdminException, IOException;

    /** Clears CHAP credentials of that scope. */
    void clearChap(String iqn, ChapScope scope, String initiator) throws AdminException, IOException;

    // --- server -------------------------------------------------------------------------------

    /** Server status: version, uptime, portals, sessions. */
    StatusReport status() throws AdminException, IOException;

    /** Writes every target definition again (atomically); returns the files. */
    SaveResult saveConfig() throws AdminException, IOException;

    /**
     * Reads the target files again and makes the live server match them (what {@code systemctl reload}
     * runs), keeping sessions: a changed target is changed as the admin commands change it; a target whose
     * file is gone is withdrawn (its sessions dropped, its volumes kept); a new file's target starts. A file
     * with an error changes nothing (the reason names file, line and key).
     */
    default ReloadResult reload() throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot reload its target files");
    }

    /** Space accounting per volume and pool; all engine counters with {@code verbose}. */
    StatsReport stats(boolean verbose) throws AdminException, IOException;

    /**
     * Reads every stored chunk back and checks its CRC32C and fingerprint. Figures:
     * {@code chunks_checked}, {@code checked_bytes}, {@code crc_errors},
     * {@code fingerprint_mismatches}, {@code problems} (descriptions of what failed).
     * A server without a verification pass refuses with {@link AdminException}.
     */
    default Map<String, Object> scrub() throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot verify its chunks");
    }

    /**
     * {@link #scrub()}; with {@code repair} ({@code scrub --repair}) each damaged chunk found is
     * rewritten from a good copy of its content when one exists. Extra figures: {@code repair},
     * {@code repaired}, {@code unrepairable}, {@code unrepairable_chunks}. Without {@code repair},
     * exactly {@link #scrub()}.
     */
    default Map<String, Object> scrub(boolean repair) throws AdminException, IOException {
        if (!repair) {
            return scrub();
        }
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot repair damaged chunks");
    }

    /**
     * Writes a backup of the pool's metadata to {@code file} (an absolute path on the server's host)
     * while I/O goes on: consistent (one snapshot) and compacted. Figures: {@code file},
     * {@code pool_uuid}, {@code bytes}, {@code metadata_bytes}, {@code taken}, {@code duration_seconds}.
     * A server without a pool, or that cannot back up, refuses with {@link AdminException}.
     */
    default Map<String, Object> backup(String file) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot back up its metadata");
    }

    // --- background jobs ----------------------------------------------------------------------

    /**
     * Starts a background job of {@code kind} ({@code scrub}, {@code cleanup},
     * {@code compression-optimize}) and returns at once. Refused while one of that kind is
     * queued or running.
     */
    default io.orion.dedup.jobs.JobInfo startJob(String kind) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no background jobs");
    }

    /**
     * {@link #startJob(String)}; {@code repair} (a scrub only: {@code scrub start --repair}) makes
     * the scrub rewrite the damaged chunks it finds from good copies. Without {@code repair},
     * exactly {@link #startJob(String)}.
     */
    default io.orion.dedup.jobs.JobInfo startJob(String kind, boolean repair) throws AdminException, IOException {
        if (!repair) {
            return startJob(kind);
        }
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot repair damaged chunks");
    }

    /** The jobs of this run of the server and the last finished job of each kind, by id. */
    default List<io.orion.dedup.jobs.JobInfo> listJobs() throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no background jobs");
    }

    /** One job: state, progress, rate, ETA, result. */
    default io.orion.dedup.jobs.JobInfo showJob(long id) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no background jobs");
    }

    /** Asks a job to stop at its next consistent point; returns its state then. */
    default io.orion.dedup.jobs.JobInfo cancelJob(long id) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no background jobs");
    }

    /** Per job kind: the active job, the last finished one, the last success, the next scheduled start. */
    default List<io.orion.dedup.jobs.JobSummary> jobSummary() throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no background jobs");
    }

    /**
     * {@code stats --histogram}: the pool's chunks by reference count in power-of-two buckets
     * (like {@code zdb -DD}), from one read transaction. A server without it refuses.
     */
    default List<RefcountBucket> refcountHistogram() throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server has no refcount histogram");
    }

    // --- the product's management commands ---------------------------------------------------

    /** {@code dedup-hash-info}. */
    Map<String, Object> hashInfo() throws AdminException, IOException;

    /** {@code dedup-hash-optimize}: warms the fingerprint cache; reports how many entries. */
    Map<String, Object> hashOptimize() throws AdminException, IOException;

    /** {@code dedup-hash-stats}. */
    Map<String, Object> hashStats() throws AdminException, IOException;

    /** {@code dedup-reference-info}. */
    Map<String, Object> referenceInfo() throws AdminException, IOException;

    /** {@code dedup-reference-cleanup}: runs the collector now; reports what it reclaimed. */
    Map<String, Object> referenceCleanup() throws AdminException, IOException;

    /** {@code dedup-reference-stats}. */
    Map<String, Object> referenceStats() throws AdminException, IOException;

    /** {@code dedup-cache-info}. */
    Map<String, Object> cacheInfo() throws AdminException, IOException;

    /** {@code dedup-cache-flush}: empties the caches; reports how much was dropped. */
    Map<String, Object> cacheFlush() throws AdminException, IOException;

    /** {@code dedup-cache-stats}. */
    Map<String, Object> cacheStats() throws AdminException, IOException;

    /** {@code dedup-compression-info}. */
    Map<String, Object> compressionInfo() throws AdminException, IOException;

    /** {@code dedup-compression-optimize}: recompresses where it now pays; reports what changed. */
    Map<String, Object> compressionOptimize() throws AdminException, IOException;

    /** {@code dedup-performance-stats}. */
    Map<String, Object> performanceStats() throws AdminException, IOException;

    /** {@code dedup-optimization-stats}. */
    Map<String, Object> optimizationStats() throws AdminException, IOException;

    /** Runs a management command by its enum constant. */
    default Map<String, Object> management(ManagementCommand command) throws AdminException, IOException {
        return switch (command) {
            case HASH_INFO -> hashInfo();
            case HASH_OPTIMIZE -> hashOptimize();
            case HASH_STATS -> hashStats();
            case REFERENCE_INFO -> referenceInfo();
            case REFERENCE_CLEANUP -> referenceCleanup();
            case REFERENCE_STATS -> referenceStats();
            case CACHE_INFO -> cacheInfo();
            case CACHE_FLUSH -> cacheFlush();
            case CACHE_STATS -> cacheStats();
            case COMPRESSION_INFO -> compressionInfo();
            case COMPRESSION_OPTIMIZE -> compressionOptimize();
            case PERFORMANCE_STATS -> performanceStats();
            case OPTIMIZATION_STATS -> optimizationStats();
        };
    }
}
