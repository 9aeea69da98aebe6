package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * Outcome of a verification pass over every chunk: each record read back, CRC32C checked,
 * decompressed and re-fingerprinted.
 *
 * @param problems up to 100 human-readable descriptions of what failed
 */
public record ScrubResult(@JsonProperty("chunks_checked") long chunksChecked,
                          @JsonProperty("bytes_checked") long bytesChecked,
                          @JsonProperty("crc_errors") long crcErrors,
                          @JsonProperty("fingerprint_mismatches") long fingerprintMismatches,
                          @JsonProperty("problems") List<String> problems) {
    public boolean clean() {
        return crcErrors == 0 && fingerprintMismatches == 0;
    }
}
