package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.config.ByteSize;
import io.orion.dedup.config.DedupSettings;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.estimate.EstimateReport;
import io.orion.dedup.estimate.EstimateSettings;
import io.orion.dedup.estimate.Estimator;
import io.orion.dedup.estimate.FileImageSource;
import io.orion.dedup.estimate.HistogramRow;
import io.orion.dedup.estimate.ImageSource;
import io.orion.dedup.estimate.IscsiImageSource;
import io.orion.dedup.estimate.Progress;
import io.orion.dedup.estimate.SizeEstimate;
import io.orion.dedup.initiator.IscsiReader;
import io.orion.dedup.initiator.IscsiUrl;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code orion-dedup estimate SOURCE}: reads an image file, a block device or an iSCSI LUN (never
 * writing to it) and prints, per dedup block size, what a pool would store (docs/estimate.md).
 * Needs no server.
 */
@Command(name = "estimate", sortOptions = false, description = {
    "Estimate what Orion would save on an image file, a block device or another target's LUN "
        + "(iscsi://HOST[:PORT]/IQN/LUN), per dedup block size: dedup and compression ratios, saving, "
        + "metadata cost and a refcount histogram (like zdb -S), and the block size to use.",
    "Reads only; needs no server. Details: docs/estimate.md."})
final class EstimateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SOURCE",
            description = "Image file, block device, or iscsi://HOST[:PORT]/IQN/LUN.")
    String source;

    @Option(names = "--block-sizes", paramLabel = "LIST", split = ",", defaultValue = "4K,8K,16K,32K,64K",
            description = "Dedup block sizes to try, powers of two from 4K to 64K (default: ${DEFAULT-VALUE}).")
    String[] blockSizes;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Take compression_enabled, compression_level, compression_threshold and reference_max_count "
                    + "from this config's [deduplication] (default: the built-in defaults, as in conf/dedup.toml).")
    Path config;

    @Option(names = "--compression-level", paramLabel = "N",
            description = "LZ4 level as compression_level: 1 fast, 2..12 HC (default: the config's).")
    Integer compressionLevel;

    @Option(names = "--compression-threshold", paramLabel = "X",
            description = "compression_threshold: keep a compressed chunk only if at most X of its size (default: the config's).")
    Double compressionThreshold;

    @Option(names = "--chap-user", paramLabel = "NAME", description = "CHAP user name for an iSCSI source.")
    String chapUser;

    @Option(names = "--chap-secret-file", paramLabel = "FILE",
            description = "File holding the CHAP secret (first line) for an iSCSI source.")
    Path chapSecretFile;

    @Option(names = "--initiator-name", paramLabel = "IQN", defaultValue = "iqn.2026-11.io.orion:estimate",
            description = "Initiator name for an iSCSI source (default: ${DEFAULT-VALUE}).")
    String initiatorName;

    @Option(names = "--memory", paramLabel = "SIZE",
            description = "Memory for the fingerprint tables of all block sizes together (default: a quarter of the heap). "
                    + "Past it, the figures are estimated from a sample.")
    String memory;

    @Option(names = "--progress", paramLabel = "MODE", defaultValue = "auto",
            description = "auto (a bar on a terminal, else lines), bar, lines or none; shown on stderr.")
    Progress.Mode progress;

    @Option(names = "--json", description = "Print JSON (for scripts) instead of tables.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        EstimateSettings settings = settings();
        ImageSource src = open();
        try (src) {
            PrintWriter err = spec.commandLine().getErr();
            Progress bar = new Progress(err, Progress.resolve(progress, System.console() != null), src.size());
            EstimateReport r;
            try {
                r = new Estimator(src, settings).run(bar, 200);
            } finally {
                bar.finish();
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(AdminJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(r));
            } else {
                print(out, r);
            }
            out.flush();
        }
        return 0;
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private EstimateSettings settings() throws Exception {
        int[] sizes = new int[blockSizes.length];
        for (int i = 0; i < blockSizes.length; i++) {
            long v;
            try {
                v = ByteSize.parse(blockSizes[i]);
            } catch (IllegalArgumentException e) {
                throw usage("--block-sizes: '" + blockSizes[i] + "' is " + e.getMessage());
            }
            if (!DedupSettings.validBlockSize(v)) {
                throw usage("--block-sizes: '" + blockSizes[i] + "' is not a dedup block size (a power of two from 4K to 64K)");
            }
            sizes[i] = (int) v;
        }
        DedupSettings dedup = config != null ? OrionConfig.load(config).deduplication() : DedupSettings.defaults();
        int level = compressionLevel != null ? compressionLevel : dedup.compressionLevel();
        if (level < 1 || level > DedupSettings.MAX_LEVEL) {
            throw usage("--compression-level: " + level + " is outside 1.." + DedupSettings.MAX_LEVEL);
        }
        double threshold = compressionThreshold != null ? compressionThreshold : dedup.compressionThreshold();
        if (!(threshold > 0 && threshold <= 1)) {
            throw usage("--compression-threshold: " + threshold + " must be > 0 and <= 1.0");
        }
        long mem;
        if (memory != null) {
            try {
                mem = ByteSize.parse(memory);
            } catch (IllegalArgumentException e) {
                throw usage("--memory: '" + memory + "' is " + e.getMessage());
            }
            if (mem < 1 << 20) {
                throw usage("--memory: '" + memory + "' is below 1 MiB");
            }
        } else {
            mem = Runtime.getRuntime().maxMemory() / 4;
        }
        int workers = Math.max(1, Runtime.getRuntime().availableProcessors());
        return new EstimateSettings(sizes, dedup.compressionEnabled(), level, threshold, dedup.referenceMaxCount(),
                mem, workers);
    }

    private ImageSource open() throws IOException {
        if (IscsiUrl.looksLike(source)) {
            IscsiUrl url;
            try {
                url = IscsiUrl.parse(source);
            } catch (IllegalArgumentException e) {
                throw usage("SOURCE: " + e.getMessage());
            }
            return IscsiImageSource.open(url, initiatorName, chap());
        }
        if (source.contains("://")) {
            throw usage("SOURCE: '" + source + "' is not a file, block device or iscsi:// URL");
        }
        if (chapUser != null || chapSecretFile != null) {
            throw usage("--chap-user/--chap-secret-file: only for an iscsi:// SOURCE");
        }
        try {
            return FileImageSource.open(Path.of(source));
        } catch (NoSuchFileException e) {
            throw usage("SOURCE: no such file or block device: " + source);
        }
    }

    private IscsiReader.Chap chap() {
        if (chapUser == null && chapSecretFile == null) {
            return null;
        }
        if (chapUser == null || chapSecretFile == null) {
            throw usage("--chap-user and --chap-secret-file go together");
        }
        String secret;
        try {
            secret = Files.readString(chapSecretFile, StandardCharsets.UTF_8).lines().findFirst().orElse("");
        } catch (IOException e) {
            throw usage("--chap-secret-file: cannot read " + chapSecretFile + ": " + e.getMessage());
        }
        if (secret.isEmpty()) {
            throw usage("--chap-secret-file: " + chapSecretFile + " is empty");
        }
        return new IscsiReader.Chap(chapUser, secret.getBytes(StandardCharsets.UTF_8));
    }

    // ---------------------------------------------------------------- text output

    static void print(PrintWriter out, EstimateReport r) {
        out.printf("Source: %s, %s (%d bytes), read in %.1f s (%.0f MB/s)%n", r.source(), bytes(r.sizeBytes()),
                r.sizeBytes(), r.seconds(), r.seconds() > 0 ? r.sizeBytes() / r.seconds() / 1e6 : 0);
        out.printf("Pool model: %s, compression_threshold %.2f, reference_max_count %d, record header 60 B%n",
                !r.compressionEnabled() ? "compression off"
                        : r.compressionLevel() <= 1 ? "LZ4 fast (level 1)" : "LZ4 HC level " + r.compressionLevel(),
                r.compressionThreshold(), r.referenceMaxCount());
        for (SizeEstimate s : r.blockSizes()) {
            out.println();
            out.printf("Block size %s%s%n", size(s.blockSize()), s.exact() ? ""
                    : String.format(" (sampled: 1 in %d distinct blocks counted, figures scaled)", s.sampling()));
            out.println("bucket              allocated                    referenced");
            out.println("______   ___________________________   ___________________________");
            out.println("refcnt   blocks      LSIZE      PSIZE   blocks      LSIZE      PSIZE");
            out.println("------   ------      -----      -----   ------      -----      -----");
            long[] tot = new long[6];
            for (HistogramRow h : s.histogram()) {
                out.printf("%6s %8s %10s %10s %8s %10s %10s%n", h.maxRefcount(), count(h.chunks()), bytes(h.chunkBytes()),
                        bytes(h.chunkStoredBytes()), count(h.references()), bytes(h.referencedBytes()),
                        bytes(h.referencedStoredBytes()));
                tot[0] += h.chunks();
                tot[1] += h.chunkBytes();
                tot[2] += h.chunkStoredBytes();
                tot[3] += h.references();
                tot[4] += h.referencedBytes();
                tot[5] += h.referencedStoredBytes();
            }
            out.printf("%6s %8s %10s %10s %8s %10s %10s%n", "Total", count(tot[0]), bytes(tot[1]), bytes(tot[2]),
                    count(tot[3]), bytes(tot[4]), bytes(tot[5]));
            double dedup = s.dataDedupRatio();
            out.printf("%ndedup = %.2f, compress = %.2f, copies = 1.00, dedup * compress / copies = %.2f%n",
                    dedup, s.compressionRatio(), dedup * s.compressionRatio());
            out.printf("logical %d blocks (%s), %d zero; unique %d chunks (%s), stored %s%n", s.logicalBlocks(),
                    bytes(s.logicalBytes()), s.zeroBlocks(), s.uniqueChunks(), bytes(s.uniqueBytes()), bytes(s.storedBytes()));
            out.printf("as stats shows it: DEDUP %.2fx  COMPRESS %.2fx  saving %.1f %%%n", s.dedupRatio(),
                    s.compressionRatio(), s.savingPercent());
            out.printf("metadata: LMDB %s on disk; fingerprint cache for every chunk %s of RAM%n",
                    bytes(s.metadataDiskBytes()), bytes(s.fingerprintCacheBytes()));
        }
        out.println();
        Table t = new Table("BLOCK", "LOGICAL", "ZERO", "UNIQUE", "STORED", "DEDUP", "COMPRESS", "SAVING", "METADATA",
                "FP-CACHE", "SAVED/META");
        for (SizeEstimate s : r.blockSizes()) {
            t.row(size(s.blockSize()), bytes(s.logicalBytes()), count(s.zeroBlocks()), count(s.uniqueChunks()),
                    bytes(s.storedBytes()), String.format("%.2fx", s.dedupRatio()),
                    String.format("%.2fx", s.compressionRatio()), String.format("%.1f%%", s.savingPercent()),
                    bytes(s.metadataDiskBytes()), bytes(s.fingerprintCacheBytes()),
                    String.format("%.0f", s.savingPerMetadataByte()));
        }
        t.print(out);
        out.println();
        out.println("Recommendation: " + r.recommendation());
    }

    private static String size(int bytes) {
        return bytes % 1024 == 0 ? bytes / 1024 + "K" : Integer.toString(bytes);
    }

    private static String bytes(long n) {
        double v = n;
        String[] u = {"", "K", "M", "G", "T", "P", "E"};
        int i = 0;
        while (Math.abs(v) >= 1024 && i < u.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? Long.toString(n) : String.format("%.2f%s", v, u[i]);
    }

    private static String count(long n) {
        return n < 100_000 ? Long.toString(n) : bytes(n);
    }
}
