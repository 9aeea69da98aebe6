package io.orion.dedup.dedup;

/** Derived ratios shared by pool and volume stats (definitions in docs/on-disk-format.md). */
final class SpaceFigures {
    private SpaceFigures() {
    }

    /** logical / unique; 1 when nothing unique is stored. */
    static double dedupRatio(long logical, long unique) {
        return unique == 0 ? 1.0 : (double) logical / unique;
    }

    /** unique / stored; 1 when nothing is stored. */
    static double compressionRatio(long unique, long stored) {
        return stored == 0 ? 1.0 : (double) unique / stored;
    }

    /** 100 x (1 - stored / logical); 0 when nothing is mapped. */
    static double savingPercent(long logical, long stored) {
        return logical == 0 ? 0.0 : 100.0 * (1.0 - (double) stored / logical);
    }
}
