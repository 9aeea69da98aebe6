package io.orion.dedup.dedup;

import java.util.List;

/**
 * What opening the pool found and repaired: bytes cut from container tails (records whose
 * metadata never committed, or torn writes), damaged containers, and the time recovery took.
 */
public record OpenReport(long tailBytesCut, List<String> damage, long recoveryMillis) {
}
