package io.orion.dedup.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.PoolStats;
import io.orion.dedup.dedup.VolumeStats;
import io.orion.dedup.iscsi.IscsiMetrics;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's Micrometer registry, exported in the Prometheus text format by
 * {@link MetricsEndpoint}. It is the transport's {@link IscsiMetrics} hook (logins, bytes,
 * commands and their latency per target, LUN and direction), and reads the engine's
 * {@link PoolStats} for the dedup gauges (ratios, logical/unique/stored bytes, cache hit rates,
 * hash throughput).
 *
 * <p>Names as Prometheus shows them: {@code orion_iscsi_logins_total{result,type}},
 * {@code orion_iscsi_sessions{type}}, {@code orion_scsi_bytes_total{target,lun,direction}},
 * {@code orion_scsi_commands_total{target,lun,direction}} (IOPS = its rate),
 * {@code orion_scsi_latency_seconds_bucket{target,lun,direction,le}},
 * {@code orion_dedup_*} for the pool and {@code orion_volume_*{volume}} per volume.
 * No tag or value ever carries a CHAP name or secret.
 *
 * <p>Threads: the hook methods run on Netty event loops and SCSI completion threads; they only
 * touch lock-free meters (cached per key). Gauges are read on the scrape thread; the pool
 * statistics behind them are computed at most once per second, the per-volume ones (which walk
 * every block map) at most every 30 seconds.
 */
final class ServerMetrics implements IscsiMetrics, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ServerMetrics.class);
    private static final long STATS_TTL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Per-volume figures walk every block map: refreshed at most this often. */
    private static final long VOLUME_TTL_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** Direction of a SCSI command, from its opcode (SBC-4 §5). */
    enum Direction {
        READ, WRITE, OTHER;

        String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Direction of(int opcode) {
            return switch (opcode) {
                case 0x08, 0x28, 0xA8, 0x88 -> READ;                         // READ(6/10/12/16)
                case 0x0A, 0x2A, 0xAA, 0x8A, 0x2E, 0xAE, 0x8E, 0x41, 0x93, 0x89 -> WRITE; // WRITE, W&V, WRITE SAME, CAW
                default -> OTHER;
            };
        }
    }

    /**
     * The meters of one (target, LUN, direction): Micrometer's (exported) plus the lifetime
     * maximum latency and the last minute's commands and bytes ({@code dedup-performance-stats}).
     */
    record LunMeters(String target, long lun, Direction direction, Counter bytes, Counter commands, Counter errors,
                     Timer latency, java.util.concurrent.atomic.LongAccumulator maxNanos, RecentRate recentCommands,
                     RecentRate recentBytes) {}

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<MeterKey, LunMeters> lunMeters = new ConcurrentHashMap<>();
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

    /**
     * The latency buckets of {@code orion_scsi_latency_seconds} (upper bounds, plus +Inf): 15 per
     * LUN and direction, from 50 µs (a cached read on loopback) to 5 s (a stalled device).
     */
    static final Duration[] LATENCY_BUCKETS = {
        Duration.ofNanos(50_000), Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
        Duration.ofMillis(1), Duration.ofNanos(2_500_000), Duration.ofMillis(5), Duration.ofMillis(10),
        Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
        Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5)};

    /** Key of one LUN's meters in one direction (no string building on the I/O path). */
    private record MeterKey(String target, long lun, Direction direction) {
    }
    private final Counter loginsOk;
    private final Counter loginsOkDiscovery;
    private final Counter loginsFailed;
    /** The per-volume gauges by volume name (removed with the volume). */
    private final Map<String, List<Meter>> volumeGauges = new ConcurrentHashMap<>();
    private volatile OrionServer server;
    private volatile java.util.function.Supplier<Optional<DedupPool>> pools = Optional::empty;
    private volatile PoolStats cached;
    private volatile long cachedAt;
    private volatile PoolStats cachedVolumes;
    private volatile long cachedVolumesAt;

    /** Nanosecond clock (System::nanoTime; tests move it). */
    private final java.util.function.LongSupplier clock;
    private final long startNanos;

    ServerMetrics() {
        this(System::nanoTime);
    }

    ServerMetrics(java.util.function.LongSupplier clock) {
        this.clock = clock;
        this.startNanos = clock.getAsLong();
        loginsOk = Counter.builder("orion.iscsi.logins").description("iSCSI logins by outcome")
                .tags("result", "success", "type", "normal").register(registry);
        loginsOkDiscovery = Counter.builder("orion.iscsi.logins").description("iSCSI logins by outcome")
                .tags("result", "success", "type", "discovery").register(registry);
        loginsFailed = Counter.builder("orion.iscsi.logins").description("iSCSI logins by outcome")
                .tags("result", "failure", "type", "any").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        Gauge.builder("orion.build.info", () -> 1)
                .description("Build of the running server: always 1, with its version and git revision as labels")
                .tags("version", io.orion.dedup.BuildInfo.current().version(), "revision", io.orion.dedup.BuildInfo.current().revision()).register(registry);
    }

    /** Stops the GC notification listener (the server closes its metrics when it stops). */
    @Override
    public void close() {
        gcMetrics.close();
    }

    PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Registers the gauges that read the running server: sessions and the pool's figures. */
    void bindServer(OrionServer s) {
        this.server = s;
        Gauge.builder("orion.iscsi.sessions", s, x -> x.iscsi().sessions().stream().filter(i -> !i.discovery()).count())
                .description("Logged-in iSCSI sessions").tags("type", "normal").register(registry);
        Gauge.builder("orion.iscsi.sessions", s, x -> x.iscsi().sessions().stream().filter(i -> i.discovery()).count())
                .description("Logged-in iSCSI sessions").tags("type", "discovery").register(registry);
        bindPoolState(() -> s.volumes().openPool());
        poolGauge("orion.pool.capacity.bytes", "Capacity of the pool's backing devices in bytes (a growing container"
                + " file counts its current size plus the free space of its file system)",
                p -> AdminService.poolSpace(p).sizeBytes());
        poolGauge("orion.pool.used.bytes", "Bytes the pool's containers occupy on its devices (reclaimable bytes included)",
                p -> AdminService.poolSpace(p).usedBytes());
        poolGauge("orion.pool.available.bytes", "Pool capacity not yet used, in bytes",
                p -> AdminService.poolSpace(p).availableBytes());
        poolGauge("orion.pool.provisioned.bytes", "Sum of the sizes of the pool's volumes (attached or detached), in bytes",
                p -> provisioned());
        poolGauge("orion.dedup.logical.bytes", "Logical bytes mapped by all volumes (zero-written blocks included)",
                PoolStats::logicalBytes);
        poolGauge("orion.dedup.zero.blocks", "Dedup blocks written as zeros (no chunk stored)", PoolStats::zeroBlocks);
        poolGauge("orion.dedup.unique.chunks", "Chunks with at least one reference", PoolStats::uniqueChunks);
        poolGauge("orion.dedup.unique.bytes", "Original bytes of the unique chunks", PoolStats::uniqueBytes);
        poolGauge("orion.dedup.stored.bytes", "Bytes the unique chunks occupy after compression", PoolStats::storedBytes);
        poolGauge("orion.dedup.reclaimable.bytes", "Container bytes no live chunk uses (reference cleanup reclaims them)",
                PoolStats::reclaimableBytes);
        poolGauge("orion.dedup.saving.ratio", "Share of the logical bytes saved by dedup and compression, 0..1:"
                + " 1 - stored / logical", p -> savingRatio(p.storedBytes(), p.logicalBytes()));
        poolGauge("orion.dedup.metadata.bytes", "Size of the LMDB metadata file in bytes", PoolStats::metadataBytes);
        Gauge.builder("orion.dedup.staged.blocks", this, m -> m.openPool().map(p -> {
            try {
                return (double) p.stagedBlocks();
            } catch (java.io.IOException e) {
                return Double.NaN;
            }
        }).orElse(Double.NaN)).description("Blocks of post-process LUNs waiting for the post-process pass")
                .register(registry);
        poolGauge("orion.dedup.containers", "Chunk containers", PoolStats::containers);
        poolGauge("orion.dedup.hash.throughput.bytes.per.second", "Fingerprinting throughput while hashing, bytes per second",
                p -> p.hashMegabytesPerSecond() * 1_000_000);
        FunctionCounter.builder("orion.dedup.checksum.errors", this,
                        m -> m.pool().map(p -> (double) p.checksumErrors()).orElse(0.0))
                .description("Chunk records that failed their CRC32C check").register(registry);
        FunctionCounter.builder("orion.dedup.verify.mismatches", this,
                        m -> m.openPool().map(p -> (double) p.verifyMismatches()).orElse(0.0))
                .description("Blocks that verify stored as new chunks: the chunk of their fingerprint held other bytes"
                        + " (a collision) or a damaged record").register(registry);
        FunctionCounter.builder("orion.dedup.repaired.chunks", this,
                        m -> m.openPool().map(p -> (double) p.repairedChunks()).orElse(0.0))
                .description("Damaged chunks scrub --repair rewrote from a good copy of their content").register(registry);
        FunctionCounter.builder("orion.dedup.hashed.bytes", this, m -> m.pool().map(p -> (double) p.hashedBytes()).orElse(0.0))
                .description("Bytes fingerprinted").register(registry);
        for (String cache : new String[] {"block", "fingerprint"}) {
            boolean block = cache.equals("block");
            poolGauge("orion.dedup.cache.hit.ratio", "Cache hit rate since start, 0..1", Tags.of("cache", cache),
                    p -> (block ? p.blockCache() : p.fingerprintCache()).hitRate());
            poolGauge("orion.dedup.cache.weight.bytes", "Bytes held by the cache", Tags.of("cache", cache),
                    p -> (block ? p.blockCache() : p.fingerprintCache()).weightBytes());
            FunctionCounter.builder("orion.dedup.cache.hits", this,
                    m -> m.pool().map(p -> (double) (block ? p.blockCache() : p.fingerprintCache()).hits()).orElse(0.0))
                    .description("Cache lookups that found their entry").tags("cache", cache).register(registry);
            FunctionCounter.builder("orion.dedup.cache.misses", this,
                    m -> m.pool().map(p -> (double) (block ? p.blockCache() : p.fingerprintCache()).misses()).orElse(0.0))
                    .description("Cache lookups that missed").tags("cache", cache).register(registry);
        }
    }

    /** 1 - stored / logical, clamped to 0..1 (0 while nothing is written). */
    static double savingRatio(long stored, long logical) {
        return logical <= 0 ? 0 : Math.max(0, Math.min(1, 1 - (double) stored / logical));
    }

    /** Sum of the capacities of the open pool's volumes. */
    private double provisioned() {
        return openPool().map(p -> (double) p.volumes().stream().mapToLong(v -> v.capacityBytes()).sum()).orElse(Double.NaN);
    }

    /**
     * {@code orion_pool_read_only}: 1 while the pool refuses writes (metadata or a device could not
     * be trusted; the reason is in {@code status} and the log), 0 otherwise or while no pool is open.
     */
    void bindPoolState(java.util.function.Supplier<Optional<DedupPool>> pools) {
        this.pools = pools; // held here: a gauge keeps its state object only weakly
        Gauge.builder("orion.pool.read.only", this, m -> m.pools.get()
                        .map(x -> x.readOnlyReason() != null ? 1.0 : 0.0).orElse(0.0))
                .description("1 while the dedup pool is read-only (writes fail with DATA PROTECT), else 0")
                .register(registry);
    }

    private void poolGauge(String name, String help, ToDoubleFunction<PoolStats> f) {
        poolGauge(name, help, Tags.empty(), f);
    }

    private void poolGauge(String name, String help, Tags tags, ToDoubleFunction<PoolStats> f) {
        Gauge.builder(name, this, m -> m.pool().map(f::applyAsDouble).orElse(Double.NaN))
                .description(help).tags(tags).register(registry);
    }

    /**
     * The pool's statistics without the per-volume walk ({@code DedupPool.stats(false)}), at most
     * one second old; empty while no dedup volume is open.
     */
    Optional<PoolStats> pool() {
        Optional<DedupPool> p = openPool();
        if (p.isEmpty()) {
            return Optional.empty();
        }
        PoolStats c = cached;
        if (c != null && System.nanoTime() - cachedAt < STATS_TTL_NANOS) {
            return Optional.of(c);
        }
        synchronized (this) {
            if (cached != null && System.nanoTime() - cachedAt < STATS_TTL_NANOS) {
                return Optional.of(cached);
            }
            try {
                cached = p.get().stats(false);
                cachedAt = System.nanoTime();
                return Optional.of(cached);
            } catch (IOException | RuntimeException e) {
                LOG.warn("pool statistics unavailable for metrics: {}", e.toString());
                return Optional.ofNullable(cached);
            }
        }
    }

    /** The pool's statistics with every volume's figures, at most 30 seconds old. */
    private Optional<PoolStats> withVolumes() {
        Optional<DedupPool> p = openPool();
        if (p.isEmpty()) {
            return Optional.empty();
        }
        PoolStats c = cachedVolumes;
        if (c != null && System.nanoTime() - cachedVolumesAt < VOLUME_TTL_NANOS) {
            return Optional.of(c);
        }
        synchronized (this) {
            if (cachedVolumes != null && System.nanoTime() - cachedVolumesAt < VOLUME_TTL_NANOS) {
                return Optional.of(cachedVolumes);
            }
            try {
                cachedVolumes = p.get().stats(true);
                cachedVolumesAt = System.nanoTime();
                return Optional.of(cachedVolumes);
            } catch (IOException | RuntimeException e) {
                LOG.warn("volume statistics unavailable for metrics: {}", e.toString());
                return Optional.ofNullable(cachedVolumes);
            }
        }
    }

    private Optional<DedupPool> openPool() {
        OrionServer s = server;
        return s == null ? Optional.empty() : s.volumes().openPool();
    }

    /**
     * The Prometheus text exposition. First drops the series of LUNs and volumes that no longer
     * exist (a deleted LUN's counters and latency histogram, a destroyed volume's gauges), then
     * adds the gauges of new volumes.
     */
    String scrape() {
        OrionServer s = server;
        if (s != null) {
            Set<String> live = new HashSet<>();
            for (LiveTarget t : s.liveTargets()) {
                t.definition().luns().forEach(l -> live.add(t.definition().iqn() + "\n" + l.id()));
            }
            for (Map.Entry<MeterKey, LunMeters> e : lunMeters.entrySet()) {
                if (!live.contains(e.getKey().target() + "\n" + e.getKey().lun())) {
                    removeLun(e.getKey());
                }
            }
        }
        Optional<DedupPool> open = openPool();
        Set<String> volumes = new HashSet<>();
        open.ifPresent(p -> p.volumes().forEach(v -> volumes.add(v.name())));
        for (String name : List.copyOf(volumeGauges.keySet())) {
            if (!volumes.contains(name)) {
                List<Meter> gone = volumeGauges.remove(name);
                if (gone != null) {
                    gone.forEach(registry::remove);
                }
            }
        }
        withVolumes().ifPresent(p -> {
            for (VolumeStats v : p.volumes()) {
                if (volumes.contains(v.name()) && !volumeGauges.containsKey(v.name())) {
                    List<Meter> m = new ArrayList<>();
                    m.add(volumeGauge(v.name(), "orion.volume.capacity.bytes", "Size of the volume in bytes",
                            VolumeStats::capacityBytes));
                    m.add(volumeGauge(v.name(), "orion.volume.logical.bytes", "Logical bytes the volume maps",
                            VolumeStats::logicalBytes));
                    m.add(volumeGauge(v.name(), "orion.volume.unique.chunks", "Distinct chunks the volume references",
                            VolumeStats::uniqueChunks));
                    m.add(volumeGauge(v.name(), "orion.volume.unique.bytes", "Original bytes of those chunks",
                            VolumeStats::uniqueBytes));
                    m.add(volumeGauge(v.name(), "orion.volume.stored.bytes",
                            "Bytes those chunks occupy after compression (shared chunks counted once per volume)",
                            VolumeStats::storedBytes));
                    m.add(volumeGauge(v.name(), "orion.volume.saving.ratio",
                            "Share of the volume's logical bytes saved by dedup and compression, 0..1",
                            x -> savingRatio(x.storedBytes(), x.logicalBytes())));
                    volumeGauges.put(v.name(), m);
                }
            }
        });
        return registry.scrape();
    }

    /** Removes the meters of every direction of one LUN from the registry. */
    private void removeLun(MeterKey key) {
        LunMeters m = lunMeters.remove(key);
        if (m != null) {
            registry.remove(m.bytes());
            registry.remove(m.commands());
            registry.remove(m.errors());
            registry.remove(m.latency());
        }
    }

    private Meter volumeGauge(String volume, String name, String help, ToDoubleFunction<VolumeStats> f) {
        return Gauge.builder(name, this, m -> m.withVolumes().flatMap(p -> p.volumes().stream()
                        .filter(v -> v.name().equals(volume)).findFirst()).map(f::applyAsDouble).orElse(Double.NaN))
                .description(help).tags("volume", volume).register(registry);
    }

    // ---- the transport's hook ----------------------------------------------------------------

    @Override
    public void loginSucceeded(String initiatorName, String targetName, boolean discovery) {
        (discovery ? loginsOkDiscovery : loginsOk).increment();
    }

    @Override
    public void loginFailed(String initiatorName, String targetName, int status) {
        loginsFailed.increment();
    }

    @Override
    public void bytesIn(String targetName, long lun, long bytes) {
        LunMeters m = meters(targetName, lun, Direction.WRITE);
        m.bytes().increment(bytes);
        m.recentBytes().add(second(), bytes);
    }

    @Override
    public void bytesOut(String targetName, long lun, long bytes) {
        LunMeters m = meters(targetName, lun, Direction.READ);
        m.bytes().increment(bytes);
        m.recentBytes().add(second(), bytes);
    }

    /** Seconds since this registry started (the recent-rate clock). */
    private long second() {
        return (clock.getAsLong() - startNanos) / 1_000_000_000L;
    }

    @Override
    public void commandCompleted(String targetName, long lun, int opcode, int status, long nanos) {
        LunMeters m = meters(targetName, lun, Direction.of(opcode));
        m.commands().increment();
        m.latency().record(nanos, TimeUnit.NANOSECONDS);
        m.maxNanos().accumulate(nanos);
        m.recentCommands().add(second(), 1);
        if (status != 0) {
            m.errors().increment();
        }
    }

    LunMeters meters(String target, long lun, Direction d) {
        String t = target == null ? "" : target;
        LunMeters known = lunMeters.get(new MeterKey(t, lun, d));
        if (known != null) {
            return known;
        }
        return lunMeters.computeIfAbsent(new MeterKey(t, lun, d), k -> {
            Tags tags = Tags.of("target", t, "lun", Long.toString(lun), "direction", d.tag());
            return new LunMeters(t, lun, d,
                    Counter.builder("orion.scsi.bytes").description("Payload bytes per LUN and direction")
                            .baseUnit("bytes").tags(tags).register(registry),
                    Counter.builder("orion.scsi.commands").description("SCSI commands completed (IOPS = rate)")
                            .tags(tags).register(registry),
                    Counter.builder("orion.scsi.command.errors").description("SCSI commands answered with a status other than GOOD")
                            .tags(tags).register(registry),
                    Timer.builder("orion.scsi.latency").description("Command latency, arrival to response")
                            .tags(tags).serviceLevelObjectives(LATENCY_BUCKETS).register(registry),
                    new java.util.concurrent.atomic.LongAccumulator(Math::max, 0), new RecentRate(), new RecentRate());
        });
    }

    /**
     * Figures for {@code dedup-performance-stats}: totals and, per LUN and direction, commands,
     * bytes, errors; rates both averaged over {@code uptimeSeconds} ({@code average_*}) and over
     * the last {@link RecentRate#WINDOW_SECONDS} seconds ({@code recent_*}; the window is shorter
     * right after start: {@code recent_window_seconds}); latency mean, p50, p99 and max over the
     * lifetime. The percentiles come from one snapshot of the latency histogram, interpolated in
     * their bucket and never above the largest latency seen, so p50 <= p99 <= max.
     */
    Map<String, Object> performance(double uptimeSeconds) {
        Map<String, Object> out = new LinkedHashMap<>();
        long now = second();
        double window = Math.min(RecentRate.WINDOW_SECONDS, Math.max(1.0, (clock.getAsLong() - startNanos) / 1e9));
        long totalCommands = 0;
        double totalBytes = 0;
        long recentCommands = 0;
        long recentBytes = 0;
        Map<String, Object> perLun = new java.util.TreeMap<>();
        for (LunMeters m : lunMeters.values()) {
            HistogramSnapshot snap = m.latency().takeSnapshot();
            long cmds = snap.count();
            long bytes = (long) m.bytes().count();
            long rc = m.recentCommands().sum(now);
            long rb = m.recentBytes().sum(now);
            totalCommands += cmds;
            totalBytes += bytes;
            recentCommands += rc;
            recentBytes += rb;
            if (cmds == 0) {
                continue;
            }
            String p = "lun." + m.target() + "/" + m.lun() + "." + m.direction().tag() + "_";
            double max = m.maxNanos().get() / 1000.0;
            double p50 = Math.min(percentile(snap, 0.50), max);
            double p99 = Math.min(percentile(snap, 0.99), max);
            perLun.put(p + "commands", cmds);
            perLun.put(p + "bytes", bytes);
            perLun.put(p + "errors", (long) m.errors().count());
            perLun.put(p + "average_iops", uptimeSeconds > 0 ? cmds / uptimeSeconds : 0.0);
            perLun.put(p + "average_mb_per_s", uptimeSeconds > 0 ? bytes / 1e6 / uptimeSeconds : 0.0);
            perLun.put(p + "recent_iops", rc / window);
            perLun.put(p + "recent_mb_per_s", rb / 1e6 / window);
            perLun.put(p + "latency_mean_micros", snap.mean(TimeUnit.MICROSECONDS));
            perLun.put(p + "latency_p50_micros", p50);
            perLun.put(p + "latency_p99_micros", Math.max(p50, p99));
            perLun.put(p + "latency_max_micros", max);
        }
        out.put("uptime_seconds", (long) uptimeSeconds);
        out.put("commands", totalCommands);
        out.put("transferred_bytes", (long) totalBytes);
        out.put("average_iops", uptimeSeconds > 0 ? totalCommands / uptimeSeconds : 0.0);
        out.put("average_mb_per_s", uptimeSeconds > 0 ? totalBytes / 1e6 / uptimeSeconds : 0.0);
        out.put("recent_window_seconds", window);
        out.put("recent_iops", recentCommands / window);
        out.put("recent_mb_per_s", recentBytes / 1e6 / window);
        out.put("logins_succeeded", (long) (loginsOk.count() + loginsOkDiscovery.count()));
        out.put("logins_failed", (long) loginsFailed.count());
        out.putAll(perLun);
        return out;
    }

    /**
     * Quantile {@code q} of a histogram snapshot in microseconds, interpolated linearly inside the
     * bucket that holds it (0 without samples; beyond the last bucket: the snapshot's maximum).
     * Callers cap it at the largest latency seen.
     */
    static double percentile(HistogramSnapshot snap, double q) {
        long n = snap.count();
        if (n == 0) {
            return 0;
        }
        double rank = q * n;
        double lower = 0;
        double below = 0;
        for (CountAtBucket b : snap.histogramCounts()) {
            double upper = b.bucket(TimeUnit.MICROSECONDS);
            if (b.count() >= rank) {
                double inBucket = b.count() - below;
                double f = inBucket <= 0 ? 1 : (rank - below) / inBucket;
                return lower + Math.max(0, Math.min(1, f)) * (upper - lower);
            }
            lower = upper;
            below = b.count();
        }
        return snap.max(TimeUnit.MICROSECONDS);
    }
}
