package io.orion.dedup.estimate;

import java.util.List;

/**
 * The one-line advice: the block size whose saving is largest per byte of metadata it costs, or
 * "dedup will not pay" when no block size dedups the non-zero data by at least {@link #PAYS}.
 */
record Recommendation(Integer blockSize, String text) {
    /** Dedup ratio of the non-zero data below which dedup is not worth its metadata. */
    static final double PAYS = 1.10;

    static Recommendation of(List<SizeEstimate> sizes) {
        SizeEstimate bestDedup = null;
        SizeEstimate best = null;
        SizeEstimate most = null;
        for (SizeEstimate s : sizes) {
            if (most == null || s.savedBytes() > most.savedBytes()) {
                most = s;
            }
            if (bestDedup == null || s.dataDedupRatio() > bestDedup.dataDedupRatio()) {
                bestDedup = s;
            }
            if (best == null || s.savingPerMetadataByte() > best.savingPerMetadataByte()) {
                best = s;
            }
        }
        if (bestDedup == null || bestDedup.logicalBlocks() == bestDedup.zeroBlocks()) {
            return new Recommendation(null, "nothing to dedup: the source is empty or holds only zeros");
        }
        if (bestDedup.dataDedupRatio() < PAYS) {
            SizeEstimate largest = sizes.get(sizes.size() - 1);
            return new Recommendation(null, String.format(
                    "dedup will not pay: the non-zero data dedups %.2fx at best (%s blocks); compression alone would save %.1f %%",
                    bestDedup.dataDedupRatio(), Units.blockSize(bestDedup.blockSize()), compressionOnlySaving(largest)));
        }
        String text = String.format(
                "use %s blocks: %.1f %% saved (dedup %.2fx, compression %.2fx) for %s of metadata, %.0f bytes saved per metadata byte",
                Units.blockSize(best.blockSize()), best.savingPercent(), best.dedupRatio(), best.compressionRatio(),
                Units.bytes(best.metadataDiskBytes()), best.savingPerMetadataByte());
        if (most != best && most.savedBytes() > best.savedBytes()) {
            text += String.format("; %s blocks save the most (%.1f %%, %s more) for %.1fx the metadata",
                    Units.blockSize(most.blockSize()), most.savingPercent(), Units.bytes(most.savedBytes() - best.savedBytes()),
                    (double) most.metadataDiskBytes() / Math.max(1, best.metadataDiskBytes()));
        }
        return new Recommendation(best.blockSize(), text);
    }

    /** Percent saved by compressing the non-zero blocks without dedup (approximated by this size's unique data). */
    private static double compressionOnlySaving(SizeEstimate s) {
        return s.uniqueBytes() == 0 ? 0 : 100.0 * (1.0 - (double) s.storedBytes() / s.uniqueBytes());
    }
}
