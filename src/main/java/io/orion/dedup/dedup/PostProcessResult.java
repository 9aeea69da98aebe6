package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Outcome of a post-process pass ({@link PostProcessor}).
 *
 * @param blocksExamined staged blocks the pass looked at
 * @param blocksShared blocks now sharing a chunk that was already stored (their own chunk lost a reference)
 * @param chunksIndexed chunks entered into the fingerprint index (first of their content)
 * @param chunksFreed chunks whose last reference went (their space is reclaimed by cleanup)
 * @param storedBytesFreed stored bytes of the freed chunks
 * @param remaining blocks still staged when the pass ended (written during it behind its cursor, or
 *     left for the next pass after a concurrent change)
 * @param cancelled the pass was cancelled before it had looked at every staged block
 */
public record PostProcessResult(@JsonProperty("blocks_examined") long blocksExamined,
                                @JsonProperty("blocks_shared") long blocksShared,
                                @JsonProperty("chunks_indexed") long chunksIndexed,
                                @JsonProperty("chunks_freed") long chunksFreed,
                                @JsonProperty("stored_bytes_freed") long storedBytesFreed,
                                @JsonProperty("remaining") long remaining,
                                @JsonProperty("cancelled") boolean cancelled) {
}
