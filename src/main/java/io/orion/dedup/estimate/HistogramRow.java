package io.orion.dedup.estimate;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One row of the refcount histogram ({@code zdb -DD} style): the chunks whose reference count lies
 * in {@code [min_refcount, max_refcount]}, and the blocks that reference them. Sizes in bytes;
 * "stored" is record bytes (60-byte header + payload).
 */
public record HistogramRow(@JsonProperty("min_refcount") long minRefcount,
                           @JsonProperty("max_refcount") long maxRefcount,
                           @JsonProperty("chunks") long chunks,
                           @JsonProperty("chunk_bytes") long chunkBytes,
                           @JsonProperty("chunk_stored_bytes") long chunkStoredBytes,
                           @JsonProperty("references") long references,
                           @JsonProperty("referenced_bytes") long referencedBytes,
                           @JsonProperty("referenced_stored_bytes") long referencedStoredBytes) {

    /** "1", "2", "3-4", "5-8", ... */
    public String label() {
        return minRefcount == maxRefcount ? Long.toString(minRefcount) : minRefcount + "-" + maxRefcount;
    }
}
