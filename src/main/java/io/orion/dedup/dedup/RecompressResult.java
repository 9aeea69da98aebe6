package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Outcome of one recompression pass ({@code dedup-compression-optimize}, see
 * {@link DedupPool#recompress(long, long)}).
 *
 * <p>Byte figures are record bytes (header plus payload) as the pool's {@code stored_bytes} counts
 * them: {@code bytesBefore - bytesAfter == bytesSaved} is exactly how much {@code stored_bytes}
 * dropped. The old records stay on the device as garbage ({@code reclaimableAddedBytes}) until
 * reference cleanup compacts their containers.
 *
 * @param compressionEnabled false when the pool's {@code compression_enabled} is off (the pass did nothing)
 * @param compressor the compressor the pass used ({@code lz4-fast}, {@code lz4-hc-N}) or {@code none}
 * @param chunksScanned live chunks looked at in the chunk index
 * @param chunksExamined candidates read, checked and tried: chunks stored raw, plus LZ4 chunks when
 *     the compressor is LZ4 HC (they may have been written with the fast compressor)
 * @param chunksRecompressed chunks now pointing at a smaller record ({@code rawChunksCompressed + lz4ChunksRecompressed})
 * @param rawChunksCompressed chunks stored raw that are now stored LZ4-compressed
 * @param lz4ChunksRecompressed LZ4 chunks whose LZ4 HC form is smaller than their old form
 * @param chunksLeftRaw raw chunks whose compressed form does not pay ({@code compression_threshold})
 * @param chunksKept LZ4 chunks whose HC form is not smaller
 * @param chunksFailedCheck candidates whose record failed its CRC32C or fingerprint check (left untouched,
 *     counted as checksum errors)
 * @param chunksChangedMeanwhile candidates freed or moved by foreground I/O while the pass ran (their
 *     new record is garbage)
 * @param bytesBefore record bytes of the recompressed chunks before the pass
 * @param bytesAfter their record bytes after
 * @param bytesSaved {@code bytesBefore - bytesAfter}: the drop of the pool's stored bytes
 * @param reclaimableAddedBytes record bytes that became garbage (old records, and new records of
 *     chunks that changed meanwhile)
 * @param limitReached the pass stopped at its chunk or byte bound before the end of the index
 * @param nextChunkId where a following bounded pass continues (the first chunk id not examined), or
 *     0 when this pass reached the end of the index
 * @param elapsedMillis wall-clock duration
 */
public record RecompressResult(@JsonProperty("compression_enabled") boolean compressionEnabled,
                               @JsonProperty("compressor") String compressor,
                               @JsonProperty("chunks_scanned") long chunksScanned,
                               @JsonProperty("chunks_examined") long chunksExamined,
                               @JsonProperty("chunks_recompressed") long chunksRecompressed,
                               @JsonProperty("raw_chunks_compressed") long rawChunksCompressed,
                               @JsonProperty("lz4_chunks_recompressed") long lz4ChunksRecompressed,
                               @JsonProperty("chunks_left_raw") long chunksLeftRaw,
                               @JsonProperty("chunks_kept") long chunksKept,
                               @JsonProperty("chunks_failed_check") long chunksFailedCheck,
                               @JsonProperty("chunks_changed_meanwhile") long chunksChangedMeanwhile,
                               @JsonProperty("bytes_before") long bytesBefore,
                               @JsonProperty("bytes_after") long bytesAfter,
                               @JsonProperty("bytes_saved") long bytesSaved,
                               @JsonProperty("reclaimable_added_bytes") long reclaimableAddedBytes,
                               @JsonProperty("limit_reached") boolean limitReached,
                               @JsonProperty("next_chunk_id") long nextChunkId,
                               @JsonProperty("elapsed_ms") long elapsedMillis) {

    /** The result of a pass on a pool whose compression is disabled: nothing examined, nothing changed. */
    static RecompressResult disabled(long elapsedMillis) {
        return new RecompressResult(false, "none", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false, 0, elapsedMillis);
    }
}
