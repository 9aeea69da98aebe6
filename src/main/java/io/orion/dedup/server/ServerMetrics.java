package io.orion.dedup.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
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
final class ServerMetrics implements IscsiMetrics {

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

    /** Key of one LUN's meters in one direction (no string building on the I/O path). */
    private record MeterKey(String target, long lun, Direction direction) {
    }
    private final Counter loginsOk;
    private final Counter loginsOkDiscovery;
    private final Counter loginsFailed;
    private final Set<String> volumeGauges = ConcurrentHashMap.newKeySet();
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
        poolGauge("orion.dedup.logical.bytes", "Logical bytes mapped by all volumes", PoolStats::logicalBytes);
        poolGauge("orion.dedup.zero.blocks", "Dedup blocks written as zeros", PoolStats::zeroBlocks);
        poolGauge("orion.dedup.unique.chunks", "Chunks with at least one reference", PoolStats::uniqueChunks);
        poolGauge("orion.dedup.unique.bytes", "Original bytes of the unique chunks", PoolStats::uniqueBytes);
        poolGauge("orion.dedup.stored.bytes", "Bytes the unique chunks occupy after compression", PoolStats::storedBytes);
        poolGauge("orion.dedup.reclaimable.bytes", "Container bytes no live chunk uses", PoolStats::reclaimableBytes);
        poolGauge("orion.dedup.ratio", "Logical bytes / unique bytes", PoolStats::dedupRatio);
        poolGauge("orion.dedup.compression.ratio", "Unique bytes / stored bytes", PoolStats::compressionRatio);
        poolGauge("orion.dedup.saving.percent", "100 x (1 - stored / logical)", PoolStats::savingPercent);
        poolGauge("orion.dedup.metadata.bytes", "Size of the LMDB metadata file", PoolStats::metadataBytes);
        poolGauge("orion.dedup.containers", "Chunk containers", PoolStats::containers);
        poolGauge("orion.dedup.hash.throughput.megabytes.per.second", "Fingerprinting throughput while hashing",
                PoolStats::hashMegabytesPerSecond);
        poolGauge("orion.dedup.checksum.errors", "Chunk records that failed their CRC32C check", PoolStats::checksumErrors);
        FunctionCounter.builder("orion.dedup.hashed.bytes", this, m -> m.pool().map(p -> (double) p.hashedBytes()).orElse(0.0))
                .description("Bytes fingerprinted").register(registry);
        for (String cache : new String[] {"block", "fingerprint"}) {
            boolean block = cache.equals("block");
            poolGauge("orion.dedup.cache.hit.ratio", "Cache hit rate, 0..1", Tags.of("cache", cache),
                    p -> (block ? p.blockCache() : p.fingerprintCache()).hitRate());
            poolGauge("orion.dedup.cache.weight.bytes", "Bytes held by the cache", Tags.of("cache", cache),
                    p -> (block ? p.blockCache() : p.fingerprintCache()).weightBytes());
            FunctionCounter.builder("orion.dedup.cache.hits", this,
                    m -> m.pool().map(p -> (double) (block ? p.blockCache() : p.fingerprintCache()).hits()).orElse(0.0))
                    .tags("cache", cache).register(registry);
            FunctionCounter.builder("orion.dedup.cache.misses", this,
                    m -> m.pool().map(p -> (double) (block ? p.blockCache() : p.fingerprintCache()).misses()).orElse(0.0))
                    .tags("cache", cache).register(registry);
        }
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

    /** The Prometheus text exposition; refreshes the per-volume gauges first. */
    String scrape() {
        withVolumes().ifPresent(p -> {
            for (VolumeStats v : p.volumes()) {
                if (volumeGauges.add(v.name())) {
                    volumeGauge(v.name(), "orion.volume.logical.bytes", VolumeStats::logicalBytes);
                    volumeGauge(v.name(), "orion.volume.unique.chunks", VolumeStats::uniqueChunks);
                    volumeGauge(v.name(), "orion.volume.stored.bytes", VolumeStats::storedBytes);
                    volumeGauge(v.name(), "orion.volume.dedup.ratio", VolumeStats::dedupRatio);
                    volumeGauge(v.name(), "orion.volume.compression.ratio", VolumeStats::compressionRatio);
                    volumeGauge(v.name(), "orion.volume.saving.percent", VolumeStats::savingPercent);
                }
            }
        });
        return registry.scrape();
    }

    private void volumeGauge(String volume, String name, ToDoubleFunction<VolumeStats> f) {
        Gauge.builder(name, this, m -> m.withVolumes().flatMap(p -> p.volumes().stream()
                        .filter(v -> v.name().equals(volume)).findFirst()).map(f::applyAsDouble).orElse(Double.NaN))
                .tags("volume", volume).register(registry);
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
                            .tags(tags).publishPercentileHistogram()
                            .minimumExpectedValue(Duration.ofNanos(10_000)).maximumExpectedValue(Duration.ofSeconds(30))
                            .register(registry),
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
