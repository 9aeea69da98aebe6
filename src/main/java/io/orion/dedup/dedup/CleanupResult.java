package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Outcome of one garbage-collection run.
 *
 * @param containersCompacted containers whose live chunks were copied forward and whose slot was released
 * @param chunksMoved live chunks copied
 * @param bytesMoved record bytes copied
 * @param bytesReclaimed dead record bytes released
 * @param chunksReclaimed dead records released
 * @param cancelled the run was cancelled before it had compacted every container it picked
 */
public record CleanupResult(@JsonProperty("containers_compacted") int containersCompacted,
                            @JsonProperty("chunks_moved") long chunksMoved,
                            @JsonProperty("bytes_moved") long bytesMoved,
                            @JsonProperty("chunks_reclaimed") long chunksReclaimed,
                            @JsonProperty("bytes_reclaimed") long bytesReclaimed,
                            @JsonProperty("cancelled") boolean cancelled) {

    /** A run that was not cancelled. */
    public CleanupResult(int containersCompacted, long chunksMoved, long bytesMoved, long chunksReclaimed,
                         long bytesReclaimed) {
        this(containersCompacted, chunksMoved, bytesMoved, chunksReclaimed, bytesReclaimed, false);
    }
}
